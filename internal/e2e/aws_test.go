//go:build unix

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/alchemy-go/alchemy/internal/testpeers"
)

// awsPeers are S3 (s3rver), DynamoDB (dynalite) and SQS (local-aws-sqs),
// the environment that points alchemy at them, and SDK clients on them.
type awsPeers struct {
	env []string
	s3  *s3.Client
	sqs *sqs.Client
	ddb *dynamodb.Client
}

func startAWSPeers(t *testing.T) *awsPeers {
	t.Helper()
	s3p, ddbp, sqsp := testpeers.S3rver(t), testpeers.Dynalite(t), testpeers.LocalSQS(t)
	cfg := sdkaws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(testpeers.S3rverAccessKeyID, testpeers.S3rverSecretAccessKey, "")}
	return &awsPeers{
		// As in CI: keys in the environment. Every service without a peer
		// goes to the catch-all endpoint of the world's environment, where
		// nothing answers. alchemy reaches the peers through steadyProxy:
		// the tests kill it mid-request.
		env: []string{"CI=true",
			"AWS_ACCESS_KEY_ID=" + testpeers.S3rverAccessKeyID, "AWS_SECRET_ACCESS_KEY=" + testpeers.S3rverSecretAccessKey,
			"AWS_REGION=us-east-1",
			"AWS_ENDPOINT_URL_S3=" + steadyProxy(t, s3p.URL), "AWS_ENDPOINT_URL_DYNAMODB=" + steadyProxy(t, ddbp.URL),
			"AWS_ENDPOINT_URL_SQS=" + steadyProxy(t, sqsp.URL),
			// s3rver answers 501 to tagging and the public access block,
			// dynalite UnknownOperation to time to live.
			"ALCHEMY_S3_TOLERATE_NOT_IMPLEMENTED=1", "ALCHEMY_DYNAMODB_TOLERATE_UNKNOWN_OPERATION=1",
		},
		s3: s3.NewFromConfig(cfg, func(o *s3.Options) {
			o.BaseEndpoint, o.UsePathStyle = sdkaws.String(s3p.URL), true
			o.RequestChecksumCalculation = sdkaws.RequestChecksumCalculationWhenRequired
		}),
		sqs: sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = sdkaws.String(sqsp.URL) }),
		ddb: dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = sdkaws.String(ddbp.URL) }),
	}
}

