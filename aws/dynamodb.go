package aws

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/alchemy-go/alchemy"
	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func init() {
	alchemy.Register[DynamoDBTableArgs, DynamoDBTableAttrs](tableProvider{})
}

// EnvDynamoDBTolerateUnknownOperation set to 1 makes DynamoDBTable skip,
// with a note, the time-to-live setting when the endpoint answers
// UpdateTimeToLive with UnknownOperationException. It exists for the
// dynalite emulator (which does not implement UpdateTimeToLive) and must not
// be set against AWS, where that answer is a real failure.
const EnvDynamoDBTolerateUnknownOperation = "ALCHEMY_DYNAMODB_TOLERATE_UNKNOWN_OPERATION"

// DynamoDBTableProps declares a DynamoDB table.
type DynamoDBTableProps struct {
	// TableName is the table's name (3 to 255 characters). Default: a
	// physical name unique to the stack, id, stage and generation (at most
	// 255 characters). Changing it replaces the table.
	TableName alchemy.Input[string] `json:"tableName"`
	// PartitionKey is the name of the partition (hash) key attribute.
	// Required. Changing it replaces the table.
	PartitionKey alchemy.Input[string] `json:"partitionKey"`
	// PartitionKeyType is the partition key's type: "S" (default), "N" or
	// "B". Changing it replaces the table.
	PartitionKeyType alchemy.Input[string] `json:"partitionKeyType"`
	// SortKey is the name of the sort (range) key attribute; unset for a
	// table without one. Changing it replaces the table.
	SortKey alchemy.Input[string] `json:"sortKey"`
	// SortKeyType is the sort key's type: "S" (default), "N" or "B".
	// Changing it replaces the table.
	SortKeyType alchemy.Input[string] `json:"sortKeyType"`
	// BillingMode is "PAY_PER_REQUEST" (default, on-demand) or
	// "PROVISIONED", which needs ReadCapacity and WriteCapacity.
	BillingMode alchemy.Input[string] `json:"billingMode"`
	// ReadCapacity and WriteCapacity are the provisioned read and write
	// capacity units of a PROVISIONED table (at least 1 each).
	ReadCapacity  alchemy.Input[int] `json:"readCapacity"`
	WriteCapacity alchemy.Input[int] `json:"writeCapacity"`
	// TTLAttribute names the attribute holding item expiry times (epoch
	// seconds); unset disables time to live.
	TTLAttribute alchemy.Input[string] `json:"ttlAttribute"`
	// Tags are added to the ownership tags (alchemy::stack, alchemy::stage,
	// alchemy::id). Keys starting with alchemy:: are refused.
	Tags alchemy.Input[map[string]string] `json:"tags"`
}

// DynamoDBTableArgs are a table's resolved props.
type DynamoDBTableArgs struct {
	TableName        string            `json:"tableName,omitempty"`
	PartitionKey     string            `json:"partitionKey,omitempty"`
	PartitionKeyType string            `json:"partitionKeyType,omitempty"`
	SortKey          string            `json:"sortKey,omitempty"`
	SortKeyType      string            `json:"sortKeyType,omitempty"`
	BillingMode      string            `json:"billingMode,omitempty"`
	ReadCapacity     int               `json:"readCapacity,omitempty"`
	WriteCapacity    int               `json:"writeCapacity,omitempty"`
	TTLAttribute     string            `json:"ttlAttribute,omitempty"`
	Tags             map[string]string `json:"tags,omitempty"`
}

// DynamoDBTableAttrs are what a deployed table publishes.
type DynamoDBTableAttrs struct {
	TableName string `json:"tableName"`
	TableArn  string `json:"tableArn"`
	// StreamArn is the latest stream's ARN, empty without a stream.
	StreamArn string `json:"streamArn,omitempty"`
}

// DynamoDBTable is a declared table.
type DynamoDBTable struct {
	*alchemy.Resource
	TableName alchemy.Output[string]
	TableArn  alchemy.Output[string]
}

