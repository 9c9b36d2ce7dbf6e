package pgstate

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/state"
	"github.com/alchemy-go/alchemy/internal/testpeers"
)

// Whole-store benchmarks on a 1,000-row stage (the 1,000-resource
// goal), against the PostgreSQL test peer (fsync and synchronous_commit
// off), or against the server named by ALCHEMY_BENCH_PG_DSN (to measure
// with durable commits):
//
//	go test -run '^$' -bench . -benchtime 20x ./internal/state/pgstate/

const benchRows = 1000

func benchBackend(b *testing.B) *Backend {
	b.Helper()
	if dsn := os.Getenv("ALCHEMY_BENCH_PG_DSN"); dsn != "" {
		be := open(b, dsn, Options{})
		if _, err := be.pool.Exec(ctx, "truncate alchemy_resource_state, alchemy_stack_output, alchemy_lease"); err != nil {
			b.Fatal(err)
		}
		return be
	}
	return open(b, testpeers.Postgres(b).DSN, Options{})
}

// benchRow is a resource row of a realistic size (about 600 bytes).
func benchRow(i int, status state.Status) *state.Row {
	return &state.Row{
		Kind: "resource", ResourceType: "AWS.S3.Bucket", FQN: fmt.Sprintf("App/Service%d/Bucket_%d", i%20, i),
		LogicalID: fmt.Sprintf("Bucket_%d", i), InstanceID: state.NewInstanceID(), Status: status,
		Downstream: []string{fmt.Sprintf("App/Service%d/Function", i%20)},
		Props:      json.RawMessage(fmt.Sprintf(`{"bucketName":"app-bucket-%d","tags":{"team":"platform","env":"dev"},"versioning":true}`, i)),
		Attr:       json.RawMessage(`{"arn":"arn:aws:s3:::app-bucket","domainName":"app-bucket.s3.amazonaws.com","region":"us-east-1","versioning":"Enabled"}`),
		Extra:      map[string]json.RawMessage{"bindings": json.RawMessage(`[]`), "providerMode": json.RawMessage(`"live"`)},
	}
}

func fill(b *testing.B, s state.Store, stage string) {
	b.Helper()
	var wg sync.WaitGroup
	for i := range benchRows {
		wg.Go(func() {
			if err := s.Set(ctx, "app", stage, benchRow(i, state.Created)); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
}

func acquire(b *testing.B, be *Backend, stage string) state.Lease {
	b.Helper()
	l, err := be.Acquire(ctx, "app", stage, state.LeaseOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Release() })
	return l
}

// BenchmarkLoadAll: state.LoadAll of a 1,000-row stage, as plan reads it
// (one query, through GetAll).
func BenchmarkLoadAll(b *testing.B) {
	be := benchBackend(b)
	fill(b, acquire(b, be, "dev").Store(), "dev")
	for b.Loop() {
		rows, err := state.LoadAll(ctx, be, "app", "dev")
		if err != nil || len(rows) != benchRows {
			b.Fatal(len(rows), err)
		}
	}
}

// listGetOnly hides GetAll: LoadAll's List plus one Get per row (32 at once).
type listGetOnly struct{ state.Store }

// BenchmarkLoadAllListGet is the same read without the bulk reader, for
// comparison.
func BenchmarkLoadAllListGet(b *testing.B) {
	be := benchBackend(b)
	fill(b, acquire(b, be, "dev").Store(), "dev")
	for b.Loop() {
		rows, err := state.LoadAll(ctx, listGetOnly{be}, "app", "dev")
		if err != nil || len(rows) != benchRows {
			b.Fatal(len(rows), err)
		}
	}
}

// BenchmarkLeaseSet1000Concurrent: 1,000 Sets at once through a lease's
// Store, each returning once committed (group commit).
func BenchmarkLeaseSet1000Concurrent(b *testing.B) {
	be := benchBackend(b)
	s := acquire(b, be, "dev").Store()
	rows := make([]*state.Row, benchRows)
	for i := range rows {
		rows[i] = benchRow(i, state.Creating)
	}
	for b.Loop() {
		var wg sync.WaitGroup
		for _, row := range rows {
			wg.Go(func() {
				if err := s.Set(ctx, "app", "dev", row); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
}

// BenchmarkLeaseDeploy: what a 1,000-resource deploy from empty commits
// (two Sets per resource, creating then created) with 16 resources in
// flight, as in internal/state's BenchmarkSetParallel.
func BenchmarkLeaseDeploy(b *testing.B) {
	be := benchBackend(b)
	s := acquire(b, be, "dev").Store()
	const inFlight = 16
	var total time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		next := make(chan int)
		var wg sync.WaitGroup
		for range inFlight {
			wg.Go(func() {
				for i := range next {
					for _, status := range []state.Status{state.Creating, state.Created} {
						if err := s.Set(ctx, "app", "dev", benchRow(i, status)); err != nil {
							b.Error(err)
							return
						}
					}
				}
			})
		}
		for i := range benchRows {
			next <- i
		}
		close(next)
		wg.Wait()
		total += time.Since(start)
		n++
	}
	b.ReportMetric(float64(total.Microseconds())/float64(n*2*benchRows), "µs/set")
}

// BenchmarkLeaseSetSerial is the latency of one fenced commit with nothing
// else in flight.
func BenchmarkLeaseSetSerial(b *testing.B) {
	be := benchBackend(b)
	s := acquire(b, be, "dev").Store()
	row := benchRow(1, state.Created)
	for b.Loop() {
		if err := s.Set(ctx, "app", "dev", row); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeleteStage: a 1,000-row stage deleted through a lease (the
// rows are written, untimed, before each op).
func BenchmarkDeleteStage(b *testing.B) {
	be := benchBackend(b)
	s := acquire(b, be, "dev").Store()
	for b.Loop() {
		b.StopTimer()
		fill(b, s, "dev")
		b.StartTimer()
		if err := s.DeleteStage(ctx, "app", "dev"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAcquireRelease: taking and giving up a free lease (a new
// connection, the lock, the lease row; then the release).
func BenchmarkAcquireRelease(b *testing.B) {
	be := benchBackend(b)
	for b.Loop() {
		l, err := be.Acquire(context.Background(), "app", "dev", state.LeaseOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Release(); err != nil {
			b.Fatal(err)
		}
	}
}
