package profile

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests below run this test binary again as a child process (see
// TestMain) so that the store is exercised across real processes.
func TestMain(m *testing.M) {
	switch os.Getenv("PROFILE_TEST_CHILD") {
	case "writer":
		os.Exit(childWriter())
	case "crasher":
		os.Exit(childCrasher())
	case "committer":
		os.Exit(childCommitter())
	}
	os.Exit(m.Run())
}

func child(t *testing.T, role, root string, extra ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PROFILE_TEST_CHILD="+role, "PROFILE_TEST_ROOT="+root)
	cmd.Env = append(cmd.Env, extra...)
	return cmd
}

// childWriter sets 10 providers on its own profile and one on a shared one.
func childWriter() int {
	s := New(os.Getenv("PROFILE_TEST_ROOT"), nil)
	id := os.Getenv("PROFILE_TEST_ID")
	ctx := context.Background()
	for j := range 10 {
		e := Entry{"method": json.RawMessage(`"stored"`), "n": json.RawMessage(strconv.Itoa(j))}
		if err := s.SetEntry(ctx, "p"+id, fmt.Sprintf("Prov%d", j), e); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if err := s.WithProfile(ctx, "shared", func(tx *Tx) error {
			return tx.WriteSecret("k"+id, map[string]int{"n": j})
		}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	if err := s.SetEntry(ctx, "shared", "P"+id, Entry{"method": json.RawMessage(`"env"`)}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// N processes writing different profiles and providers at once lose no update.
func TestConcurrentProcessesLoseNoUpdate(t *testing.T) {
	root := t.TempDir()
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := child(t, "writer", root, "PROFILE_TEST_ID="+strconv.Itoa(i)).CombinedOutput(); err != nil {
				errs <- fmt.Errorf("child %d: %v %s", i, err, out)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	cfg, err := New(root, nil).Load()
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		p := cfg.Profiles["p"+strconv.Itoa(i)]
		if len(p) != 10 {
			t.Errorf("profile p%d has %d providers, want 10: %v", i, len(p), p.Providers())
		}
		if cfg.Profiles["shared"]["P"+strconv.Itoa(i)] == nil {
			t.Errorf("shared profile lost P%d", i)
		}
		var v map[string]int
		if found, err := New(root, nil).ReadSecret("shared", "k"+strconv.Itoa(i), &v); !found || err != nil || v["n"] != 9 {
			t.Errorf("secret k%d = %v %v %v", i, v, found, err)
		}
	}
}

// childCrasher rewrites profiles.json and a secret as fast as it can until
// it is killed.
func childCrasher() int {
	s := New(os.Getenv("PROFILE_TEST_ROOT"), nil)
	ctx := context.Background()
	fmt.Println("ready")
	for i := 0; ; i++ {
		big := make([]string, 200)
		for j := range big {
			big[j] = fmt.Sprintf("value-%d-%d", i, j)
		}
		b, _ := json.Marshal(big)
		if err := s.SetEntry(ctx, "crash", "Prov"+strconv.Itoa(i%5), Entry{"method": json.RawMessage(`"stored"`), "big": b}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if err := s.WithProfile(ctx, "crash", func(tx *Tx) error { return tx.WriteSecret("aws", map[string]any{"i": i, "big": big}) }); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
}

// waitForWrite waits until the crasher has written its profile once.
func waitForWrite(t *testing.T, s *Store) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if cfg, err := s.Load(); err == nil && len(cfg.Profiles["crash"]) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the child never managed to write")
		}
	}
}

// kill -9 at any instant leaves valid files, and the next process is not
// wedged by the dead one's lock.
func TestKillDuringWritesLeavesValidFiles(t *testing.T) {
	root := t.TempDir()
	s := New(root, nil)
	for round := range 15 {
		cmd := child(t, "crasher", root)
		cmd.Stderr = os.Stderr
		stdout, _ := cmd.StdoutPipe()
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 6)
		if _, err := stdout.Read(buf); err != nil {
			t.Fatalf("round %d: child did not start: %v", round, err)
		}
		if round == 0 {
			// On a loaded machine a child may need more than the 65 ms
			// below for its first write; the first one is let write once,
			// so that the later ones, killed early (some while they reap
			// the previous child's lock), are sure to find files to
			// damage.
			waitForWrite(t, s)
		}
		time.Sleep(time.Duration(5+rand.IntN(60)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if round > 0 && time.Since(start) > 5*time.Second {
			t.Fatalf("round %d took %v: the dead child's lock was not reaped", round, time.Since(start))
		}
		cfg, err := s.Load()
		if err != nil {
			t.Fatalf("round %d: profiles.json is not valid after kill -9: %v", round, err)
		}
		var v map[string]any
		if _, err := s.ReadSecret("crash", "aws", &v); err != nil {
			t.Fatalf("round %d: secret not valid after kill -9: %v", round, err)
		}
		if round > 2 && len(cfg.Profiles["crash"]) == 0 {
			t.Fatalf("round %d: the child never managed to write", round)
		}
	}
	// The next writer clears temp files the killed ones left, at once: no
	// kill leaves a lock directory that names no process we can check
	// (see TestKilledAtEveryStepIsRecoveredAtOnce in internal/lock), so
	// none is waited on until stale.
	ctx := context.Background()
	start := time.Now()
	if err := s.SetEntry(ctx, "crash", "Prov0", Entry{"method": json.RawMessage(`"env"`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.WithProfile(ctx, "crash", func(tx *Tx) error { return tx.WriteSecret("aws", map[string]int{"i": 0}) }); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("writing after the kills took %v: a killed child's lock was waited on", took)
	}
	for _, pattern := range []string{s.Root() + "/.profiles.json.tmp-*", s.CredentialsDir("crash") + "/.aws.json.tmp-*"} {
		if left, _ := filepath.Glob(pattern); len(left) > 0 {
			t.Errorf("temp files left: %v", left)
		}
	}
}