// NewDynamoDBTable declares a DynamoDB table (type AWS.DynamoDB.Table).
// Removing it from the stack deletes the table and its items.
func NewDynamoDBTable(s *alchemy.Stack, id string, props DynamoDBTableProps, opts ...alchemy.Option) *DynamoDBTable {
	r := alchemy.Declare[DynamoDBTableArgs, DynamoDBTableAttrs](s, tableProvider{}, id, props, opts...)
	return &DynamoDBTable{Resource: r,
		TableName: alchemy.Attr[string](r, "tableName"),
		TableArn:  alchemy.Attr[string](r, "tableArn")}
}

type tableRequest = alchemy.Request[DynamoDBTableArgs, DynamoDBTableAttrs]

type tableProvider struct{}

func (tableProvider) Type() string { return "AWS.DynamoDB.Table" }
func (tableProvider) Auth() string { return authName }
func (tableProvider) ReplaceOn() []string {
	return []string{"tableName", "partitionKey", "partitionKeyType", "sortKey", "sortKeyType"}
}

// How long table state transitions may take, and how often they are polled.
const (
	tableWaitMax      = 15 * time.Minute
	tableWaitMinDelay = 250 * time.Millisecond
	tableWaitMaxDelay = 15 * time.Second
)

func tableName(r *tableRequest, props DynamoDBTableArgs) string {
	if props.TableName != "" {
		return props.TableName
	}
	return r.PhysicalName(255, false)
}

// billing is a table's billing settings with defaults applied.
type billing struct {
	mode        types.BillingMode
	read, write int
}

func tableBilling(p DynamoDBTableArgs) billing {
	b := billing{mode: types.BillingMode(p.BillingMode), read: p.ReadCapacity, write: p.WriteCapacity}
	if b.mode == "" {
		b.mode = types.BillingModePayPerRequest
	}
	return b
}

func (b billing) throughput() *types.ProvisionedThroughput {
	if b.mode != types.BillingModeProvisioned {
		return nil
	}
	return &types.ProvisionedThroughput{ReadCapacityUnits: sdkaws.Int64(int64(b.read)), WriteCapacityUnits: sdkaws.Int64(int64(b.write))}
}

func keyType(t string) types.ScalarAttributeType {
	if t == "" {
		return types.ScalarAttributeTypeS
	}
	return types.ScalarAttributeType(t)
}

func validateTable(p DynamoDBTableArgs) error {
	if err := checkUserTags(p.Tags); err != nil {
		return err
	}
	if p.TableName != "" && (len(p.TableName) < 3 || len(p.TableName) > 255) {
		return fmt.Errorf("tableName %q: must be 3 to 255 characters", p.TableName)
	}
	if p.PartitionKey == "" {
		return fmt.Errorf("partitionKey is required")
	}
	for field, t := range map[string]string{"partitionKeyType": p.PartitionKeyType, "sortKeyType": p.SortKeyType} {
		switch t {
		case "", "S", "N", "B":
		default:
			return fmt.Errorf("%s %q: must be S, N or B", field, t)
		}
	}
	if p.SortKey == "" && p.SortKeyType != "" {
		return fmt.Errorf("sortKeyType needs sortKey")
	}
	if p.SortKey != "" && p.SortKey == p.PartitionKey {
		return fmt.Errorf("sortKey %q: must differ from partitionKey", p.SortKey)
	}
	switch b := tableBilling(p); b.mode {
	case types.BillingModePayPerRequest:
		if b.read != 0 || b.write != 0 {
			return fmt.Errorf("readCapacity and writeCapacity need billingMode PROVISIONED")
		}
	case types.BillingModeProvisioned:
		if b.read < 1 || b.write < 1 {
			return fmt.Errorf("billingMode PROVISIONED needs readCapacity and writeCapacity of at least 1")
		}
	default:
		return fmt.Errorf("billingMode %q: must be PAY_PER_REQUEST or PROVISIONED", b.mode)
	}
	return nil
}

