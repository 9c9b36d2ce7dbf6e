package aws_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/aws"
	"github.com/alchemy-go/alchemy/internal/cli"
	"github.com/alchemy-go/alchemy/internal/testpeers"
	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

type tableConfig struct {
	main        bool
	sortKey     string
	billing     string
	read, write int
	tags        map[string]string
	namedName   string
}

// tableStack is a table with a generated name ("Table", with a TTL
// attribute) and one with an explicit name and a numeric key ("Named").
func tableStack(c *tableConfig) *cli.StackProgram {
	return alchemy.Program("ddbtest", func(s *alchemy.Stack) {
		if c.main {
			props := aws.DynamoDBTableProps{
				PartitionKey: alchemy.String("pk"),
				TTLAttribute: alchemy.String("expiresAt"),
				Tags:         alchemy.V(c.tags),
			}
			if c.sortKey != "" {
				props.SortKey, props.SortKeyType = alchemy.String(c.sortKey), alchemy.String("N")
			}
			if c.billing != "" {
				props.BillingMode = alchemy.String(c.billing)
				props.ReadCapacity, props.WriteCapacity = alchemy.Int(c.read), alchemy.Int(c.write)
			}
			t := aws.NewDynamoDBTable(s, "Table", props)
			s.Output("tableName", t.TableName)
			s.Output("tableArn", t.TableArn)
		}
		if c.namedName != "" {
			aws.NewDynamoDBTable(s, "Named", aws.DynamoDBTableProps{TableName: alchemy.String(c.namedName),
				PartitionKey: alchemy.String("id"), PartitionKeyType: alchemy.String("N")})
		}
	})
}

func tables(t *testing.T, c *dynamodb.Client) []string {
	t.Helper()
	out, err := c.ListTables(context.Background(), &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatalf("ListTables: %v", err)
	}
	slices.Sort(out.TableNames)
	return out.TableNames
}

func tableByPrefix(t *testing.T, names []string, prefix string) string {
	t.Helper()
	var found string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			if found != "" {
				t.Fatalf("two tables named %s*: %v", prefix, names)
			}
			found = n
		}
	}
	if found == "" {
		t.Fatalf("no table named %s*: %v", prefix, names)
	}
	return found
}

// describe returns the table and its tags.
func describe(t *testing.T, c *dynamodb.Client, name string) (*types.TableDescription, map[string]string) {
	t.Helper()
	ctx := context.Background()
	d, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
	if err != nil {
		t.Fatalf("DescribeTable %s: %v", name, err)
	}
	out, err := c.ListTagsOfResource(ctx, &dynamodb.ListTagsOfResourceInput{ResourceArn: d.Table.TableArn})
	if err != nil {
		t.Fatalf("ListTagsOfResource %s: %v", name, err)
	}
	tags := map[string]string{}
	for _, tg := range out.Tags {
		tags[sdkaws.ToString(tg.Key)] = sdkaws.ToString(tg.Value)
	}
	return d.Table, tags
}

// keys renders a key schema as "pk:HASH:S sk:RANGE:N".
func keys(d *types.TableDescription) string {
	typ := map[string]types.ScalarAttributeType{}
	for _, a := range d.AttributeDefinitions {
		typ[sdkaws.ToString(a.AttributeName)] = a.AttributeType
	}
	var parts []string
	for _, k := range d.KeySchema {
		n := sdkaws.ToString(k.AttributeName)
		parts = append(parts, n+":"+string(k.KeyType)+":"+string(typ[n]))
	}
	return strings.Join(parts, " ")
}

// billingMode is the table's billing mode. Like AWS, dynalite leaves out
// the summary of a table created PROVISIONED.
func billingMode(d *types.TableDescription) types.BillingMode {
	if d.BillingModeSummary == nil {
		return types.BillingModeProvisioned
	}
	return d.BillingModeSummary.BillingMode
}

func checkTags(t *testing.T, what string, tags map[string]string, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if tags[k] != v {
			t.Errorf("%s: tag %s = %q, want %q (tags %v)", what, k, tags[k], v, tags)
		}
	}
}

