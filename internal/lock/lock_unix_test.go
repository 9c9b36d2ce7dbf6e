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

// TestKilledAtEveryStepIsRecoveredAtOnce kills a process with SIGKILL at
// each instant where the lock's files are half made or half removed, and
// expects the next Acquire to take the lock at once and to clear what the
// dead process left. A lock directory that names no process we can check
// would instead be waited on until stale (30 s), as the TypeScript tool's
// directory between its mkdir and its owner write must be.
func TestKilledAtEveryStepIsRecoveredAtOnce(t *testing.T) {
	staged := true
	if err := renameNoReplace(t.TempDir(), filepath.Join(t.TempDir(), "x")); errors.Is(err, errNoReplace) {
		staged = false
	}
	host, _ := os.Hostname()
	for _, tc := range []struct {
		point string
		mkdir bool // without an atomic rename-without-replace
		reap  bool // the child first reaps a dead holder's lock
		// visible: the kill leaves a directory at the lock path
		visible bool
	}{
		{point: "staged:mkdir"},
		{point: "staged:owner"},
		{point: "created", visible: true},
		{point: "claimed:claim", mkdir: true},
		{point: "claimed:mkdir", mkdir: true, visible: true},
		{point: "claimed:owner", mkdir: true, visible: true},
		// Reaping used to remove the lock in place: a reaper killed
		// after RemoveAll deleted the dead holder's owner file, and before
		// it deleted the directory, left an ownerless directory without a
		// claim, waited on for 30 s (the flaky
		// TestKillDuringWritesLeavesValidFiles of internal/profile).
		{point: "reap:renamed", reap: true},
		{point: "reap:renamed", reap: true, mkdir: true},
		{point: "release:renamed"},
	} {
		name := tc.point
		if tc.mkdir {
			name += "/mkdir"
		}
		t.Run(name, func(t *testing.T) {
			if !tc.mkdir && !staged {
				t.Skip("no rename without replacing on this file system")
			}
			dir := lockDir(t)
			if tc.reap {
				plant(t, dir, "k", ownerJSON(t, deadPID(t), host), 0)
			}
			env := []string{"LOCK_DIR=" + dir, "LOCK_KEY=k", "LOCK_CRASH_AT=" + tc.point}
			if tc.mkdir {
				env = append(env, "LOCK_MKDIR=1")
			}
			out, err := helper(t, "crash-at", env...).CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("child was not killed at %s: %v\n%s", tc.point, err, out)
			}
			// A kill inside RemoveAll of the tombstone leaves it without
			// its owner file (RemoveAll deletes the entries first).
			tombs, _ := filepath.Glob(filepath.Join(dir, ".k.lock.released-*"))
			for _, tomb := range tombs {
				if err := os.Remove(filepath.Join(tomb, ownerFile)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := os.Lstat(Path(dir, "k")); (err == nil) != tc.visible {
				t.Fatalf("after a kill at %s, lock directory: %v; want it there: %v", tc.point, err, tc.visible)
			}

			start := time.Now()
			l, err := Acquire(context.Background(), dir, "k", Options{Timeout: 10 * time.Second, Warn: failWarn(t)})
			if err != nil {
				t.Fatal(err)
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("took %v to take the lock after a kill at %s", el, tc.point)
			}
			if err := l.Release(); err != nil {
				t.Fatal(err)
			}
			ents, _ := os.ReadDir(dir)
			var left []string
			for _, e := range ents {
				if e.Name() != guardFile {
					left = append(left, e.Name())
				}
			}
			if len(left) > 0 {
				t.Errorf("left after the next acquire and release: %q", left)
			}
		})
	}
}

// A claim names its process by start time too: one whose pid now belongs
// to another process frees the ownerless lock at once, while one naming a
// live process holds it.
func TestClaimOfReusedPID(t *testing.T) {
	start := processStart(os.Getpid())
	if start == "" {
		t.Skip("no process start times on this platform")
	}
	host, _ := os.Hostname()
	for _, tc := range []struct {
		name  string
		start string
		held  bool
	}{
		{"reused", "1", false},
		{"live", start, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := lockDir(t)
			p := plant(t, dir, "k", nil, 0)
			data, _ := json.Marshal(owner{PID: os.Getpid(), Host: host, Nonce: "n", AcquiredAt: time.Now().UTC().Format(time.RFC3339Nano), Start: tc.start})
			if err := os.WriteFile(claimPath(p), data, 0o600); err != nil {
				t.Fatal(err)
			}
			l, err := acquireDir(context.Background(), dir, p, time.Now().Add(300*time.Millisecond), Options{Warn: failWarn(t)}.withDefaults())
			if tc.held {
				if !errors.As(err, new(*TimeoutError)) {
					t.Fatalf("Acquire = %v; want *TimeoutError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			l.removeIfOwned()
		})
	}
}