// keySchema is the table's key schema and the definitions of its attributes.
func keySchema(p DynamoDBTableArgs) ([]types.KeySchemaElement, []types.AttributeDefinition) {
	keys := []types.KeySchemaElement{{AttributeName: sdkaws.String(p.PartitionKey), KeyType: types.KeyTypeHash}}
	defs := []types.AttributeDefinition{{AttributeName: sdkaws.String(p.PartitionKey), AttributeType: keyType(p.PartitionKeyType)}}
	if p.SortKey != "" {
		keys = append(keys, types.KeySchemaElement{AttributeName: sdkaws.String(p.SortKey), KeyType: types.KeyTypeRange})
		defs = append(defs, types.AttributeDefinition{AttributeName: sdkaws.String(p.SortKey), AttributeType: keyType(p.SortKeyType)})
	}
	return keys, defs
}

// sameKeys reports whether an existing table has the keys props ask for.
func sameKeys(t *types.TableDescription, p DynamoDBTableArgs) bool {
	want, defs := keySchema(p)
	if len(t.KeySchema) != len(want) {
		return false
	}
	attrTypes := map[string]types.ScalarAttributeType{}
	for _, d := range t.AttributeDefinitions {
		attrTypes[sdkaws.ToString(d.AttributeName)] = d.AttributeType
	}
	for i, k := range want {
		got := t.KeySchema[i]
		if sdkaws.ToString(got.AttributeName) != *k.AttributeName || got.KeyType != k.KeyType ||
			attrTypes[*k.AttributeName] != defs[i].AttributeType {
			return false
		}
	}
	return true
}

func dynamoTags(m map[string]string) []types.Tag {
	out := make([]types.Tag, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, types.Tag{Key: sdkaws.String(k), Value: sdkaws.String(m[k])})
	}
	return out
}

func (tableProvider) client(ctx context.Context, r *tableRequest) (*dynamodb.Client, error) {
	cfg, err := sdkConfig(ctx, r.Credentials)
	if err != nil {
		return nil, err
	}
	return dynamodb.NewFromConfig(cfg), nil
}

func tableGone(err error) bool {
	return errorAs[*types.ResourceNotFoundException](err) || hasCode(err, "ResourceNotFoundException")
}

func tableBusy(err error) bool {
	return errorAs[*types.ResourceInUseException](err) || hasCode(err, "ResourceInUseException")
}

// waitActive waits until the table is ACTIVE (created or updated).
func waitActive(ctx context.Context, c *dynamodb.Client, name string) (*types.TableDescription, error) {
	out, err := dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = tableWaitMinDelay, tableWaitMaxDelay
	}).WaitForOutput(ctx, &dynamodb.DescribeTableInput{TableName: &name}, tableWaitMax)
	if err != nil {
		return nil, fmt.Errorf("waiting for table %s to be ACTIVE: %w", name, err)
	}
	return out.Table, nil
}

