package aws

import (
	"context"
	"errors"
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
// UpdateTimeToLive with UnknownOperationException (and read it as the
// declared one when DescribeTimeToLive gets that answer). It exists for the
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

func (tableProvider) Type() string        { return "AWS.DynamoDB.Table" }
func (tableProvider) ReportsWrites() bool { return true } // writes no local file (alchemy.WriteReporter)
func (tableProvider) Auth() string        { return authName }
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
	cfg, err := sdkConfig(ctx, r.Credentials, r.Refresh)
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

func (tableProvider) Name(r *tableRequest) string { return tableName(r, r.Props) }

// Identity is the table's ARN (its name for attributes without one).
func (tableProvider) Identity(a DynamoDBTableAttrs) string {
	if a.TableArn != "" {
		return a.TableArn
	}
	return a.TableName
}

// Read finds the table by name, with its keys, billing, time to live and
// tags.
//
// A table in DELETING status counts as absent: DynamoDB cannot stop or undo
// a deletion, the table and its items are going away whatever happens, and
// nothing remains of it to take over (or to delete). Create waits for such
// a table to be gone before it creates its own under that name.
func (p tableProvider) Read(ctx context.Context, r *tableRequest) (*alchemy.Found[DynamoDBTableArgs, DynamoDBTableAttrs], error) {
	c, err := p.client(ctx, r)
	if err != nil {
		return nil, err
	}
	name := r.OldAttrs.TableName
	if name == "" {
		name = tableName(r, r.Props)
	}
	d, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
	if tableGone(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking up table %s: %w", name, err)
	}
	t := d.Table
	switch t.TableStatus {
	case types.TableStatusDeleting:
		return nil, nil
	case types.TableStatusCreating:
		// Its tags are not readable before it is ACTIVE.
		if t, err = waitActive(ctx, c, name); err != nil {
			if tableGone(err) {
				return nil, nil
			}
			return nil, err
		}
	}
	tags, err := listTags(ctx, c, sdkaws.ToString(t.TableArn))
	if err != nil {
		return nil, fmt.Errorf("reading tags of table %s: %w", name, err)
	}
	live := liveTable(r.Props, t)
	live.Tags = userTags(tags)
	live.TTLAttribute, err = currentTTL(ctx, c, name)
	if unknownOperation(err) {
		live.TTLAttribute = r.Props.TTLAttribute
	} else if err != nil {
		return nil, err
	}
	return &alchemy.Found[DynamoDBTableArgs, DynamoDBTableAttrs]{
		Attrs:     tableAttrs(t),
		Props:     &live,
		Name:      "table " + name,
		Generated: r.Props.TableName == "" && name == r.PhysicalName(255, false),
		Stamp:     alchemy.StampFromTags(tags),
	}, nil
}

// liveTable is an existing table's keys and billing, in the form of
// declared (a default declared as unset stays unset); the other fields are
// declared's.
func liveTable(declared DynamoDBTableArgs, t *types.TableDescription) DynamoDBTableArgs {
	live := declared
	attrTypes := map[string]string{}
	for _, d := range t.AttributeDefinitions {
		attrTypes[sdkaws.ToString(d.AttributeName)] = string(d.AttributeType)
	}
	asDeclared := func(typ, decl string) string {
		if typ == string(types.ScalarAttributeTypeS) && decl == "" {
			return ""
		}
		return typ
	}
	live.PartitionKey, live.PartitionKeyType, live.SortKey, live.SortKeyType = "", "", "", ""
	for _, k := range t.KeySchema {
		n := sdkaws.ToString(k.AttributeName)
		switch k.KeyType {
		case types.KeyTypeHash:
			live.PartitionKey, live.PartitionKeyType = n, asDeclared(attrTypes[n], declared.PartitionKeyType)
		case types.KeyTypeRange:
			live.SortKey, live.SortKeyType = n, asDeclared(attrTypes[n], declared.SortKeyType)
		}
	}
	b := current(t)
	live.BillingMode, live.ReadCapacity, live.WriteCapacity = string(b.mode), b.read, b.write
	if b.mode == types.BillingModePayPerRequest && declared.BillingMode == "" {
		live.BillingMode = ""
	}
	return live
}

// Create makes the table; it never takes over an existing one.
func (p tableProvider) Create(ctx context.Context, r *tableRequest) (DynamoDBTableAttrs, error) {
	if err := validateTable(r.Props); err != nil {
		return DynamoDBTableAttrs{}, err
	}
	c, err := p.client(ctx, r)
	if err != nil {
		return DynamoDBTableAttrs{}, err
	}
	name := tableName(r, r.Props)
	tags := ownershipTags(r.Props.Tags, r.Stamp())
	keys, defs := keySchema(r.Props)
	b := tableBilling(r.Props)
	in := &dynamodb.CreateTableInput{TableName: &name, KeySchema: keys, AttributeDefinitions: defs,
		BillingMode: b.mode, ProvisionedThroughput: b.throughput(), Tags: dynamoTags(tags)}
	r.Note("Creating table " + name + "...")
	// The tags go in CreateTable too (so that an interrupted create leaves
	// an owned table on AWS) and are set again by TagResource once the table
	// is ACTIVE: emulators such as dynalite drop CreateTable's tags.
	create := func() error {
		_, err := createCall(ctx, func() (*dynamodb.CreateTableOutput, error) {
			return c.CreateTable(ctx, in, func(o *dynamodb.Options) { o.Retryer = noRetry })
		}, tableBusy)
		return err
	}
	err = create()
	if tableBusy(err) && !errors.Is(err, alchemy.ErrMaybeCreated) {
		// A table of that name exists. One being deleted is on its way out
		// (see Read): wait until it is gone, then create.
		if d, derr := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name}); derr == nil && d.Table.TableStatus == types.TableStatusDeleting {
			r.Note("Table " + name + " is being deleted: waiting until it is gone to create it again...")
			if err := waitGone(ctx, c, name); err != nil {
				return DynamoDBTableAttrs{}, err
			}
			err = create()
		}
	}
	switch {
	case err == nil:
	case tableBusy(err):
		return DynamoDBTableAttrs{}, fmt.Errorf("table %s already exists: %w: %w", name, alchemy.ErrAlreadyExists, err)
	default:
		return DynamoDBTableAttrs{}, fmt.Errorf("creating table %s: %w", name, err)
	}
	t, err := waitActive(ctx, c, name)
	if err != nil {
		return DynamoDBTableAttrs{}, err
	}
	if err := p.setTags(ctx, c, r, t, nil); err != nil {
		return DynamoDBTableAttrs{}, err
	}
	if err := p.setTTL(ctx, c, r, name, ""); err != nil {
		return DynamoDBTableAttrs{}, err
	}
	return tableAttrs(t), nil
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

