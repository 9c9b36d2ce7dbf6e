package state

import (
	"sync"
	"testing"
)

// BenchmarkSetParallelThroughLease is BenchmarkSetParallel written the way
// a deploy writes: through the stage lease's store, whose every write
// first reads the lock's owner file (the fencing check). One op is a whole
// 1,000-resource deploy from empty, the lease taken included; compare
// ns/set with BenchmarkSetParallel for the check's cost.
func BenchmarkSetParallelThroughLease(b *testing.B) {
	lb := NewLocalBackend(b.TempDir())
	var mu sync.Mutex
	leases := map[string]Lease{}
	b.Cleanup(func() {
		for _, l := range leases {
			l.Release()
		}
	})
	benchDeploy(b, func(stage string, row *Row) error {
		mu.Lock()
		l := leases[stage]
		if l == nil {
			var err error
			if l, err = lb.Acquire(ctx, "app", stage, LeaseOptions{}); err != nil {
				mu.Unlock()
				return err
			}
			leases[stage] = l
		}
		mu.Unlock()
		return l.Store().Set(ctx, "app", stage, row)
	}, func() error { return Flush(ctx, lb.Local) })
}
