package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/alchemy-go/alchemy"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQSQueueProps declares an SQS queue.
type SQSQueueProps struct {
	// QueueName is the queue's name; ".fifo" is appended to a FIFO queue's
	// name when missing. Default: a physical name unique to the stack, id,
	// stage and generation (at most 80 characters, ".fifo" included).
	// Changing it replaces the queue.
	QueueName alchemy.Input[string] `json:"queueName"`
	// Fifo makes a FIFO queue. Changing it replaces the queue.
	Fifo alchemy.Input[bool] `json:"fifo"`
	// VisibilityTimeout in seconds (0 to 43200); SQS default 30.
	VisibilityTimeout alchemy.Input[int] `json:"visibilityTimeout"`
	// MessageRetentionPeriod in seconds (60 to 1209600); SQS default 345600
	// (4 days).
	MessageRetentionPeriod alchemy.Input[int] `json:"messageRetentionPeriod"`
	// DeadLetterTargetArn is the ARN of the dead-letter queue messages move
	// to after MaxReceiveCount receives, typically another queue's QueueArn.
	DeadLetterTargetArn alchemy.Input[string] `json:"deadLetterTargetArn"`
	// MaxReceiveCount of the redrive policy; default 10.
	MaxReceiveCount alchemy.Input[int] `json:"maxReceiveCount"`
	// Tags are added to the ownership tags (alchemy::stack, alchemy::stage,
	// alchemy::id). Keys starting with alchemy:: are refused.
	Tags alchemy.Input[map[string]string] `json:"tags"`
}

// SQSQueueArgs are a queue's resolved props.
type SQSQueueArgs struct {
	QueueName              string            `json:"queueName,omitempty"`
	Fifo                   bool              `json:"fifo,omitempty"`
	VisibilityTimeout      *int              `json:"visibilityTimeout,omitempty"`
	MessageRetentionPeriod *int              `json:"messageRetentionPeriod,omitempty"`
	DeadLetterTargetArn    string            `json:"deadLetterTargetArn,omitempty"`
	MaxReceiveCount        int               `json:"maxReceiveCount,omitempty"`
	Tags                   map[string]string `json:"tags,omitempty"`
}

// SQSQueueAttrs are what a deployed queue publishes.
type SQSQueueAttrs struct {
	QueueURL  string `json:"queueUrl"`
	QueueArn  string `json:"queueArn"`
	QueueName string `json:"queueName"`
}

// SQSQueue is a declared queue.
type SQSQueue struct {
	*alchemy.Resource
	QueueURL  alchemy.Output[string]
	QueueArn  alchemy.Output[string]
	QueueName alchemy.Output[string]
}

// NewSQSQueue declares an SQS queue (type AWS.SQS.Queue).
func NewSQSQueue(s *alchemy.Stack, id string, props SQSQueueProps, opts ...alchemy.Option) *SQSQueue {
	r := alchemy.Declare[SQSQueueArgs, SQSQueueAttrs](s, queueProvider{}, id, props, opts...)
	return &SQSQueue{Resource: r,
		QueueURL:  alchemy.Attr[string](r, "queueUrl"),
		QueueArn:  alchemy.Attr[string](r, "queueArn"),
		QueueName: alchemy.Attr[string](r, "queueName")}
}

type queueRequest = alchemy.Request[SQSQueueArgs, SQSQueueAttrs]

type queueProvider struct{}

func (queueProvider) Type() string        { return "AWS.SQS.Queue" }
func (queueProvider) ReportsWrites() bool { return true } // writes no local file (alchemy.WriteReporter)
func (queueProvider) Auth() string        { return authName }
func (queueProvider) ReplaceOn() []string { return []string{"queueName", "fifo"} }

// SQS defaults, restored when a prop is unset again.
const (
	defaultVisibilityTimeout      = 30
	defaultMessageRetentionPeriod = 345600
	defaultMaxReceiveCount        = 10
)

func queueName(r *queueRequest, props SQSQueueArgs) string {
	name := props.QueueName
	if name == "" {
		if props.Fifo {
			return r.PhysicalName(80-len(".fifo"), false) + ".fifo"
		}
		return r.PhysicalName(80, false)
	}
	if props.Fifo && !strings.HasSuffix(name, ".fifo") {
		name += ".fifo"
	}
	return name
}

// attributes are the queue attributes props ask for. With reset, unset
// props get SQS's defaults back (update); otherwise they are left out.
func queueAttributes(props SQSQueueArgs, reset bool) (map[string]string, error) {
	a := map[string]string{}
	if v := props.VisibilityTimeout; v != nil {
		a[string(types.QueueAttributeNameVisibilityTimeout)] = strconv.Itoa(*v)
	} else if reset {
		a[string(types.QueueAttributeNameVisibilityTimeout)] = strconv.Itoa(defaultVisibilityTimeout)
	}
	if v := props.MessageRetentionPeriod; v != nil {
		a[string(types.QueueAttributeNameMessageRetentionPeriod)] = strconv.Itoa(*v)
	} else if reset {
		a[string(types.QueueAttributeNameMessageRetentionPeriod)] = strconv.Itoa(defaultMessageRetentionPeriod)
	}
	if props.DeadLetterTargetArn != "" {
		n := props.MaxReceiveCount
		if n == 0 {
			n = defaultMaxReceiveCount
		}
		policy, err := json.Marshal(map[string]any{"deadLetterTargetArn": props.DeadLetterTargetArn, "maxReceiveCount": n})
		if err != nil {
			return nil, err
		}
		a[string(types.QueueAttributeNameRedrivePolicy)] = string(policy)
	} else if props.MaxReceiveCount != 0 {
		return nil, errors.New("maxReceiveCount needs deadLetterTargetArn")
	} else if reset {
		a[string(types.QueueAttributeNameRedrivePolicy)] = ""
	}
	return a, nil
}