// Update brings the table from r.OldProps (the props last applied, or its
// live configuration when it is being taken over) to r.Props. Its keys
// cannot change in place: a table found with other keys is an error.
// Billing is compared with the table as DescribeTable shows it (UpdateTable
// fails when nothing changes), tags with r.OldProps' (user tags removed from
// the props are removed; tags added outside alchemy are left alone; the
// ownership tags are always written) and time to live with r.OldProps'.
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
	if !sameKeys(t, r.Props) {
		live := liveTable(r.Props, t)
		return DynamoDBTableAttrs{}, fmt.Errorf("table %s exists with other keys (%s); they cannot be changed in place: choose another tableName",
			name, describeKeys(live))
	}
	if t, err = p.setBilling(ctx, c, r, t, current(t)); err != nil {
		return DynamoDBTableAttrs{}, err
	}
	if err := p.setTags(ctx, c, r, t, r.OldProps.Tags); err != nil {
		return DynamoDBTableAttrs{}, err
	}
	if err := p.setTTL(ctx, c, r, name, r.OldProps.TTLAttribute); err != nil {
		return DynamoDBTableAttrs{}, err
	}
	return tableAttrs(t), nil
}

// describeKeys renders a table's keys for messages: "partition key id (N),
// sort key sk (S)".
func describeKeys(a DynamoDBTableArgs) string {
	s := fmt.Sprintf("partition key %s (%s)", a.PartitionKey, keyType(a.PartitionKeyType))
	if a.SortKey != "" {
		s += fmt.Sprintf(", sort key %s (%s)", a.SortKey, keyType(a.SortKeyType))
	}
	return s
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

// setTags sets the table's tags to r.Props' plus the ownership tags. old
// are the user tags it is brought from: removed when gone from r.Props.
func (tableProvider) setTags(ctx context.Context, c *dynamodb.Client, r *tableRequest, t *types.TableDescription, old map[string]string) error {
	arn, name := sdkaws.ToString(t.TableArn), sdkaws.ToString(t.TableName)
	tags := ownershipTags(r.Props.Tags, r.Stamp())
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

// Delete deletes the table and waits until it is gone. Ownership is the
// engine's to prove before it calls Delete; a table already gone (or being
// deleted) is success.
func (p tableProvider) Delete(ctx context.Context, r *tableRequest) error {
	c, err := p.client(ctx, r)
	if err != nil {
		return err
	}
	name := r.OldAttrs.TableName
	if name == "" {
		// The engine passes the attributes Read found for a row that has
		// none; derive the name otherwise.
		name = tableName(r, r.OldProps)
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
	return waitGone(ctx, c, name)
}

// waitGone waits until the table no longer exists.
func waitGone(ctx context.Context, c *dynamodb.Client, name string) error {
	if err := dynamodb.NewTableNotExistsWaiter(c, func(o *dynamodb.TableNotExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = tableWaitMinDelay, tableWaitMaxDelay
	}).Wait(ctx, &dynamodb.DescribeTableInput{TableName: &name}, tableWaitMax); err != nil {
		return fmt.Errorf("waiting for table %s to be deleted: %w", name, err)
	}
	return nil
}