func (p tableProvider) Create(ctx context.Context, r *tableRequest) (DynamoDBTableAttrs, error) {
	if err := validateTable(r.Props); err != nil {
		return DynamoDBTableAttrs{}, err
	}
	c, err := p.client(ctx, r)
	if err != nil {
		return DynamoDBTableAttrs{}, err
	}
	name := tableName(r, r.Props)
	tags := ownershipTags(r.Props.Tags, r.Stack, r.Stage, r.LogicalID)
	keys, defs := keySchema(r.Props)
	b := tableBilling(r.Props)
	r.Note("Creating table " + name + "...")
	// The tags go in CreateTable too (so that an interrupted create leaves
	// an owned table on AWS) and are set again by TagResource once the table
	// is ACTIVE: emulators such as dynalite drop CreateTable's tags.
	_, err = c.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: &name, KeySchema: keys, AttributeDefinitions: defs,
		BillingMode: b.mode, ProvisionedThroughput: b.throughput(), Tags: dynamoTags(tags)})
	adopted := false
	switch {
	case err == nil:
	case tableBusy(err):
		// A table of that name exists: ours if it carries our ownership
		// tags (an interrupted create being resumed).
		if err := p.checkOwned(ctx, c, r, name); err != nil {
			return DynamoDBTableAttrs{}, err
		}
		r.Note("Table " + name + " already exists and is ours: adopting it")
		adopted = true
	default:
		return DynamoDBTableAttrs{}, fmt.Errorf("creating table %s: %w", name, err)
	}
	t, err := waitActive(ctx, c, name)
	if err != nil {
		return DynamoDBTableAttrs{}, err
	}
	if adopted {
		if !sameKeys(t, r.Props) {
			return DynamoDBTableAttrs{}, fmt.Errorf("table %s already exists with another key schema: choose another tableName", name)
		}
		if t, err = p.setBilling(ctx, c, r, t, current(t)); err != nil {
			return DynamoDBTableAttrs{}, err
		}
	}
	if err := p.setTags(ctx, c, r, t, nil, adopted); err != nil {
		return DynamoDBTableAttrs{}, err
	}
	oldTTL := ""
	if adopted {
		if oldTTL, err = currentTTL(ctx, c, name); err != nil {
			return DynamoDBTableAttrs{}, err
		}
	}
	if err := p.setTTL(ctx, c, r, name, oldTTL); err != nil {
		return DynamoDBTableAttrs{}, err
	}
	return tableAttrs(t), nil
}

// checkOwned fails unless the existing table name carries r's ownership tags.
func (p tableProvider) checkOwned(ctx context.Context, c *dynamodb.Client, r *tableRequest, name string) error {
	_, owned, err := p.owned(ctx, c, r, name)
	if err != nil {
		return err
	}
	if !owned {
		return fmt.Errorf("table %s already exists and is not owned by %s/%s/%s: choose another tableName", name, r.Stack, r.Stage, r.LogicalID)
	}
	return nil
}

// owned describes the existing table name and reports whether it carries
// r's ownership tags.
func (tableProvider) owned(ctx context.Context, c *dynamodb.Client, r *tableRequest, name string) (*types.TableDescription, bool, error) {
	d, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
	if err != nil {
		return nil, false, fmt.Errorf("reading existing table %s: %w", name, err)
	}
	tags, err := listTags(ctx, c, sdkaws.ToString(d.Table.TableArn))
	if err != nil {
		return nil, false, fmt.Errorf("reading tags of existing table %s: %w", name, err)
	}
	return d.Table, tags[TagStack] == r.Stack && tags[TagStage] == r.Stage && tags[TagID] == r.LogicalID, nil
}

