package aws_test

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/aws"
	"github.com/alchemy-go/alchemy/internal/cli"
	"github.com/alchemy-go/alchemy/internal/stacktest"
	"github.com/alchemy-go/alchemy/internal/testpeers"
	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

type queueConfig struct {
	main     bool
	mainName string
	vis      int
	tags     map[string]string
}

// queueStack is a dead-letter queue, a queue redriving into it (its ARN
// feeds the other's props: a dependency edge), and a FIFO queue.
func queueStack(c *queueConfig) *cli.StackProgram {
	return stacktest.Program("sqstest", func(s *alchemy.Stack) {
		dlq := aws.NewSQSQueue(s, "DLQ", aws.SQSQueueProps{MessageRetentionPeriod: alchemy.Int(1209600)})
		if c.main {
			props := aws.SQSQueueProps{
				DeadLetterTargetArn: dlq.QueueArn,
				MaxReceiveCount:     alchemy.Int(3),
				VisibilityTimeout:   alchemy.Int(c.vis),
				Tags:                alchemy.V(c.tags),
			}
			if c.mainName != "" {
				props.QueueName = alchemy.String(c.mainName)
			}
			m := aws.NewSQSQueue(s, "Main", props)
			s.Output("mainUrl", m.QueueURL)
		}
		f := aws.NewSQSQueue(s, "Ordered", aws.SQSQueueProps{Fifo: alchemy.Bool(true)})
		s.Output("fifoName", f.QueueName)
	})
}

// queues maps the peer's queue names to their URLs.
func queues(t *testing.T, c *sqs.Client) map[string]string {
	t.Helper()
	out, err := c.ListQueues(context.Background(), &sqs.ListQueuesInput{})
	if err != nil {
		t.Fatalf("ListQueues: %v", err)
	}
	m := map[string]string{}
	for _, u := range out.QueueUrls {
		m[u[strings.LastIndex(u, "/")+1:]] = u
	}
	return m
}

// queueByPrefix is the one queue whose name starts with prefix.
func queueByPrefix(t *testing.T, qs map[string]string, prefix string) (name, url string) {
	t.Helper()
	for n, u := range qs {
		if strings.HasPrefix(n, prefix) {
			if name != "" {
				t.Fatalf("two queues named %s*: %v", prefix, qs)
			}
			name, url = n, u
		}
	}
	if name == "" {
		t.Fatalf("no queue named %s*: %v", prefix, qs)
	}
	return name, url
}

func queueAttrs(t *testing.T, c *sqs.Client, url string) (map[string]string, map[string]string) {
	t.Helper()
	ctx := context.Background()
	a, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll}})
	if err != nil {
		t.Fatalf("GetQueueAttributes %s: %v", url, err)
	}
	tags, err := c.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: &url})
	if err != nil {
		t.Fatalf("ListQueueTags %s: %v", url, err)
	}
	return a.Attributes, tags.Tags
}

