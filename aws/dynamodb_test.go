package aws_test

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/aws"
	"github.com/alchemy-go/alchemy/internal/cli"
	"github.com/alchemy-go/alchemy/internal/stacktest"
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
	// namedKey is Named's partition key (numeric); default "id".
	namedKey  string
	namedTags map[string]string
}

// tableStack is a table with a generated name ("Table", with a TTL
// attribute) and one with an explicit name and a numeric key ("Named").
func tableStack(c *tableConfig) *cli.StackProgram {
	return stacktest.Program("ddbtest", func(s *alchemy.Stack) {
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
			key := c.namedKey
			if key == "" {
				key = "id"
			}
			aws.NewDynamoDBTable(s, "Named", aws.DynamoDBTableProps{TableName: alchemy.String(c.namedName),
				PartitionKey: alchemy.String(key), PartitionKeyType: alchemy.String("N"), Tags: alchemy.V(c.namedTags)})
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

// TestDynamoDBTableAdoption: an existing table of the same name is taken
// over only when it carries the resource's ownership tags, and then only
// if it has its keys; a table stamped as this resource's is its own, so it
// is deleted once the resource moves on to another name, and a foreign one
// never is.
func TestDynamoDBTableAdoption(t *testing.T) {
	c := startDynalite(t)
	owned := map[string]string{"alchemy::stack": "ddbtest", "alchemy::stage": "dev_tester", "alchemy::id": "Named", "stale": "x"}

	createDirect(t, c, "ddbtest-foreign", "N", nil)
	r := run(t, tableStack(&tableConfig{namedName: "ddbtest-foreign"}), "deploy", "--yes")
	wantRefused(t, r, "Named", "AWS.DynamoDB.Table", "table ddbtest-foreign", "")

	createDirect(t, c, "ddbtest-wrongkeys", "S", owned)
	r = run(t, tableStack(&tableConfig{namedName: "ddbtest-wrongkeys"}), "deploy", "--yes")
	if r.code == 0 || !strings.Contains(r.out+r.errOut, "table ddbtest-wrongkeys exists with other keys (partition key id (S)); they cannot be changed in place: choose another tableName") {
		t.Errorf("deploy onto an owned table with other keys: exit %d\n%s\n%s", r.code, r.out, r.errOut)
	}
	if d, _ := describe(t, c, "ddbtest-wrongkeys"); keys(d) != "id:HASH:S" {
		t.Errorf("the table with other keys was changed: %s", keys(d))
	}

	createDirect(t, c, "ddbtest-owned", "N", owned)
	r = mustRun(t, tableStack(&tableConfig{namedName: "ddbtest-owned"}), "deploy", "--yes")
	wantContains(t, r, "table ddbtest-owned already exists with this resource's ownership tags: taking it over")
	_, tags := describe(t, c, "ddbtest-owned")
	checkTags(t, "adopted", tags, map[string]string{"alchemy::id": "Named", "stale": ""})

	mustRun(t, tableStack(&tableConfig{namedName: "ddbtest-owned"}), "destroy", "--yes")
	if names := tables(t, c); !slices.Equal(names, []string{"ddbtest-foreign"}) {
		t.Fatalf("tables after destroy: %v, want only the foreign one", names)
	}
}

// putItem writes an item {id: n} (numeric key).
func putItem(t *testing.T, c *dynamodb.Client, table, key string, n int) {
	t.Helper()
	if _, err := c.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &table,
		Item: map[string]types.AttributeValue{key: &types.AttributeValueMemberN{Value: strconv.Itoa(n)},
			"data": &types.AttributeValueMemberS{Value: "keep me"}}}); err != nil {
		t.Fatalf("PutItem %s: %v", table, err)
	}
}

func itemCount(t *testing.T, c *dynamodb.Client, table string) int {
	t.Helper()
	out, err := c.Scan(context.Background(), &dynamodb.ScanInput{TableName: &table})
	if err != nil {
		t.Fatalf("Scan %s: %v", table, err)
	}
	return len(out.Items)
}

// A table that exists under the declared name without this resource's
// ownership tags is refused without --adopt (untouched, and never deleted
// by destroy) and taken over with it.
func TestDynamoDBTableExistingNeedsAdopt(t *testing.T) {
	c := startDynalite(t)
	const name = "ddbtest-theirs"
	createDirect(t, c, name, "N", map[string]string{"owner": "them"})
	putItem(t, c, name, "id", 1)
	cfg := &tableConfig{namedName: name, namedTags: map[string]string{"team": "a"}}
	untouched := func(when string) {
		t.Helper()
		_, tags := describe(t, c, name)
		if len(tags) != 1 || tags["owner"] != "them" {
			t.Errorf("%s: tags %v, want only owner=them", when, tags)
		}
		if n := itemCount(t, c, name); n != 1 {
			t.Errorf("%s: %d items, want 1", when, n)
		}
	}

	r := run(t, tableStack(cfg), "deploy", "--yes")
	wantRefused(t, r, "Named", "AWS.DynamoDB.Table", "table "+name, "")
	untouched("after the refused deploy")
	if row := getRow(t, "ddbtest", "Named"); row != nil {
		t.Errorf("the refused create left a row: %+v", row)
	}
	wantContains(t, mustRun(t, tableStack(cfg), "plan"), "Plan: 1 to create")
	mustRun(t, tableStack(cfg), "destroy", "--yes")
	untouched("after destroy")

	r = mustRun(t, tableStack(cfg), "deploy", "--yes", "--adopt")
	wantContains(t, r, "table "+name+" already exists: taking it over (--adopt)")
	_, tags := describe(t, c, name)
	if want := map[string]string{"team": "a", "alchemy::stack": "ddbtest", "alchemy::stage": "dev_tester", "alchemy::id": "Named"}; !maps.Equal(tags, want) {
		t.Errorf("tags after --adopt %v, want %v", tags, want)
	}
	if n := itemCount(t, c, name); n != 1 {
		t.Errorf("after --adopt: %d items, want 1", n)
	}
	wantContains(t, mustRun(t, tableStack(cfg), "plan"), "Plan: no changes")
	mustRun(t, tableStack(cfg), "destroy", "--yes")
	if names := tables(t, c); len(names) != 0 {
		t.Fatalf("tables after destroying the adopted one: %v", names)
	}
}

// A table stamped by another stage of the same stack is that stage's: it
// is refused, naming that owner.
func TestDynamoDBTableOfAnotherStage(t *testing.T) {
	c := startDynalite(t)
	const name = "ddbtest-prod"
	prod := map[string]string{"alchemy::stack": "ddbtest", "alchemy::stage": "prod", "alchemy::id": "Named"}
	createDirect(t, c, name, "N", prod)
	r := run(t, tableStack(&tableConfig{namedName: name}), "deploy", "--yes")
	wantRefused(t, r, "Named", "AWS.DynamoDB.Table", "table "+name, "ddbtest/prod/Named")
	if _, tags := describe(t, c, name); !maps.Equal(tags, prod) {
		t.Errorf("tags of the other stage's table changed: %v", tags)
	}
	mustRun(t, tableStack(&tableConfig{namedName: name}), "destroy", "--yes")
	if names := tables(t, c); !slices.Equal(names, []string{name}) {
		t.Fatalf("tables after destroy: %v", names)
	}
}

// A create interrupted after CreateTable and before TagResource leaves a
// table without ownership tags and a claimed row: the next deploy resumes
// it (takes the table over and tags it). The same row unclaimed proves
// nothing (the TypeScript tool's, or a create refused as not ours): the
// table is refused and destroy leaves it alone.
func TestDynamoDBTableInterruptedCreate(t *testing.T) {
	c := startDynalite(t)
	props := func(name string) map[string]any {
		return map[string]any{"tableName": name, "partitionKey": "id", "partitionKeyType": "N"}
	}

	createDirect(t, c, "ddbtest-unclaimed", "N", nil)
	putItem(t, c, "ddbtest-unclaimed", "id", 7)
	putRow(t, "ddbtest", interruptedRow("AWS.DynamoDB.Table", "Named", props("ddbtest-unclaimed"), false))
	cfg := &tableConfig{namedName: "ddbtest-unclaimed"}
	r := run(t, tableStack(cfg), "deploy", "--yes")
	wantRefused(t, r, "Named", "AWS.DynamoDB.Table", "table ddbtest-unclaimed", "")
	if _, tags := describe(t, c, "ddbtest-unclaimed"); len(tags) != 0 {
		t.Errorf("the unclaimed table was tagged: %v", tags)
	}
	if row := getRow(t, "ddbtest", "Named"); row == nil || row.Claimed {
		t.Errorf("the refused resume left row %+v, want it kept unclaimed", row)
	}
	mustRun(t, tableStack(cfg), "destroy", "--yes")
	if names := tables(t, c); !slices.Equal(names, []string{"ddbtest-unclaimed"}) || itemCount(t, c, "ddbtest-unclaimed") != 1 {
		t.Fatalf("destroy touched the unclaimed table: tables %v", names)
	}

	createDirect(t, c, "ddbtest-claimed", "N", nil)
	row := interruptedRow("AWS.DynamoDB.Table", "Named", props("ddbtest-claimed"), true)
	putRow(t, "ddbtest", row)
	cfg.namedName = "ddbtest-claimed"
	r = mustRun(t, tableStack(cfg), "deploy", "--yes")
	wantContains(t, r, "table ddbtest-claimed is the one an interrupted create of this resource made: taking it over")
	d, tags := describe(t, c, "ddbtest-claimed")
	if want := map[string]string{"alchemy::stack": "ddbtest", "alchemy::stage": "dev_tester", "alchemy::id": "Named"}; !maps.Equal(tags, want) {
		t.Errorf("resumed table's tags %v, want %v", tags, want)
	}
	got := getRow(t, "ddbtest", "Named")
	if got == nil || got.Status != "created" || got.InstanceID != row.InstanceID || attrOf(t, got, "tableArn") != sdkaws.ToString(d.TableArn) {
		t.Fatalf("row after the resumed create: %+v", got)
	}
	wantContains(t, mustRun(t, tableStack(cfg), "plan"), "Plan: no changes")
	mustRun(t, tableStack(cfg), "destroy", "--yes")
	if names := tables(t, c); !slices.Equal(names, []string{"ddbtest-unclaimed"}) {
		t.Fatalf("tables after destroy: %v, want only the unclaimed one", names)
	}
}

// A replace whose new generation keeps the explicit tableName deletes the
// current table first and ends with exactly one table, the one state
// points at. An old generation that is the same table as the current one
// (same ARN) is never deleted.
func TestDynamoDBTableReplaceSameName(t *testing.T) {
	c := startDynalite(t)
	const name = "ddbtest-fixed"
	cfg := &tableConfig{namedName: name}
	mustRun(t, tableStack(cfg), "deploy", "--yes")
	putItem(t, c, name, "id", 1)
	first := getRow(t, "ddbtest", "Named")

	cfg.namedKey = "key2"
	wantContains(t, mustRun(t, tableStack(cfg), "plan"), "Plan: 1 to replace")
	r := mustRun(t, tableStack(cfg), "deploy", "--yes")
	wantContains(t, r, "Deleting the current resource before creating its replacement")
	if names := tables(t, c); !slices.Equal(names, []string{name}) {
		t.Fatalf("tables after the replace: %v", names)
	}
	d, tags := describe(t, c, name)
	if k := keys(d); k != "key2:HASH:N" {
		t.Errorf("replacement key schema %q", k)
	}
	checkTags(t, "replacement", tags, map[string]string{"alchemy::id": "Named", "alchemy::stage": "dev_tester"})
	if n := itemCount(t, c, name); n != 0 {
		t.Errorf("the replacement has %d items: is it the old table?", n)
	}
	row := getRow(t, "ddbtest", "Named")
	if row.Status != "created" || row.Old != nil || row.InstanceID == first.InstanceID || attrOf(t, row, "tableArn") != sdkaws.ToString(d.TableArn) {
		t.Fatalf("row after the replace: %+v", row)
	}

	// A replaced row whose old generation is this very table (as a
	// replacement that took over its predecessor would leave): cleaning
	// it up must not delete the table.
	putItem(t, c, name, "key2", 2)
	old := *row
	old.InstanceID, old.Old = first.InstanceID, nil
	row.Status, row.Old = "replaced", &old
	putRow(t, "ddbtest", row)
	r = mustRun(t, tableStack(cfg), "deploy", "--yes")
	wantContains(t, r, "is the same cloud resource as the new one")
	if names := tables(t, c); !slices.Equal(names, []string{name}) || itemCount(t, c, name) != 1 {
		t.Fatalf("cleaning up an old generation that is the current table deleted it: tables %v", names)
	}
	if row := getRow(t, "ddbtest", "Named"); row.Status != "created" || row.Old != nil {
		t.Errorf("row after the clean-up: %+v", row)
	}
	mustRun(t, tableStack(cfg), "destroy", "--yes")
	if names := tables(t, c); len(names) != 0 {
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