func (queueProvider) client(ctx context.Context, r *queueRequest) (*sqs.Client, error) {
	cfg, err := sdkConfig(ctx, r.Credentials, r.Refresh)
	if err != nil {
		return nil, err
	}
	return sqs.NewFromConfig(cfg), nil
}

func queueGone(err error) bool {
	var nx *types.QueueDoesNotExist
	return errors.As(err, &nx) || hasCode(err, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue")
}

func (queueProvider) Name(r *queueRequest) string { return queueName(r, r.Props) }

// Identity is the queue's ARN (its URL for attributes without one).
func (queueProvider) Identity(a SQSQueueAttrs) string {
	if a.QueueArn != "" {
		return a.QueueArn
	}
	return a.QueueURL
}

// Read finds the queue by URL (known attributes) or name, with its
// attributes and tags.
func (p queueProvider) Read(ctx context.Context, r *queueRequest) (*alchemy.Found[SQSQueueArgs, SQSQueueAttrs], error) {
	c, err := p.client(ctx, r)
	if err != nil {
		return nil, err
	}
	name, url := r.OldAttrs.QueueName, r.OldAttrs.QueueURL
	if name == "" {
		name = queueName(r, r.Props)
	}
	if url == "" {
		got, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &name})
		if queueGone(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("looking up queue %s: %w", name, err)
		}
		url = *got.QueueUrl
	}
	a, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll}})
	if queueGone(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading attributes of queue %s: %w", name, err)
	}
	tags, err := c.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: &url})
	if queueGone(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading tags of queue %s: %w", name, err)
	}
	live := liveQueue(r.Props, a.Attributes)
	live.Tags = userTags(tags.Tags)
	gen := queueName(r, SQSQueueArgs{Fifo: r.Props.Fifo})
	return &alchemy.Found[SQSQueueArgs, SQSQueueAttrs]{
		Attrs:     SQSQueueAttrs{QueueURL: url, QueueArn: a.Attributes[string(types.QueueAttributeNameQueueArn)], QueueName: name},
		Props:     &live,
		Name:      "queue " + name,
		Generated: r.Props.QueueName == "" && name == gen,
		Stamp:     alchemy.StampFromTags(tags.Tags),
	}, nil
}

// liveQueue is a queue's configuration from its attributes, in the form of
// declared (an attribute at SQS's default where declared leaves it unset
// stays unset).
func liveQueue(declared SQSQueueArgs, attrs map[string]string) SQSQueueArgs {
	live := declared
	live.Fifo = attrs[string(types.QueueAttributeNameFifoQueue)] == "true"
	number := func(key string, decl *int, def int) *int {
		v, err := strconv.Atoi(attrs[key])
		switch {
		case err != nil:
			return decl
		case v == def && decl == nil:
			return nil
		}
		return &v
	}
	live.VisibilityTimeout = number(string(types.QueueAttributeNameVisibilityTimeout), declared.VisibilityTimeout, defaultVisibilityTimeout)
	live.MessageRetentionPeriod = number(string(types.QueueAttributeNameMessageRetentionPeriod), declared.MessageRetentionPeriod, defaultMessageRetentionPeriod)
	live.DeadLetterTargetArn, live.MaxReceiveCount = "", 0
	if policy := attrs[string(types.QueueAttributeNameRedrivePolicy)]; policy != "" {
		var rp struct {
			DeadLetterTargetArn string          `json:"deadLetterTargetArn"`
			MaxReceiveCount     json.RawMessage `json:"maxReceiveCount"`
		}
		if json.Unmarshal([]byte(policy), &rp) == nil {
			live.DeadLetterTargetArn = rp.DeadLetterTargetArn
			// A number, or a number in a string.
			n, err := strconv.Atoi(strings.Trim(string(rp.MaxReceiveCount), `"`))
			if err == nil && !(n == defaultMaxReceiveCount && declared.MaxReceiveCount == 0) {
				live.MaxReceiveCount = n
			}
		}
	}
	return live
}

