package testpeers

import (
	"path/filepath"
	"testing"
)

// Dynalite starts the npm `dynalite` 4.0.0 peer (DynamoDB, in memory) on a
// free 127.0.0.1 port, on the `node` found in PATH (it runs on Node 20), and
// returns it once GET / gives any HTTP answer. Point
// AWS_ENDPOINT_URL_DYNAMODB at URL; any credentials are accepted.
//
// Tables spend 50 ms in CREATING, DELETING and UPDATING (--createTableMs,
// --deleteTableMs, --updateTableMs) instead of dynalite's default 500 ms, so
// the SDK's TableExistsWaiter and TableNotExistsWaiter see the transitions
// without slowing tests down. ARNs use account 000000000000.
//
// What it does not do (shared/spec/test-peers.md §2.3): tags passed in
// CreateTable are silently dropped (TagResource works);
// UpdateTimeToLive, TransactWriteItems/TransactGetItems and
// UpdateContinuousBackups answer UnknownOperationException
// (DescribeTimeToLive works).
//
// A missing install fails the test (run ./scripts/test); it never skips.
func Dynalite(t testing.TB) *Peer {
	t.Helper()
	node := nodeInPath(t, "dynalite")
	script := filepath.Join(peersDir(t, "dynalite"), "node_modules", "dynalite", "cli.js")
	RequireInstalled(t, "dynalite", script)
	return startOnFreePort(t, "dynalite", func(port string) []string {
		return []string{node, script, "--host", "127.0.0.1", "--port", port,
			"--createTableMs", "50", "--deleteTableMs", "50", "--updateTableMs", "50"}
	}, "/")
}