func startDynalite(t *testing.T) *dynamodb.Client {
	t.Helper()
	started := time.Now()
	peer := testpeers.Dynalite(t)
	t.Logf("dynalite ready in %v", time.Since(started).Round(time.Millisecond))
	awsTestEnv(t, map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": peer.URL})
	// dynalite does not implement UpdateTimeToLive.
	t.Setenv(aws.EnvDynamoDBTolerateUnknownOperation, "1")
	return dynamodb.NewFromConfig(sdkConfig(t))
}

// TestDynamoDBTableLifecycle drives tables through the engine against
// dynalite, which drops the tags given to CreateTable: the ownership tags
// asserted here were set by TagResource.
func TestDynamoDBTableLifecycle(t *testing.T) {
	c := startDynalite(t)
	cfg := &tableConfig{main: true, tags: map[string]string{"team": "a"}, namedName: "ddbtest-named"}
	own := map[string]string{"alchemy::stack": "ddbtest", "alchemy::stage": "dev_tester", "alchemy::id": "Table"}

	// Create.
	step := time.Now()
	r := mustRun(t, tableStack(cfg), "deploy", "--yes")
	t.Logf("create: %v", time.Since(step).Round(time.Millisecond))
	if !strings.Contains(r.out+r.errOut, "does not implement UpdateTimeToLive") {
		t.Errorf("no note about the skipped time to live:\n%s\n%s", r.out, r.errOut)
	}
	names := tables(t, c)
	if len(names) != 2 || !slices.Contains(names, "ddbtest-named") {
		t.Fatalf("tables after create: %v", names)
	}
	name := tableByPrefix(t, names, "ddbtest-Table-dev-tester-")
	d, tags := describe(t, c, name)
	if !strings.Contains(r.out, "tableName: "+name) || !strings.Contains(r.out, "tableArn: "+sdkaws.ToString(d.TableArn)) {
		t.Errorf("outputs lack the table's name %s and ARN %s:\n%s", name, sdkaws.ToString(d.TableArn), r.out)
	}
	if k := keys(d); k != "pk:HASH:S" {
		t.Errorf("key schema %q, want pk:HASH:S", k)
	}
	if m := billingMode(d); m != types.BillingModePayPerRequest {
		t.Errorf("billing mode %q, want PAY_PER_REQUEST", m)
	}
	checkTags(t, "Table", tags, map[string]string{"team": "a", "alchemy::stack": "ddbtest", "alchemy::stage": "dev_tester", "alchemy::id": "Table"})
	if len(tags) != 4 {
		t.Errorf("Table tags %v, want 4", tags)
	}
	nd, ntags := describe(t, c, "ddbtest-named")
	if k := keys(nd); k != "id:HASH:N" {
		t.Errorf("Named key schema %q, want id:HASH:N", k)
	}
	checkTags(t, "Named", ntags, map[string]string{"alchemy::id": "Named", "alchemy::stack": "ddbtest"})

	// No-op re-deploy: no provider call, so no UpdateTable either.
	created := d.CreationDateTime
	r = mustRun(t, tableStack(cfg), "deploy", "--yes")
	if !strings.Contains(r.out, "Plan: no changes") {
		t.Errorf("re-deploy was not a no-op:\n%s", r.out)
	}
	if d, _ = describe(t, c, name); billingMode(d) != types.BillingModePayPerRequest || !d.CreationDateTime.Equal(*created) {
		t.Errorf("re-deploy changed the table: %+v", d)
	}

	// Update tags and billing in place; the removed tag is gone.
	cfg.tags, cfg.billing, cfg.read, cfg.write = map[string]string{"owner": "b"}, "PROVISIONED", 5, 7
	step = time.Now()
	r = mustRun(t, tableStack(cfg), "deploy", "--yes")
	t.Logf("update: %v", time.Since(step).Round(time.Millisecond))
	if !strings.Contains(r.out, "Plan: 1 to update") {
		t.Errorf("tags/billing change is not an update:\n%s", r.out)
	}
	d, tags = describe(t, c, name)
	if m := billingMode(d); m != types.BillingModeProvisioned {
		t.Errorf("billing mode after update %q, want PROVISIONED", m)
	}
	if pt := d.ProvisionedThroughput; pt == nil || sdkaws.ToInt64(pt.ReadCapacityUnits) != 5 || sdkaws.ToInt64(pt.WriteCapacityUnits) != 7 {
		t.Errorf("provisioned throughput after update: %+v", pt)
	}
	if d.TableStatus != types.TableStatusActive {
		t.Errorf("status after update %s, want ACTIVE", d.TableStatus)
	}
	checkTags(t, "updated Table", tags, map[string]string{"owner": "b", "team": ""})
	checkTags(t, "updated Table", tags, own)

	// Replace (sort key added): new table created, old one deleted.
	cfg.sortKey = "sk"
	step = time.Now()
	r = mustRun(t, tableStack(cfg), "deploy", "--yes")
	t.Logf("replace: %v", time.Since(step).Round(time.Millisecond))
	if !strings.Contains(r.out, "Plan: 1 to replace") {
		t.Errorf("sort key change is not a replace:\n%s", r.out)
	}
	names = tables(t, c)
	if slices.Contains(names, name) || len(names) != 2 {
		t.Fatalf("tables after replace: %v (old %s)", names, name)
	}
	newName := tableByPrefix(t, names, "ddbtest-Table-dev-tester-")
	d, tags = describe(t, c, newName)
	if k := keys(d); k != "pk:HASH:S sk:RANGE:N" {
		t.Errorf("replacement key schema %q", k)
	}
	if pt := d.ProvisionedThroughput; billingMode(d) != types.BillingModeProvisioned || sdkaws.ToInt64(pt.ReadCapacityUnits) != 5 {
		t.Errorf("replacement billing %q %+v", billingMode(d), pt)
	}
	checkTags(t, "replacement", tags, own)
	checkTags(t, "replacement", tags, map[string]string{"owner": "b"})
	if !strings.Contains(r.out, "tableName: "+newName) {
		t.Errorf("output tableName is not the replacement's %s:\n%s", newName, r.out)
	}

	// Removal from the stack deletes it.
	cfg.main = false
	mustRun(t, tableStack(cfg), "deploy", "--yes")
	if names = tables(t, c); !slices.Equal(names, []string{"ddbtest-named"}) {
		t.Fatalf("tables after removal: %v", names)
	}

	// Destroy with the table already deleted behind alchemy's back succeeds.
	if _, err := c.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: sdkaws.String("ddbtest-named")}); err != nil {
		t.Fatal(err)
	}
	mustRun(t, tableStack(cfg), "destroy", "--yes")
	if names = tables(t, c); len(names) != 0 {
		t.Fatalf("tables after destroy: %v", names)
	}
	if _, err := os.Stat(filepath.Join(".alchemy", "state", "ddbtest", "dev_tester")); !os.IsNotExist(err) {
		t.Fatalf("destroy left state: %v", err)
	}
}

