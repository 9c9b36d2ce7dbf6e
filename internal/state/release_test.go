package state

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"
)

// A Set in flight while its lease is released either is saved or fails:
// never reported saved and lost (Detach closed the journal under it).
func TestReleaseDuringCommitLosesNothing(t *testing.T) {
	ctx := context.Background()
	lost := 0
	for trial := 0; trial < 20; trial++ {
		root := t.TempDir()
		b := NewLocalBackend(root)
		l, err := b.Acquire(ctx, "app", "prod", LeaseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st := l.Store()
		mk := func(fqn string) *Row {
			return &Row{FQN: fqn, LogicalID: fqn, ResourceType: "T", Status: Created, InstanceID: "i", Props: []byte(`{}`), Attr: []byte(`{}`)}
		}
		if err := st.Set(ctx, "app", "prod", mk("R0")); err != nil {
			t.Fatal(err)
		}
		block := make(chan struct{})
		var once sync.Once
		entered := make(chan struct{})
		journalSync = func(f *os.File) error {
			once.Do(func() { close(entered); <-block })
			return fdatasync(f)
		}
		errs := make(chan error, 2)
		go func() { errs <- st.Set(ctx, "app", "prod", mk("R1")) }()
		<-entered
		rel := make(chan error, 1)
		go func() { rel <- l.Release() }()
		time.Sleep(20 * time.Millisecond) // Release waiting on syncMu
		go func() { errs <- st.Set(ctx, "app", "prod", mk("R2")) }()
		time.Sleep(20 * time.Millisecond) // R2 appended, waiting on syncMu
		close(block)
		e1, e2 := <-errs, <-errs
		<-rel
		journalSync = fdatasync
		rows, err := LoadAll(ctx, NewLocal(root+"/.alchemy/state"), "app", "prod")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("trial %d: e1=%v e2=%v R1=%v R2=%v", trial, e1, e2, rows["R1"] != nil, rows["R2"] != nil)
		if e1 == nil && e2 == nil && (rows["R1"] == nil || rows["R2"] == nil) {
			lost++
			t.Logf("trial %d: both Sets returned nil; R1=%v R2=%v", trial, rows["R1"] != nil, rows["R2"] != nil)
		}
	}
	if lost > 0 {
		t.Errorf("%d/20 trials: a Set that returned nil is not in state", lost)
	}
}
