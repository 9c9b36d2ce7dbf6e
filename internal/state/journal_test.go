package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// countSyncs counts the journal's fdatasyncs for the rest of the test;
// fail, when set, makes the next one fail.
func countSyncs(t *testing.T) (syncs *atomic.Int64, fail *atomic.Bool) {
	syncs, fail = &atomic.Int64{}, &atomic.Bool{}
	real := journalSync
	journalSync = func(f *os.File) error {
		syncs.Add(1)
		if fail.CompareAndSwap(true, false) {
			return errors.New("injected I/O error")
		}
		return real(f)
	}
	t.Cleanup(func() { journalSync = real })
	return syncs, fail
}

// Commits made at the same time share the journal's writes and flushes,
// and each returns only once its own line is durable.
func TestJournalBatchesConcurrentCommits(t *testing.T) {
	syncs, _ := countSyncs(t)
	s := NewLocal(t.TempDir())
	const n = 500
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if err := s.Set(ctx, "app", "dev", newRow(fmt.Sprintf("R%03d", i), Created)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := syncs.Load(); got == 0 || got > n/2 {
		t.Errorf("%d commits made %d journal flushes: they were not shared", n, got)
	}
	// Everything is in the journal on disk, as a reader in another process
	// would see it.
	entries, err := readJournal(filepath.Join(s.Root, "app", "dev", journalFile))
	if err != nil || len(entries) != n {
		t.Fatalf("journal holds %d rows (%v), want %d", len(entries), err, n)
	}
	t.Logf("%d commits, %d flushes", n, syncs.Load())
}

// A failed flush fails its commits and every later one: what the journal
// holds after it is unknown, so nothing more may claim to be durable there.
func TestJournalFailureIsSticky(t *testing.T) {
	_, fail := countSyncs(t)
	s := NewLocal(t.TempDir())
	if err := s.Set(ctx, "app", "dev", newRow("A", Created)); err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	if err := s.Set(ctx, "app", "dev", newRow("B", Created)); err == nil {
		t.Fatal("a commit whose flush failed succeeded")
	}
	if err := s.Set(ctx, "app", "dev", newRow("C", Created)); err == nil {
		t.Fatal("a commit after a failed flush succeeded")
	}
}

// A stage deleted by another process while this one writes it starts
// again with what this one commits from then on.
func TestJournalReopensADeletedStage(t *testing.T) {
	s := NewLocal(t.TempDir())
	if err := s.Set(ctx, "app", "dev", newRow("Before", Created)); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(s.Root, "app", "dev")); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "app", "dev", newRow("After", Created)); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	other := NewLocal(s.Root)
	if got := mustList(t, other, "app", "dev"); len(got) != 1 || got[0] != "After" {
		t.Fatalf("after the stage was deleted and written again: %q, want [After]", got)
	}
}