// createDirect makes a table behind alchemy's back, tagged with tags.
func createDirect(t *testing.T, c *dynamodb.Client, name, keyType string, tags map[string]string) {
	t.Helper()
	ctx := context.Background()
	out, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: &name, BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: sdkaws.String("id"), AttributeType: types.ScalarAttributeType(keyType)}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: sdkaws.String("id"), KeyType: types.KeyTypeHash}}})
	if err != nil {
		t.Fatalf("CreateTable %s: %v", name, err)
	}
	if err := dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 20*time.Millisecond, time.Second
	}).Wait(ctx, &dynamodb.DescribeTableInput{TableName: &name}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if len(tags) > 0 {
		var tt []types.Tag
		for k, v := range tags {
			tt = append(tt, types.Tag{Key: sdkaws.String(k), Value: sdkaws.String(v)})
		}
		if _, err := c.TagResource(ctx, &dynamodb.TagResourceInput{ResourceArn: out.TableDescription.TableArn, Tags: tt}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDynamoDBTableAdoption: an existing table of the same name is adopted
// only when it carries the resource's ownership tags and has its keys.
func TestDynamoDBTableAdoption(t *testing.T) {
	c := startDynalite(t)
	owned := map[string]string{"alchemy::stack": "ddbtest", "alchemy::stage": "dev_tester", "alchemy::id": "Named", "stale": "x"}

	createDirect(t, c, "ddbtest-foreign", "N", nil)
	r := run(t, tableStack(&tableConfig{namedName: "ddbtest-foreign"}), "deploy", "--yes")
	if r.code == 0 || !strings.Contains(r.out+r.errOut, "not owned by ddbtest/dev_tester/Named") {
		t.Errorf("deploy onto a foreign table: exit %d\n%s\n%s", r.code, r.out, r.errOut)
	}

	createDirect(t, c, "ddbtest-wrongkeys", "S", owned)
	r = run(t, tableStack(&tableConfig{namedName: "ddbtest-wrongkeys"}), "deploy", "--yes")
	if r.code == 0 || !strings.Contains(r.out+r.errOut, "another key schema") {
		t.Errorf("deploy onto an owned table with other keys: exit %d\n%s\n%s", r.code, r.out, r.errOut)
	}

	createDirect(t, c, "ddbtest-owned", "N", owned)
	mustRun(t, tableStack(&tableConfig{namedName: "ddbtest-owned"}), "deploy", "--yes")
	_, tags := describe(t, c, "ddbtest-owned")
	checkTags(t, "adopted", tags, map[string]string{"alchemy::id": "Named", "stale": ""})

	mustRun(t, tableStack(&tableConfig{namedName: "ddbtest-owned"}), "destroy", "--yes")
	// The failed creates left generations in state; cleaning them up must
	// delete neither the foreign table nor the owned one with other keys.
	if names := tables(t, c); !slices.Equal(names, []string{"ddbtest-foreign", "ddbtest-wrongkeys"}) {
		t.Fatalf("tables after destroy: %v", names)
	}
}

// TestDynamoDBTableTTLUnknownOperation: without the knob, the emulator's
// UnknownOperationException to UpdateTimeToLive fails the deploy.
func TestDynamoDBTableTTLUnknownOperation(t *testing.T) {
	startDynalite(t)
	t.Setenv(aws.EnvDynamoDBTolerateUnknownOperation, "")
	r := run(t, tableStack(&tableConfig{main: true}), "deploy", "--yes")
	if r.code == 0 || !strings.Contains(r.out+r.errOut, "UnknownOperationException") {
		t.Errorf("deploy with TTL on dynalite without %s: exit %d\n%s\n%s", aws.EnvDynamoDBTolerateUnknownOperation, r.code, r.out, r.errOut)
	}
}
