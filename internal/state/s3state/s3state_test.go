package s3state

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/state"
	"github.com/alchemy-go/alchemy/internal/state/statetest"
	"github.com/alchemy-go/alchemy/internal/testpeers"
)

func TestMain(m *testing.M) {
	if os.Getenv("S3STATE_HELPER") == "hold" {
		holdHelper()
		return
	}
	code := m.Run()
	testpeers.StopVersitygw()
	os.Exit(code)
}

// testTTL is the lease TTL of the takeover tests: the server's clock has a
// resolution of a second, so expiry takes TTL+1s to TTL+2s.
const testTTL = 2 * time.Second

// gwLocation is a fresh bucket on the shared versitygw.
func gwLocation(t testing.TB) (Location, *testpeers.VersityGW) {
	t.Helper()
	g := testpeers.Versitygw(t)
	return Location{Bucket: g.NewBucket(t), Prefix: "state/", Region: testpeers.VersitygwRegion, Endpoint: g.URL, PathStyle: true}, g
}

func openAt(t testing.TB, loc Location, g *testpeers.VersityGW, opts Options) *Backend {
	t.Helper()
	b, err := Open(context.Background(), loc, g.Config(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func isolate(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", testpeers.LeakGuardEndpoint)
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func TestContract(t *testing.T) {
	isolate(t)
	statetest.Run(t, func(t *testing.T) statetest.Env {
		loc, g := gwLocation(t)
		return statetest.Env{
			Open: func(t *testing.T) state.Backend { return openAt(t, loc, g, Options{}) },
			TTL:  testTTL,
		}
	})
}

// The same contract with a tiny InlineLimit: every commit moves its
// changes to a segment object, and snapshots fold often.
func TestContractSmallInline(t *testing.T) {
	isolate(t)
	statetest.Run(t, func(t *testing.T) statetest.Env {
		loc, g := gwLocation(t)
		return statetest.Env{
			Open: func(t *testing.T) state.Backend { return openAt(t, loc, g, Options{InlineLimit: 64}) },
			TTL:  testTTL,
		}
	})
}