// steadyProxy serves a peer at a URL of its own, forwarding each request
// once its body has arrived and carrying it through even when the client
// goes away before the answer, as AWS does. A request whose client went
// away before its body arrived never reaches the peer. dynalite crashes
// (an 'aborted' error thrown from its request handler) when a client
// disconnects mid-request, which a SIGKILLed alchemy does.
func steadyProxy(t *testing.T, upstream string) string {
	t.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ErrorLog = log.New(io.Discard, "", 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		fwd := r.Clone(context.WithoutCancel(r.Context()))
		fwd.Body, fwd.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		fwd.TransferEncoding = nil
		rp.ServeHTTP(w, fwd)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// awsNames are the names of the buckets, queues and tables in the peers.
type awsNames struct{ buckets, queues, tables []string }

func (p *awsPeers) names(t *testing.T) awsNames {
	t.Helper()
	ctx := context.Background()
	var n awsNames
	bs, err := p.s3.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	for _, b := range bs.Buckets {
		n.buckets = append(n.buckets, sdkaws.ToString(b.Name))
	}
	qs, err := p.sqs.ListQueues(ctx, &sqs.ListQueuesInput{})
	if err != nil {
		t.Fatalf("ListQueues: %v", err)
	}
	for _, u := range qs.QueueUrls {
		n.queues = append(n.queues, u[strings.LastIndex(u, "/")+1:])
	}
	ts, err := p.ddb.ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatalf("ListTables: %v", err)
	}
	n.tables = ts.TableNames
	for _, s := range [][]string{n.buckets, n.queues, n.tables} {
		sort.Strings(s)
	}
	return n
}

// matching keeps the names that start with prefix (case-insensitive) and
// contain part.
func matching(names []string, prefix, part string) []string {
	var out []string
	for _, n := range names {
		l := strings.ToLower(n)
		if strings.HasPrefix(l, prefix) && strings.Contains(l, part) {
			out = append(out, n)
		}
	}
	return out
}

// TestAWSPeers deploys AWS stacks through the binary against the AWS
// peers: resources that exist before the stack are refused without --adopt
// and left alone, and deploys SIGKILLed at any point leave neither orphans
// nor resources the next deploy refuses.
func TestAWSPeers(t *testing.T) {
	t.Parallel()
	p := startAWSPeers(t)

	t.Run("ExistingNeedAdopt", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		w := newWorld(t)
		stack := w.project(fixture("awsnamed"))
		const bucket, queue, table = "e2e-named-bucket", "e2e-named-queue", "e2e-named-table"

		// Someone made them first, with something in each.
		if _, err := p.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: sdkaws.String(bucket)}); err != nil {
			t.Fatal(err)
		}
		if _, err := p.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: sdkaws.String(bucket), Key: sdkaws.String("keep.txt"),
			Body: strings.NewReader("theirs")}); err != nil {
			t.Fatal(err)
		}
		q, err := p.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: sdkaws.String(queue)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: sdkaws.String("theirs")}); err != nil {
			t.Fatal(err)
		}
		if _, err := p.ddb.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: sdkaws.String(table),
			AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: sdkaws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
			KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: sdkaws.String("id"), KeyType: ddbtypes.KeyTypeHash}},
			BillingMode:          ddbtypes.BillingModePayPerRequest}); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			d, err := p.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: sdkaws.String(table)})
			if err == nil && d.Table.TableStatus == ddbtypes.TableStatusActive {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("table %s never became active: %v", table, err)
			}
		}
		if _, err := p.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: sdkaws.String(table),
			Item: map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "theirs"}}}); err != nil {
			t.Fatal(err)
		}
		// What they hold is still there.
		contents := func(when string) {
			t.Helper()
			if _, err := p.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: sdkaws.String(bucket), Key: sdkaws.String("keep.txt")}); err != nil {
				t.Errorf("%s: the bucket's object: %v", when, err)
			}
			a, err := p.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
			if err != nil || a.Attributes["ApproximateNumberOfMessages"] != "1" {
				t.Errorf("%s: the queue's message: %v %v", when, a, err)
			}
			it, err := p.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: sdkaws.String(table),
				Key: map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "theirs"}}})
			if err != nil || len(it.Item) == 0 {
				t.Errorf("%s: the table's item: %v", when, err)
			}
		}
		untouched := func(when string) {
			t.Helper()
			n := p.names(t)
			if len(matching(n.buckets, bucket, "")) != 1 || len(matching(n.queues, queue, "")) != 1 || len(matching(n.tables, table, "")) != 1 {
				t.Fatalf("%s: %+v", when, n)
			}
			contents(when)
		}
		untouched("before the deploy")

		r := w.runEnv(p.env, "deploy", stack, "--yes")
		if r.code != 1 {
			t.Fatalf("deploy onto existing resources: want exit 1; %s", r)
		}
		for _, want := range []string{
			"Cannot adopt resource 'Bucket' (AWS.S3.Bucket): bucket " + bucket + " exists in the cloud but is not owned by this stack/stage/logical-id",
			"Cannot adopt resource 'Queue'", queue,
			"Cannot adopt resource 'Table'", table,
			"Re-run with `--adopt` to take it over",
		} {
			requireContains(t, "refused deploy", r.stdout+r.stderr, want)
		}
		untouched("after the refused deploy")
		stateDir := w.path(".alchemy", "state", "awsnamed", "dev_tester")
		if rows, _ := stateRows(t, stateDir); len(rows) != 0 {
			t.Errorf("the refused resources have state rows: %v", rows)
		}

		r = w.runEnv(p.env, "destroy", stack, "--yes")
		if r.code != 0 {
			t.Fatalf("destroy after the refused deploy: %s", r)
		}
		untouched("after destroy")

		r = w.runEnv(p.env, "deploy", stack, "--yes", "--adopt")
		if r.code != 0 {
			t.Fatalf("deploy --adopt: %s", r)
		}
		requireContains(t, "deploy --adopt", r.stdout, "bucket "+bucket+" already exists: taking it over (--adopt)", "Done: 3 succeeded, 0 failed, 0 skipped")
		if n := strings.Count(r.stdout, "taking it over (--adopt)"); n < 3 {
			t.Errorf("deploy --adopt took over %d resources, want 3:\n%s", n, r.stdout)
		}
		untouched("after deploy --adopt")
		if r := w.runEnv(p.env, "plan", stack); r.code != 0 || !strings.Contains(r.stdout, "Plan: no changes") {
			t.Errorf("plan after --adopt: %s", r)
		}
		// Now they are the stack's: destroy deletes them.
		if r := w.runEnv(p.env, "destroy", stack, "--yes"); r.code != 0 {
			t.Fatalf("destroy of the adopted resources: %s", r)
		}
		n := p.names(t)
		if len(matching(n.buckets, bucket, "")) != 0 || len(matching(n.queues, queue, "")) != 0 || len(matching(n.tables, table, "")) != 0 {
			t.Errorf("destroy left adopted resources: %+v", n)
		}
	})

	t.Run("KillLoop", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		stack := w.project(fixture("awsgen"))
		const prefix = "awsgen-"

		// How long a whole deploy takes here (the stack file built before),
		// to spread the kills over it.
		if r := w.runEnv(p.env, "plan", stack, "--stage", "warm"); r.code != 0 {
			t.Fatalf("plan: %s", r)
		}
		full := w.runEnv(p.env, "deploy", stack, "--stage", "warm", "--yes")
		if full.code != 0 {
			t.Fatalf("deploy: %s", full)
		}
		t.Logf("a whole deploy takes %v", full.took.Round(time.Millisecond))
		stages := []string{"warm"}

		// exactlyDeclared checks that a stage has exactly one bucket, queue
		// and table, those its state names, and nothing left to do.
		exactlyDeclared := func(stage string) {
			t.Helper()
			n := p.names(t)
			part := "-" + stage + "-"
			bs, qs, ts := matching(n.buckets, prefix, part), matching(n.queues, prefix, part), matching(n.tables, prefix, part)
			if len(bs) != 1 || len(qs) != 1 || len(ts) != 1 {
				t.Errorf("stage %s: buckets %v, queues %v, tables %v; want one of each", stage, bs, qs, ts)
				return
			}
			rows, _ := stateRows(t, w.path(".alchemy", "state", "awsgen", stage))
			for fqn, want := range map[string]struct{ attr, name string }{
				"Bucket": {"bucketName", bs[0]}, "Queue": {"queueName", qs[0]}, "Table": {"tableName", ts[0]},
			} {
				var attrs map[string]any
				_ = json.Unmarshal(rows[fqn].Attr, &attrs)
				if rows[fqn].Status != "created" || attrs[want.attr] != want.name {
					t.Errorf("stage %s: row %s is %q with %s %v; the peer has %s", stage, fqn, rows[fqn].Status, want.attr, attrs[want.attr], want.name)
				}
			}
			if r := w.runEnv(p.env, "plan", stack, "--stage", stage); r.code != 0 || !strings.Contains(r.stdout, "Plan: no changes") {
				t.Errorf("stage %s: plan after the final deploy: %s", stage, r)
			}
		}
		// finish deploys a stage to completion: no refusal of what a killed
		// run made.
		finish := func(stage string) {
			t.Helper()
			r := w.runEnv(p.env, "deploy", stack, "--stage", stage, "--yes")
			if r.code != 0 || strings.Contains(r.stdout+r.stderr, "not owned") || strings.Contains(r.stdout+r.stderr, "Cannot adopt") {
				t.Fatalf("stage %s: deploy after the kill: %s", stage, r)
			}
			exactlyDeclared(stage)
		}
		exactlyDeclared("warm")

		// A fresh stage per kill point: a deploy killed once, then finished.
		// The kill points are after the deploy's first state commit (the
		// rows it is about to create the resources for), with a growing
		// delay, so that they land in and around the create calls.
		landed := 0
		delays := []time.Duration{0, 1, 2, 4, 7, 10, 15, 20, 30, 45, 70, 100}
		for i, d := range delays {
			d *= time.Millisecond
			stage := fmt.Sprintf("k%d", i)
			stages = append(stages, stage)
			journal := w.path(".alchemy", "state", "awsgen", stage, ".journal")
			var since time.Time
			killed, r := killWhen(t, w, p.env, func(time.Duration) bool {
				if since.IsZero() && exists(t, journal) {
					since = time.Now()
				}
				return !since.IsZero() && time.Since(since) >= d
			}, "deploy", stack, "--stage", stage, "--yes")
			t.Logf("stage %s, kill %v after the first commit: %s", stage, d, killPointAWS(t, p, w, stage, killed))
			if killed {
				landed++
			} else if r.code != 0 {
				t.Fatalf("an unkilled deploy failed: %s", r)
			}
			finish(stage)
		}
		if landed < len(delays)/2 {
			t.Errorf("only %d of %d kills landed before the deploy finished", landed, len(delays))
		}
		// One stage, killed again and again at points in time, each deploy
		// resuming what the last left.
		stages = append(stages, "again")
		for _, f := range []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.7} {
			after := time.Duration(float64(full.took) * f)
			killed, r := killWhen(t, w, p.env, func(elapsed time.Duration) bool { return elapsed >= after },
				"deploy", stack, "--stage", "again", "--yes")
			t.Logf("stage again, kill after %v: %s", after, killPointAWS(t, p, w, "again", killed))
			if !killed && r.code != 0 {
				t.Fatalf("an unkilled deploy failed: %s", r)
			}
		}
		finish("again")

		// Nothing else of the stack exists in the peers.
		n := p.names(t)
		for what, names := range map[string][]string{"buckets": n.buckets, "queues": n.queues, "tables": n.tables} {
			if got := matching(names, prefix, ""); len(got) != len(stages) {
				t.Errorf("%d %s of the stack for %d stages (orphans?): %v", len(got), what, len(stages), got)
			}
		}

		for _, stage := range stages {
			if r := w.runEnv(p.env, "destroy", stack, "--stage", stage, "--yes"); r.code != 0 {
				t.Errorf("destroy of stage %s: %s", stage, r)
			}
		}
		n = p.names(t)
		if bs, qs, ts := matching(n.buckets, prefix, ""), matching(n.queues, prefix, ""), matching(n.tables, prefix, ""); len(bs)+len(qs)+len(ts) != 0 {
			t.Errorf("destroy left buckets %v, queues %v, tables %v", bs, qs, ts)
		}
		if left := listDir(t, w.path(".alchemy", "state", "awsgen")); len(left) != 0 {
			t.Errorf("destroy left the state of stages %v", left)
		}
	})
}

