package aws_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/aws"
	"github.com/alchemy-go/alchemy/internal/cli"
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
	return alchemy.Program("sqstest", func(s *alchemy.Stack) {
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

// A queue with the chosen name that is someone else's is refused without
// --adopt, and cleaning up the failed create leaves it alone.
func TestSQSQueueOfSomeoneElse(t *testing.T) {
	peer := testpeers.LocalSQS(t)
	awsTestEnv(t, map[string]string{"AWS_ENDPOINT_URL_SQS": peer.URL})
	c := sqs.NewFromConfig(sdkConfig(t))
	name := "theirs"
	if _, err := c.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: &name, Attributes: map[string]string{"VisibilityTimeout": "99"}}); err != nil {
		t.Fatal(err)
	}
	prog := alchemy.Program("sqstest", func(s *alchemy.Stack) {
		aws.NewSQSQueue(s, "Q", aws.SQSQueueProps{QueueName: alchemy.String(name), VisibilityTimeout: alchemy.Int(10)})
	})
	r := run(t, prog, "deploy", "--yes")
	if r.code == 0 || !strings.Contains(r.errOut, "Cannot adopt resource 'Q' (AWS.SQS.Queue): queue theirs exists in the cloud but is not owned") {
		t.Fatalf("deploy over someone else's queue: %d %s", r.code, r.errOut)
	}
	if r := run(t, prog, "destroy", "--yes"); r.code != 0 {
		t.Fatalf("destroy: %d %s", r.code, r.errOut)
	}
	if _, err := c.GetQueueUrl(context.Background(), &sqs.GetQueueUrlInput{QueueName: &name}); err != nil {
		t.Fatalf("someone else's queue was deleted: %v", err)
	}
}