func listTags(ctx context.Context, c *dynamodb.Client, arn string) (map[string]string, error) {
	tags := map[string]string{}
	in := &dynamodb.ListTagsOfResourceInput{ResourceArn: &arn}
	for {
		out, err := c.ListTagsOfResource(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, t := range out.Tags {
			tags[sdkaws.ToString(t.Key)] = sdkaws.ToString(t.Value)
		}
		if out.NextToken == nil {
			return tags, nil
		}
		in.NextToken = out.NextToken
	}
}

// current is the billing of an existing table.
func current(t *types.TableDescription) billing {
	b := billing{mode: types.BillingModeProvisioned}
	if t.BillingModeSummary != nil && t.BillingModeSummary.BillingMode != "" {
		b.mode = t.BillingModeSummary.BillingMode
	}
	if pt := t.ProvisionedThroughput; pt != nil && b.mode == types.BillingModeProvisioned {
		b.read, b.write = int(sdkaws.ToInt64(pt.ReadCapacityUnits)), int(sdkaws.ToInt64(pt.WriteCapacityUnits))
	}
	if b.mode == types.BillingModeProvisioned && b.read == 0 && b.write == 0 {
		// No summary and no capacity: treat it as on demand, the only
		// mode without provisioned capacity.
		b.mode = types.BillingModePayPerRequest
	}
	return b
}

func (p tableProvider) Update(ctx context.Context, r *tableRequest) (DynamoDBTableAttrs, error) {
	if err := validateTable(r.Props); err != nil {
		return DynamoDBTableAttrs{}, err
	}
	c, err := p.client(ctx, r)
	if err != nil {
		return DynamoDBTableAttrs{}, err
	}
	name := r.OldAttrs.TableName
	if name == "" {
		name = tableName(r, r.Props)
	}
	d, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
	if err != nil {
		return DynamoDBTableAttrs{}, fmt.Errorf("reading table %s: %w", name, err)
	}
	t := d.Table
	if t.TableStatus != types.TableStatusActive {
		// An update still in progress: UpdateTable would fail.
		if t, err = waitActive(ctx, c, name); err != nil {
			return DynamoDBTableAttrs{}, err
		}
	}
	if t, err = p.setBilling(ctx, c, r, t, tableBilling(r.OldProps)); err != nil {
		return DynamoDBTableAttrs{}, err
	}
	if err := p.setTags(ctx, c, r, t, r.OldProps.Tags, false); err != nil {
		return DynamoDBTableAttrs{}, err
	}
	if err := p.setTTL(ctx, c, r, name, r.OldProps.TTLAttribute); err != nil {
		return DynamoDBTableAttrs{}, err
	}
	return tableAttrs(t), nil
}

// setBilling changes the table's billing from old to r.Props' (UpdateTable
// fails when nothing changes, so it is only called on a difference) and
// waits until the table is ACTIVE again.
func (tableProvider) setBilling(ctx context.Context, c *dynamodb.Client, r *tableRequest, t *types.TableDescription, old billing) (*types.TableDescription, error) {
	b := tableBilling(r.Props)
	if b == old {
		return t, nil
	}
	name := sdkaws.ToString(t.TableName)
	r.Note(fmt.Sprintf("Setting billing mode of table %s to %s...", name, b.mode))
	if _, err := c.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: &name, BillingMode: b.mode,
		ProvisionedThroughput: b.throughput()}); err != nil {
		return nil, fmt.Errorf("updating billing of table %s: %w", name, err)
	}
	return waitActive(ctx, c, name)
}

// setTags sets the table's tags to r.Props' plus the ownership tags. old are
// the user tags last applied (removed when gone from r.Props); with
// unknownTags the table's current tags are read instead.
func (tableProvider) setTags(ctx context.Context, c *dynamodb.Client, r *tableRequest, t *types.TableDescription, old map[string]string, unknownTags bool) error {
	arn, name := sdkaws.ToString(t.TableArn), sdkaws.ToString(t.TableName)
	tags := ownershipTags(r.Props.Tags, r.Stack, r.Stage, r.LogicalID)
	if unknownTags {
		cur, err := listTags(ctx, c, arn)
		if err != nil {
			return fmt.Errorf("reading tags of table %s: %w", name, err)
		}
		old = cur
	}
	var gone []string
	for _, k := range slices.Sorted(maps.Keys(old)) {
		if _, keep := tags[k]; !keep {
			gone = append(gone, k)
		}
	}
	if len(gone) > 0 {
		if _, err := c.UntagResource(ctx, &dynamodb.UntagResourceInput{ResourceArn: &arn, TagKeys: gone}); err != nil {
			return fmt.Errorf("removing tags of table %s: %w", name, err)
		}
	}
	if _, err := c.TagResource(ctx, &dynamodb.TagResourceInput{ResourceArn: &arn, Tags: dynamoTags(tags)}); err != nil {
		return fmt.Errorf("tagging table %s: %w", name, err)
	}
	return nil
}