// killPointAWS says where a kill of a deploy of the awsgen stack landed:
// what exists in the peers, and the state rows' statuses.
func killPointAWS(t *testing.T, p *awsPeers, w *world, stage string, killed bool) string {
	t.Helper()
	if !killed {
		return "not killed: the deploy finished first"
	}
	n := p.names(t)
	part := "-" + stage + "-"
	rows, journal := stateRows(t, w.path(".alchemy", "state", "awsgen", stage))
	statuses := map[string]string{}
	for fqn, r := range rows {
		statuses[fqn] = r.Status
	}
	return fmt.Sprintf("killed with %d bucket(s), %d queue(s), %d table(s) in the peers; rows %v (journal %v)",
		len(matching(n.buckets, "awsgen-", part)), len(matching(n.queues, "awsgen-", part)), len(matching(n.tables, "awsgen-", part)), statuses, journal)
}

// killWhen runs `alchemy args...` and SIGKILLs its process group (alchemy
// and the stack program) as soon as when, polled about every half
// millisecond with the time since the start, says so, unless it finished
// first. killed is false when it exited on its own; r is then its result.
func killWhen(t *testing.T, w *world, extra []string, when func(elapsed time.Duration) bool, args ...string) (killed bool, r result) {
	t.Helper()
	cmd := w.command(extra, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	finished := func(err error) result {
		r := result{args: args, stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
		r.code, _ = exitCode(t, err)
		return r
	}
	for !when(time.Since(start)) {
		select {
		case err := <-done:
			return false, finished(err)
		case <-time.After(runTimeout - time.Since(start)):
			killGroup(cmd)
			<-done
			t.Fatalf("alchemy %s did not finish within %v", strings.Join(args, " "), runTimeout)
		default:
			time.Sleep(500 * time.Microsecond)
		}
	}
	killGroup(cmd)
	err := <-done
	if _, sigkill := exitCode(t, err); !sigkill {
		return false, finished(err)
	}
	reapGroup(cmd.Process.Pid)
	gone := time.Now().Add(10 * time.Second)
	for groupAlive(cmd.Process.Pid) {
		if time.Now().After(gone) {
			t.Fatalf("a process of the killed run's group is still alive")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true, finished(err)
}
