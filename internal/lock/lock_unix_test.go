//go:build unix

package lock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gofrs/flock"
)

// TestCrashedHolderReapedByPID kills a holder with SIGKILL, so it runs no
// cleanup, and expects the lock back long before the 30s stale time.
func TestCrashedHolderReapedByPID(t *testing.T) {
	dir := lockDir(t)
	const rounds = 10
	var worst time.Duration
	for round := 0; round < rounds; round++ {
		cmd := helper(t, "hold", "LOCK_DIR="+dir, "LOCK_KEY=crash")
		startReady(t, cmd)

		o, err := readOwner(Path(dir, "crash"))
		if err != nil || o.PID != cmd.Process.Pid {
			t.Fatalf("round %d: child does not hold the lock: %+v, %v", round, o, err)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait() // reap the zombie: kill(pid, 0) still succeeds on one
		mustExist(t, Path(dir, "crash"))

		start := time.Now()
		l, err := Acquire(context.Background(), dir, "crash", Options{Timeout: 5 * time.Second, Warn: failWarn(t)})
		el := time.Since(start)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if el > 2*time.Second {
			t.Fatalf("round %d: took %v to recover a dead holder's lock", round, el)
		}
		worst = max(worst, el)
		if err := l.Release(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("worst recovery over %d rounds: %v", rounds, worst)
}

// TestCrashWhileHoldingGuard kills a process inside the guard's critical
// section; the kernel must drop the flock so nobody is wedged.
func TestCrashWhileHoldingGuard(t *testing.T) {
	dir := lockDir(t)
	cmd := helper(t, "guard", "LOCK_DIR="+dir)
	startReady(t, cmd)

	probe := flock.New(filepath.Join(dir, guardFile))
	if ok, err := probe.TryLock(); err != nil || ok {
		probe.Unlock()
		t.Fatalf("child does not hold the guard (TryLock = %v, %v)", ok, err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	start := time.Now()
	l, err := Acquire(context.Background(), dir, "k", Options{Timeout: 5 * time.Second, Warn: failWarn(t)})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %v after the guard holder died", el)
	}
	l.Release()
}

// TestReadOnlyHomeAsNobody gives root a real read-only home by running the
// check in a child that has dropped to an unprivileged uid.
func TestReadOnlyHomeAsNobody(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root; TestReadOnlyHome covers this directly")
	}
	const nobody = 65534
	base := t.TempDir()
	// The child must reach the test binary and the home through every
	// parent directory.
	for d := base; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if d == base || d == filepath.Dir(base) {
				if err := os.Chmod(d, 0o755); err != nil {
					t.Fatal(err)
				}
			} else {
				t.Skipf("%s is not searchable by other users", d)
			}
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "lock.test")
	copyFile(t, exe, bin, 0o755)

	for _, tc := range readOnlyCases {
		t.Run(tc.name, func(t *testing.T) {
			home, err := os.MkdirTemp(base, "home")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(home, 0o755); err != nil {
				t.Fatal(err)
			}
			dir := tc.setup(t, home)
			cmd := exec.Command(bin, "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"=readonly", raceEnv(), "LOCK_DIR="+dir, "LOCK_KEY=k")
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
			out, err := cmd.CombinedOutput()
			if errors.Is(err, syscall.EPERM) {
				t.Skipf("cannot switch to uid %d here: %v", nobody, err)
			}
			if err != nil || strings.TrimSpace(string(out)) != "ok" {
				t.Fatalf("child as uid %d: %v\n%s", nobody, err, out)
			}
		})
	}
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, in); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, buf.Bytes(), mode); err != nil {
		t.Fatal(err)
	}
}

func TestZombieCountsAsDead(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if processDead(pid) {
		t.Fatal("a running process counted as dead")
	}
	cmd.Process.Kill()
	// Not reaped yet: a zombie.
	deadline := time.Now().Add(5 * time.Second)
	for !processDead(pid) {
		if time.Now().After(deadline) {
			t.Fatal("a killed, unreaped process still counts as alive")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Wait()
}

// A named pipe where a lock's owner or guard file belongs must not hang
// anyone: it is an error, never opened.
func TestNamedPipesInTheLockDirectory(t *testing.T) {
	dir := lockDir(t)
	p := plant(t, dir, "fifo", nil, time.Hour)
	os.Remove(filepath.Join(p, ownerFile))
	if err := syscall.Mkfifo(filepath.Join(p, ownerFile), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		l, err := Acquire(context.Background(), dir, "fifo", Options{Timeout: 2 * time.Second, Warn: failWarn(t)})
		if err == nil {
			l.Release()
		}
		done <- err
	}()
	select {
	case <-done: // judged by its age: stale, reaped
	case <-time.After(10 * time.Second):
		t.Fatal("a named pipe as owner file hung Acquire")
	}
	if err := syscall.Mkfifo(filepath.Join(dir, ".guard2"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, guardFile))
	os.Rename(filepath.Join(dir, ".guard2"), filepath.Join(dir, guardFile))
	go func() {
		_, err := Acquire(context.Background(), dir, "other", Options{Timeout: time.Second})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "is not a regular file") {
			t.Fatalf("Acquire with a named pipe as guard = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a named pipe as guard hung Acquire")
	}
}

// A Go process killed between its mkdir and its owner write left its
// claim: a dead pid there frees the lock at once, while an ownerless
// directory without one (the TypeScript tool mid-acquire) waits.
func TestKilledMidAcquireIsReapedAtOnce(t *testing.T) {
	dir := lockDir(t)
	host, _ := os.Hostname()
	p := plant(t, dir, "k", nil, 0)
	data, _ := json.Marshal(owner{PID: deadPID(t), Host: host, Nonce: "n", AcquiredAt: time.Now().UTC().Format(time.RFC3339Nano)})
	if err := os.WriteFile(claimPath(p), data, 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	l, err := Acquire(context.Background(), dir, "k", Options{Timeout: 5 * time.Second, Warn: failWarn(t)})
	if err != nil || time.Since(start) > time.Second {
		t.Fatalf("Acquire = %v after %v", err, time.Since(start))
	}
	l.Release()
}