func TestSQSQueueLifecycle(t *testing.T) {
	started := time.Now()
	peer := testpeers.LocalSQS(t)
	t.Logf("local-aws-sqs ready in %v", time.Since(started).Round(time.Millisecond))
	awsTestEnv(t, map[string]string{"AWS_ENDPOINT_URL_SQS": peer.URL})
	c := sqs.NewFromConfig(sdkConfig(t))
	cfg := &queueConfig{main: true, vis: 20, tags: map[string]string{"team": "a"}}

	// Create: the DLQ first, its ARN in Main's redrive policy.
	r := mustRun(t, queueStack(cfg), "deploy", "--yes")
	qs := queues(t, c)
	if len(qs) != 3 {
		t.Fatalf("queues after create: %v", qs)
	}
	_, dlqURL := queueByPrefix(t, qs, "sqstest-DLQ-dev-tester-")
	mainName, mainURL := queueByPrefix(t, qs, "sqstest-Main-dev-tester-")
	fifoName, fifoURL := queueByPrefix(t, qs, "sqstest-Ordered-dev-tester-")
	if !strings.HasSuffix(fifoName, ".fifo") || !strings.Contains(r.out, "fifoName: "+fifoName) {
		t.Errorf("FIFO queue name %q (output:\n%s)", fifoName, r.out)
	}
	if a, _ := queueAttrs(t, c, fifoURL); a["FifoQueue"] != "true" {
		t.Errorf("FIFO queue attributes: %v", a)
	}
	dlqAttrs, _ := queueAttrs(t, c, dlqURL)
	if dlqAttrs["MessageRetentionPeriod"] != "1209600" {
		t.Errorf("DLQ attributes: %v", dlqAttrs)
	}
	a, tags := queueAttrs(t, c, mainURL)
	var redrive struct {
		DeadLetterTargetArn string `json:"deadLetterTargetArn"`
		MaxReceiveCount     any    `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(a["RedrivePolicy"]), &redrive); err != nil ||
		redrive.DeadLetterTargetArn != dlqAttrs["QueueArn"] || redrive.DeadLetterTargetArn == "" {
		t.Errorf("redrive policy %q (%v), want the DLQ's ARN %s", a["RedrivePolicy"], err, dlqAttrs["QueueArn"])
	}
	if a["VisibilityTimeout"] != "20" {
		t.Errorf("VisibilityTimeout = %q, want 20", a["VisibilityTimeout"])
	}
	for k, want := range map[string]string{"team": "a", "alchemy::stack": "sqstest", "alchemy::stage": "dev_tester", "alchemy::id": "Main"} {
		if tags[k] != want {
			t.Errorf("tag %s = %q, want %q (tags %v)", k, tags[k], want, tags)
		}
	}

	// No-op re-deploy.
	r = mustRun(t, queueStack(cfg), "deploy", "--yes")
	if !strings.Contains(r.out, "Plan: no changes") {
		t.Errorf("re-deploy was not a no-op:\n%s", r.out)
	}

	// Update attributes and tags in place; the removed tag is gone.
	cfg.vis, cfg.tags = 45, map[string]string{"owner": "b"}
	r = mustRun(t, queueStack(cfg), "deploy", "--yes")
	if !strings.Contains(r.out, "Plan: 1 to update") {
		t.Errorf("attribute change is not an update:\n%s", r.out)
	}
	a, tags = queueAttrs(t, c, mainURL)
	if a["VisibilityTimeout"] != "45" || tags["owner"] != "b" || tags["team"] != "" || tags["alchemy::id"] != "Main" {
		t.Errorf("after update: VisibilityTimeout %q, tags %v", a["VisibilityTimeout"], tags)
	}
	if !strings.Contains(a["RedrivePolicy"], dlqAttrs["QueueArn"]) {
		t.Errorf("update lost the redrive policy: %q", a["RedrivePolicy"])
	}

	// Replace (name change): new queue created, old one deleted.
	cfg.mainName = "sqstest-main-renamed"
	r = mustRun(t, queueStack(cfg), "deploy", "--yes")
	if !strings.Contains(r.out, "Plan: 1 to replace") {
		t.Errorf("name change is not a replace:\n%s", r.out)
	}
	qs = queues(t, c)
	if _, ok := qs[mainName]; ok || qs["sqstest-main-renamed"] == "" || len(qs) != 3 {
		t.Fatalf("queues after replace: %v", qs)
	}
	if a, _ := queueAttrs(t, c, qs["sqstest-main-renamed"]); !strings.Contains(a["RedrivePolicy"], dlqAttrs["QueueArn"]) {
		t.Errorf("replacement lacks the redrive policy: %v", a)
	}

	// Removal from the stack deletes it.
	cfg.main = false
	mustRun(t, queueStack(cfg), "deploy", "--yes")
	if qs = queues(t, c); len(qs) != 2 || qs["sqstest-main-renamed"] != "" {
		t.Fatalf("queues after removal: %v", qs)
	}

	// Destroy with the DLQ already deleted behind alchemy's back succeeds.
	if _, err := c.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: sdkaws.String(dlqURL)}); err != nil {
		t.Fatal(err)
	}
	mustRun(t, queueStack(cfg), "destroy", "--yes")
	if qs = queues(t, c); len(qs) != 0 {
		t.Fatalf("queues after destroy: %v", qs)
	}
	if _, err := os.Stat(filepath.Join(".alchemy", "state", "sqstest", "dev_tester")); !os.IsNotExist(err) {
		t.Fatalf("destroy left state: %v", err)
	}
}

// oneQueue is a stack of one queue "Q" with an explicit name.
func oneQueue(name string, vis int, tags map[string]string) *cli.StackProgram {
	return stacktest.Program("sqstest", func(s *alchemy.Stack) {
		aws.NewSQSQueue(s, "Q", aws.SQSQueueProps{QueueName: alchemy.String(name), VisibilityTimeout: alchemy.Int(vis), Tags: alchemy.V(tags)})
	})
}

func startLocalSQS(t *testing.T) *sqs.Client {
	t.Helper()
	peer := testpeers.LocalSQS(t)
	awsTestEnv(t, map[string]string{"AWS_ENDPOINT_URL_SQS": peer.URL})
	return sqs.NewFromConfig(sdkConfig(t))
}

// createQueueDirect makes a queue behind alchemy's back, with one message
// in it.
func createQueueDirect(t *testing.T, c *sqs.Client, name string, attrs, tags map[string]string) string {
	t.Helper()
	ctx := context.Background()
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &name, Attributes: attrs, Tags: tags})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: out.QueueUrl, MessageBody: sdkaws.String("keep me")}); err != nil {
		t.Fatal(err)
	}
	return *out.QueueUrl
}

// A queue that exists under the declared name without this resource's
// ownership tags is refused without --adopt (untouched, and never deleted
// by destroy) and taken over with it.
func TestSQSQueueExistingNeedsAdopt(t *testing.T) {
	c := startLocalSQS(t)
	const name = "theirs"
	url := createQueueDirect(t, c, name, map[string]string{"VisibilityTimeout": "99"}, map[string]string{"owner": "them"})
	prog := oneQueue(name, 10, map[string]string{"team": "a"})
	untouched := func(when string) {
		t.Helper()
		a, tags := queueAttrs(t, c, url)
		if a["VisibilityTimeout"] != "99" || a["ApproximateNumberOfMessages"] != "1" || !maps.Equal(tags, map[string]string{"owner": "them"}) {
			t.Errorf("%s: attributes %v, tags %v", when, a, tags)
		}
	}

	r := run(t, prog, "deploy", "--yes")
	wantRefused(t, r, "Q", "AWS.SQS.Queue", "queue "+name, "")
	untouched("after the refused deploy")
	wantContains(t, mustRun(t, prog, "plan"), "Plan: 1 to create")
	mustRun(t, prog, "destroy", "--yes")
	untouched("after destroy")

	r = mustRun(t, prog, "deploy", "--yes", "--adopt")
	wantContains(t, r, "queue "+name+" already exists: taking it over (--adopt)")
	a, tags := queueAttrs(t, c, url)
	if want := map[string]string{"team": "a", "alchemy::stack": "sqstest", "alchemy::stage": "dev_tester", "alchemy::id": "Q"}; !maps.Equal(tags, want) {
		t.Errorf("tags after --adopt %v, want %v", tags, want)
	}
	if a["VisibilityTimeout"] != "10" || a["ApproximateNumberOfMessages"] != "1" {
		t.Errorf("attributes after --adopt: %v", a)
	}
	if row := getRow(t, "sqstest", "Q"); row == nil || attrOf(t, row, "queueUrl") != url {
		t.Errorf("row after --adopt: %+v", row)
	}
	wantContains(t, mustRun(t, prog, "plan"), "Plan: no changes")
	mustRun(t, prog, "destroy", "--yes")
	if qs := queues(t, c); len(qs) != 0 {
		t.Fatalf("queues after destroying the adopted one: %v", qs)
	}
}

// A queue stamped by another stage of the same stack is that stage's: it
// is refused, naming that owner.
func TestSQSQueueOfAnotherStage(t *testing.T) {
	c := startLocalSQS(t)
	prod := map[string]string{"alchemy::stack": "sqstest", "alchemy::stage": "prod", "alchemy::id": "Q"}
	url := createQueueDirect(t, c, "shared", nil, prod)
	r := run(t, oneQueue("shared", 10, nil), "deploy", "--yes")
	wantRefused(t, r, "Q", "AWS.SQS.Queue", "queue shared", "sqstest/prod/Q")
	if a, tags := queueAttrs(t, c, url); !maps.Equal(tags, prod) || a["VisibilityTimeout"] != "30" {
		t.Errorf("the other stage's queue changed: %v %v", a, tags)
	}
}

// A create interrupted after CreateQueue leaves a claimed row without
// attributes: the next deploy takes the queue over even when its tags are
// missing (here: removed behind alchemy's back). The same row unclaimed
// proves nothing: refused, and destroy leaves the queue alone.
func TestSQSQueueInterruptedCreate(t *testing.T) {
	c := startLocalSQS(t)
	props := func(name string) map[string]any { return map[string]any{"queueName": name, "visibilityTimeout": 10} }

	unclaimed := createQueueDirect(t, c, "unclaimed", nil, nil)
	putRow(t, "sqstest", interruptedRow("AWS.SQS.Queue", "Q", props("unclaimed"), false))
	r := run(t, oneQueue("unclaimed", 10, nil), "deploy", "--yes")
	wantRefused(t, r, "Q", "AWS.SQS.Queue", "queue unclaimed", "")
	mustRun(t, oneQueue("unclaimed", 10, nil), "destroy", "--yes")
	if a, tags := queueAttrs(t, c, unclaimed); len(tags) != 0 || a["VisibilityTimeout"] != "30" {
		t.Errorf("the unclaimed queue changed: %v %v", a, tags)
	}

	claimed := createQueueDirect(t, c, "claimed", nil, nil)
	putRow(t, "sqstest", interruptedRow("AWS.SQS.Queue", "Q", props("claimed"), true))
	r = mustRun(t, oneQueue("claimed", 10, nil), "deploy", "--yes")
	wantContains(t, r, "queue claimed is the one an interrupted create of this resource made: taking it over")
	a, tags := queueAttrs(t, c, claimed)
	if tags["alchemy::id"] != "Q" || tags["alchemy::stage"] != "dev_tester" || a["VisibilityTimeout"] != "10" {
		t.Errorf("resumed queue: %v %v", a, tags)
	}
	mustRun(t, oneQueue("claimed", 10, nil), "destroy", "--yes")
	if qs := queues(t, c); len(qs) != 1 || qs["unclaimed"] == "" {
		t.Fatalf("queues after destroy: %v, want only the unclaimed one", qs)
	}
}
