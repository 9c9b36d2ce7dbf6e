package state

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/atomicfile"
)

const (
	benchResources   = 1000
	benchConcurrency = 16
)

// benchDeploy commits what a 1,000-resource deploy from empty commits, two
// Sets per resource (creating, then created), with 16 resources in flight.
// set is the Set under test.
// flush, when set, ends each op as a run ends (untimed).
func benchDeploy(b *testing.B, set func(stage string, row *Row) error, flush func() error) {
	b.Helper()
	rows := make([]*Row, benchResources)
	for i := range rows {
		r := newRow(fmt.Sprintf("App/Service%d/Bucket_%d", i%20, i), Creating)
		r.Props = json.RawMessage(fmt.Sprintf(`{"bucketName":"app-bucket-%d","tags":{"team":"platform","env":"dev"},"versioning":true}`, i))
		r.Downstream = []string{fmt.Sprintf("App/Service%d/Function", i%20)}
		r.Extra = map[string]json.RawMessage{"bindings": json.RawMessage(`[]`), "providerMode": json.RawMessage(`"live"`)}
		rows[i] = r
	}
	attr := json.RawMessage(`{"arn":"arn:aws:s3:::app-bucket","domainName":"app-bucket.s3.amazonaws.com","region":"us-east-1","versioning":"Enabled"}`)
	var total time.Duration
	n := 0
	for b.Loop() {
		stage := fmt.Sprintf("bench%d", n)
		n++
		start := time.Now()
		next := make(chan int)
		errs := make(chan error, benchConcurrency)
		var wg sync.WaitGroup
		for range benchConcurrency {
			wg.Go(func() {
				for i := range next {
					creating := *rows[i]
					created := creating
					created.Status, created.Attr = Created, attr
					for _, r := range []*Row{&creating, &created} {
						if err := set(stage, r); err != nil {
							errs <- err
							return
						}
					}
				}
			})
		}
		for i := range rows {
			next <- i
		}
		close(next)
		wg.Wait()
		total += time.Since(start)
		if flush != nil {
			if err := flush(); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case err := <-errs:
			b.Fatal(err)
		default:
		}
	}
	b.ReportMetric(float64(total.Nanoseconds())/float64(n*2*benchResources), "ns/set")
	b.ReportMetric(float64(total.Milliseconds())/float64(n), "ms/2000sets")
}

// BenchmarkSetParallel: one op is a whole 1,000-resource deploy from empty
// (2,000 Sets, 16 in flight). The budget is 1 s per op.
func BenchmarkSetParallel(b *testing.B) {
	s := NewLocal(b.TempDir())
	benchDeploy(b, func(stage string, row *Row) error {
		return s.Set(ctx, "app", stage, row)
	}, func() error { return s.Flush(ctx) })
}

// BenchmarkSetParallelViaAtomicfile is the same workload written through
// atomicfile.Write (MkdirAll+stat and its own directory fsync on every call),
// the baseline Local.Set's write path is measured against.
func BenchmarkSetParallelViaAtomicfile(b *testing.B) {
	root := b.TempDir()
	benchDeploy(b, func(stage string, row *Row) error {
		data, err := marshalIndent(row)
		if err != nil {
			return err
		}
		return atomicfile.Write(filepath.Join(root, "app", stage, EncodeFQN(row.FQN)+".json"), data, 0o600)
	}, nil)
}

// BenchmarkSetSerial is the latency of one Set with nothing else in flight.
func BenchmarkSetSerial(b *testing.B) {
	s := NewLocal(b.TempDir())
	row := newRow("App/Bucket_1", Created)
	for b.Loop() {
		if err := s.Set(ctx, "app", "dev", row); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadAll reads a 1,000-row stage, as plan does.
func BenchmarkLoadAll(b *testing.B) {
	s := NewLocal(b.TempDir())
	for i := range benchResources {
		if err := s.Set(ctx, "app", "dev", newRow(fmt.Sprintf("App/Bucket_%d", i), Created)); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		rows, err := LoadAll(ctx, s, "app", "dev")
		if err != nil || len(rows) != benchResources {
			b.Fatal(len(rows), err)
		}
	}
}