// Create makes the queue; it never takes over an existing one. SQS answers
// a CreateQueue of an existing queue with the URL of that queue when every
// attribute matches (and QueueAlreadyExists otherwise): the engine's Read
// before Create is what finds such a queue, so only one made between that
// Read and this call goes unnoticed.
func (p queueProvider) Create(ctx context.Context, r *queueRequest) (SQSQueueAttrs, error) {
	if err := checkUserTags(r.Props.Tags); err != nil {
		return SQSQueueAttrs{}, err
	}
	attrs, err := queueAttributes(r.Props, false)
	if err != nil {
		return SQSQueueAttrs{}, err
	}
	if r.Props.Fifo {
		attrs[string(types.QueueAttributeNameFifoQueue)] = "true"
	}
	c, err := p.client(ctx, r)
	if err != nil {
		return SQSQueueAttrs{}, err
	}
	name := queueName(r, r.Props)
	tags := ownershipTags(r.Props.Tags, r.Stamp())
	r.Note("Creating queue " + name + "...")
	isTaken := func(err error) bool {
		return errorAs[*types.QueueNameExists](err) || hasCode(err, "QueueAlreadyExists", "QueueNameExists")
	}
	out, err := createCall(ctx, func() (*sqs.CreateQueueOutput, error) {
		return c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &name, Attributes: attrs, Tags: tags},
			func(o *sqs.Options) { o.Retryer = noRetry })
	}, isTaken)
	switch {
	case err == nil:
	case isTaken(err):
		return SQSQueueAttrs{}, fmt.Errorf("queue %s already exists: %w: %w", name, alchemy.ErrAlreadyExists, err)
	default:
		return SQSQueueAttrs{}, fmt.Errorf("creating queue %s: %w", name, err)
	}
	return p.attrs(ctx, c, name, *out.QueueUrl)
}

// Update brings the queue from r.OldProps (the props last applied, or its
// live configuration when it is being taken over) to r.Props, ownership
// tags included.
func (p queueProvider) Update(ctx context.Context, r *queueRequest) (SQSQueueAttrs, error) {
	if err := checkUserTags(r.Props.Tags); err != nil {
		return SQSQueueAttrs{}, err
	}
	c, err := p.client(ctx, r)
	if err != nil {
		return SQSQueueAttrs{}, err
	}
	name, url := r.OldAttrs.QueueName, r.OldAttrs.QueueURL
	if name == "" {
		name = queueName(r, r.Props)
	}
	if url == "" {
		got, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &name})
		if err != nil {
			return SQSQueueAttrs{}, fmt.Errorf("finding queue %s: %w", name, err)
		}
		url = *got.QueueUrl
	}
	if err := p.sync(ctx, c, r, url, r.OldProps); err != nil {
		return SQSQueueAttrs{}, err
	}
	return p.attrs(ctx, c, name, url)
}

// sync sets the queue's attributes and tags to r.Props. old are the props
// it is brought from: their user tags are removed when gone from r.Props
// (tags added outside alchemy since are left alone); the ownership tags are
// always written.
func (queueProvider) sync(ctx context.Context, c *sqs.Client, r *queueRequest, url string, old SQSQueueArgs) error {
	attrs, err := queueAttributes(r.Props, true)
	if err != nil {
		return err
	}
	if _, err := c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: &url, Attributes: attrs}); err != nil {
		return fmt.Errorf("setting attributes of queue %s: %w", url, err)
	}
	tags := ownershipTags(r.Props.Tags, r.Stamp())
	var gone []string
	for k := range old.Tags {
		if _, keep := tags[k]; !keep {
			gone = append(gone, k)
		}
	}
	if len(gone) > 0 {
		sort.Strings(gone)
		if _, err := c.UntagQueue(ctx, &sqs.UntagQueueInput{QueueUrl: &url, TagKeys: gone}); err != nil {
			return fmt.Errorf("removing tags of queue %s: %w", url, err)
		}
	}
	if _, err := c.TagQueue(ctx, &sqs.TagQueueInput{QueueUrl: &url, Tags: tags}); err != nil {
		return fmt.Errorf("tagging queue %s: %w", url, err)
	}
	return nil
}

func (queueProvider) attrs(ctx context.Context, c *sqs.Client, name, url string) (SQSQueueAttrs, error) {
	out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		return SQSQueueAttrs{}, fmt.Errorf("reading the ARN of queue %s: %w", name, err)
	}
	return SQSQueueAttrs{QueueURL: url, QueueArn: out.Attributes[string(types.QueueAttributeNameQueueArn)], QueueName: name}, nil
}

// Delete deletes the queue. Ownership is the engine's to prove before it
// calls Delete; a queue already gone is success.
func (p queueProvider) Delete(ctx context.Context, r *queueRequest) error {
	c, err := p.client(ctx, r)
	if err != nil {
		return err
	}
	url := r.OldAttrs.QueueURL
	if url == "" {
		// The engine passes the attributes Read found for a row that has
		// none; find the queue by name otherwise.
		name := queueName(r, r.OldProps)
		got, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &name})
		if queueGone(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("finding queue %s: %w", name, err)
		}
		url = *got.QueueUrl
	}
	if _, err := c.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: &url}); err != nil && !queueGone(err) {
		return fmt.Errorf("deleting queue %s: %w", url, err)
	}
	return nil
}

func errorAs[E error](err error) bool {
	var e E
	return errors.As(err, &e)
}