// currentTTL is the attribute time to live is enabled (or being enabled) on.
func currentTTL(ctx context.Context, c *dynamodb.Client, name string) (string, error) {
	out, err := c.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: &name})
	if err != nil {
		return "", fmt.Errorf("reading time to live of table %s: %w", name, err)
	}
	d := out.TimeToLiveDescription
	if d == nil || (d.TimeToLiveStatus != types.TimeToLiveStatusEnabled && d.TimeToLiveStatus != types.TimeToLiveStatusEnabling) {
		return "", nil
	}
	return sdkaws.ToString(d.AttributeName), nil
}

// setTTL moves time to live from the old attribute to r.Props' (a table has
// at most one: the old one is disabled first).
func (tableProvider) setTTL(ctx context.Context, c *dynamodb.Client, r *tableRequest, name, old string) error {
	want := r.Props.TTLAttribute
	if want == old {
		return nil
	}
	set := func(attr string, on bool) error {
		_, err := c.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: &name,
			TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: &attr, Enabled: &on}})
		if err != nil && unknownOperation(err) {
			r.Note(fmt.Sprintf("Table %s: the endpoint does not implement UpdateTimeToLive, skipped (%s=1)", name, EnvDynamoDBTolerateUnknownOperation))
			return nil
		}
		if err != nil {
			return fmt.Errorf("setting time to live of table %s on %q (enabled %v): %w", name, attr, on, err)
		}
		return nil
	}
	if old != "" {
		if err := set(old, false); err != nil {
			return err
		}
	}
	if want != "" {
		return set(want, true)
	}
	return nil
}

// unknownOperation reports whether err is the endpoint saying it does not
// know the call and the user allowed skipping that.
func unknownOperation(err error) bool {
	return os.Getenv(EnvDynamoDBTolerateUnknownOperation) == "1" && hasCode(err, "UnknownOperationException")
}

func tableAttrs(t *types.TableDescription) DynamoDBTableAttrs {
	return DynamoDBTableAttrs{TableName: sdkaws.ToString(t.TableName), TableArn: sdkaws.ToString(t.TableArn),
		StreamArn: sdkaws.ToString(t.LatestStreamArn)}
}

func (p tableProvider) Delete(ctx context.Context, r *tableRequest) error {
	c, err := p.client(ctx, r)
	if err != nil {
		return err
	}
	name := r.OldAttrs.TableName
	if name == "" {
		// An interrupted (or refused) create has no attributes yet: find it
		// by name, and delete it only if it is ours; a table of that name
		// without our ownership tags was never created by this resource.
		// The keys must match too: a create that adopted and then refused
		// a table of ours with other keys (an explicit tableName whose
		// keys changed) must not delete the table still in use.
		name = tableName(r, r.OldProps)
		t, owned, err := p.owned(ctx, c, r, name)
		if tableGone(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if !owned || !sameKeys(t, r.OldProps) {
			r.Note("Table " + name + " was not created by this resource: not deleting it")
			return nil
		}
	}
	r.Note("Deleting table " + name + "...")
	_, err = c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: &name})
	if tableBusy(err) {
		// CREATING or UPDATING: wait until ACTIVE, then delete. Already
		// DELETING: only wait for it to be gone.
		d, derr := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
		switch {
		case derr != nil:
			err = derr
		case d.Table.TableStatus == types.TableStatusDeleting:
			err = nil
		default:
			if _, werr := waitActive(ctx, c, name); werr != nil {
				return werr
			}
			_, err = c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: &name})
		}
	}
	if tableGone(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting table %s: %w", name, err)
	}
	if err := dynamodb.NewTableNotExistsWaiter(c, func(o *dynamodb.TableNotExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = tableWaitMinDelay, tableWaitMaxDelay
	}).Wait(ctx, &dynamodb.DescribeTableInput{TableName: &name}, tableWaitMax); err != nil {
		return fmt.Errorf("waiting for table %s to be deleted: %w", name, err)
	}
	return nil
}
