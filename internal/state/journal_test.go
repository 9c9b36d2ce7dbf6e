package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
	// A flush that takes a while, as on a disk: commits arriving meanwhile
	// must share the next one, however the goroutines are scheduled (on a
	// loaded machine they may come one at a time to an idle committer).
	counted := journalSync
	journalSync = func(f *os.File) error {
		time.Sleep(2 * time.Millisecond)
		return counted(f)
	}
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
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
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

// A large run writes its settled rows to their files while it goes on; the
// flush writes the rest, and a row that changed after its file was written
// ends up with its latest content, a deleted one without a file.
func TestRowsAreWrittenBehind(t *testing.T) {
	s := NewLocal(t.TempDir())
	dir := filepath.Join(s.Root, "app", "dev")
	n := behindAfter + 500
	setAll := func(status Status) {
		t.Helper()
		next := make(chan int)
		var wg sync.WaitGroup
		for range 64 {
			wg.Go(func() {
				for i := range next {
					if err := s.Set(ctx, "app", "dev", newRow(fmt.Sprintf("R%04d", i), status)); err != nil {
						t.Error(err)
					}
				}
			})
		}
		for i := range n {
			next <- i
		}
		close(next)
		wg.Wait()
	}
	setAll(Created)
	deadline := time.Now().Add(10 * time.Second)
	for countRows(t, dir) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no row file was written before the flush")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("%d of %d row files written before the flush", countRows(t, dir), n)
	// Changed and deleted after (perhaps) being written behind.
	for i := range 20 {
		fqn := fmt.Sprintf("R%04d", i)
		if i%2 == 0 {
			if err := s.Set(ctx, "app", "dev", newRow(fqn, Updating)); err != nil {
				t.Fatal(err)
			}
		} else if err := s.Delete(ctx, "app", "dev", fqn); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, journalFile)); !os.IsNotExist(err) {
		t.Fatalf("journal left after the flush: %v", err)
	}
	fresh := NewLocal(s.Root)
	rows, err := LoadAll(ctx, fresh, "app", "dev")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != n-10 {
		t.Fatalf("%d rows after the flush, want %d", len(rows), n-10)
	}
	for i := range n {
		fqn := fmt.Sprintf("R%04d", i)
		want := Created
		switch {
		case i < 20 && i%2 == 1:
			if rows[fqn] != nil {
				t.Fatalf("%s was deleted but has a file", fqn)
			}
			continue
		case i < 20:
			want = Updating
		}
		if rows[fqn] == nil || rows[fqn].Status != want {
			t.Fatalf("%s: %+v, want status %s", fqn, rows[fqn], want)
		}
	}
}

func countRows(t *testing.T, dir string) int {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	n := 0
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".json" {
			n++
		}
	}
	return n
}

// A journal line reads back as the record it was written from.
func TestJournalRecordsRoundTrip(t *testing.T) {
	for _, r := range []record{
		{Stem: "Api__Bucket", FQN: "Api/Bucket", Data: json.RawMessage(`{"fqn":"Api/Bucket","props":{"note":"<a & b>\n"}}`)},
		{Stem: "odd%5Cname%25", FQN: "odd\\name%\"é\u2028"},
		{Stem: outputStem, Data: json.RawMessage(`{"url":"x"}`)},
		{Stem: outputStem},
	} {
		line := appendRecord(nil, r)
		var back record
		if err := json.Unmarshal(line, &back); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if back.Stem != r.Stem || back.FQN != r.FQN || string(back.Data) != string(r.Data) {
			t.Fatalf("%s read back as %+v, want %+v", line, back, r)
		}
		if bytes.ContainsRune(line, '\n') {
			t.Fatalf("%s: more than one line", line)
		}
	}
}
