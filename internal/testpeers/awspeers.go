package testpeers

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// S3rver only accepts signed requests whose access key id is S3rverAccessKeyID
// (anything else gets 403 InvalidAccessKeyId). It does not compute SigV4
// signatures, so the secret is not checked; S3rverSecretAccessKey is the one
// that would match.
const (
	S3rverAccessKeyID     = "S3RVER"
	S3rverSecretAccessKey = "S3RVER"
)

// S3rver starts the npm `s3rver` 3.7.1 peer (S3 with access key checks) on a free
// 127.0.0.1 port with a fresh t.TempDir() as its data directory, on the
// `node` found in PATH (it runs on Node 20), and returns it once GET /
// answers. Point AWS_ENDPOINT_URL_S3 at URL and sign with
// S3rverAccessKeyID/S3rverSecretAccessKey.
//
// What it does not do (shared/spec/test-peers.md §2.2): bucket tagging,
// policy, public access block, encryption and lifecycle return 501
// NotImplemented; PutBucketVersioning returns 409.
//
// A missing install fails the test (run ./scripts/test); it never skips.
func S3rver(t testing.TB) *Peer {
	t.Helper()
	node := nodeInPath(t, "s3rver")
	script := filepath.Join(peersDir(t, "s3rver"), "node_modules", "s3rver", "bin", "s3rver.js")
	RequireInstalled(t, "s3rver", script)
	data := t.TempDir()
	return startOnFreePort(t, "s3rver", func(port string) []string {
		return []string{node, script, "-d", data, "-a", "127.0.0.1", "-p", port, "--silent"}
	}, "/")
}

// LocalSQS starts the npm `local-aws-sqs` 2.0.2 peer (SQS, JSON and query
// protocols) on a free 127.0.0.1 port, on the `node` found in PATH, and
// returns it once it answers HTTP. Point AWS_ENDPOINT_URL_SQS at URL.
//
// The package has no CLI: it is started with `node -e`, requiring the
// package by path, with emulateQueueCreationLifecycle off (otherwise
// re-creating a deleted queue name waits 60 s, as on AWS). It checks no
// credentials or signatures. Queue URLs are URL/123456789012/NAME and ARNs
// arn:aws:sqs:us-east-1:123456789012:NAME; a DLQ named in a RedrivePolicy must
// exist.
//
// A missing install fails the test (run ./scripts/test); it never skips.
func LocalSQS(t testing.TB) *Peer {
	t.Helper()
	node := nodeInPath(t, "local-aws-sqs")
	pkg := filepath.Join(peersDir(t, "local-aws-sqs"), "node_modules", "local-aws-sqs")
	RequireInstalled(t, "local-aws-sqs", filepath.Join(pkg, "dist", "index.js"))
	const launcher = `const { createSqsServer } = require(process.argv[1]);
createSqsServer({ port: Number(process.argv[2]), hostname: "127.0.0.1", emulateQueueCreationLifecycle: false })
  .then(() => console.log("local-aws-sqs listening on 127.0.0.1:" + process.argv[2]))
  .catch((e) => { console.error(e); process.exit(1); });`
	return startOnFreePort(t, "local-aws-sqs", func(port string) []string {
		return []string{node, "-e", launcher, pkg, port}
	}, "/")
}

func peersDir(t testing.TB, peer string) string {
	t.Helper()
	dir, err := Dir()
	if err != nil {
		t.Fatalf("test peer %s: %v", peer, err)
	}
	return dir
}

func nodeInPath(t testing.TB, peer string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("test peer %s needs Node.js (node in PATH): %v; run ./scripts/test", peer, err)
	}
	return node
}

// startOnFreePort starts a peer on a port from FreePort, trying another port
// when someone else took it before the peer could bind it.
func startOnFreePort(t testing.TB, name string, argv func(port string) []string, readyPath string) *Peer {
	t.Helper()
	for attempt := 1; ; attempt++ {
		port := strconv.Itoa(FreePort(t))
		p, err := start(t, name, argv(port), nil, "http://127.0.0.1:"+port+readyPath)
		if err == nil {
			return p
		}
		inUse := strings.Contains(err.Error(), "EADDRINUSE") || strings.Contains(err.Error(), "address already in use") // Node's, Go's
		if attempt == 3 || !errors.Is(err, errExitedEarly) || !inUse {
			t.Fatalf("%v", err)
		}
		t.Logf("retrying: %v", err)
	}
}
