package aws_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/aws"
	"github.com/alchemy-go/alchemy/internal/auth/bundled"
	"github.com/alchemy-go/alchemy/internal/cli"
	"github.com/alchemy-go/alchemy/internal/iostreams"
	"github.com/alchemy-go/alchemy/internal/stacktest"
	"github.com/alchemy-go/alchemy/internal/testpeers"
)

// BenchmarkMixed50 deploys, re-deploys unchanged and destroys a stack of 50
// mixed AWS resources (20 SQS queues, 15 S3 buckets, 15 DynamoDB tables)
// against the peers (local-aws-sqs, s3rver, dynalite), through the engine.
// It reports each phase in ms/op:
//
//	go test -run '^$' -bench Mixed50 -benchtime 3x ./aws/
func BenchmarkMixed50(b *testing.B) {
	sqsPeer, s3Peer, ddbPeer := testpeers.LocalSQS(b), testpeers.S3rver(b), testpeers.Dynalite(b)
	dir := b.TempDir()
	b.Chdir(dir)
	for k, v := range map[string]string{
		"ALCHEMY_HOME": filepath.Join(dir, "home"), "HOME": filepath.Join(dir, "userhome"),
		"AWS_CONFIG_FILE": filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "none"),
		"CI": "true", "USER": "bench", "ALCHEMY_PROFILE": "", "ALCHEMY_STAGE": "", "STAGE": "", "AWS_PROFILE": "",
		"AWS_ACCESS_KEY_ID": testpeers.S3rverAccessKeyID, "AWS_SECRET_ACCESS_KEY": testpeers.S3rverSecretAccessKey,
		"AWS_SESSION_TOKEN": "", "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": testpeers.LeakGuardEndpoint,
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL_SQS": sqsPeer.URL, "AWS_ENDPOINT_URL_S3": s3Peer.URL,
		"AWS_ENDPOINT_URL_DYNAMODB": ddbPeer.URL, aws.EnvTolerateNotImplemented: "1", aws.EnvDynamoDBTolerateUnknownOperation: "1",
	} {
		b.Setenv(k, v)
	}
	prog := stacktest.Program("mixed", func(s *alchemy.Stack) {
		for i := range 20 {
			aws.NewSQSQueue(s, fmt.Sprintf("Q%02d", i), aws.SQSQueueProps{VisibilityTimeout: alchemy.Int(30)})
		}
		for i := range 15 {
			aws.NewS3Bucket(s, fmt.Sprintf("B%02d", i), aws.S3BucketProps{})
			aws.NewDynamoDBTable(s, fmt.Sprintf("T%02d", i), aws.DynamoDBTableProps{PartitionKey: alchemy.String("pk")})
		}
	})
	run := func(args ...string) {
		io, _, out, errOut := iostreams.Test()
		f := &cli.Factory{IO: io, Registry: bundled.Registry, Now: time.Now, Stack: prog}
		root := cli.NewRoot(f)
		root.SetArgs(args)
		if code := cli.ExitCode(io, root.ExecuteContext(context.Background())); code != 0 {
			b.Fatalf("%v: exit %d\n%s\n%s", args, code, out, errOut)
		}
	}
	var deploy, noop, destroy time.Duration
	for b.Loop() {
		start := time.Now()
		run("deploy", "--yes")
		deploy += time.Since(start)
		start = time.Now()
		run("deploy", "--yes")
		noop += time.Since(start)
		start = time.Now()
		run("destroy", "--yes")
		destroy += time.Since(start)
	}
	n := float64(b.N)
	b.ReportMetric(float64(deploy.Milliseconds())/n, "deploy-ms/op")
	b.ReportMetric(float64(noop.Milliseconds())/n, "noop-deploy-ms/op")
	b.ReportMetric(float64(destroy.Milliseconds())/n, "destroy-ms/op")
}
