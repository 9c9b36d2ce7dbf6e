package lock

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gofrs/flock"
)

// The test binary doubles as the helper process for cross-process tests:
// a child is this binary re-executed with helperEnv naming what to do.
const helperEnv = "ALCHEMY_LOCK_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

func runHelper(mode string) int {
	dir, key := os.Getenv("LOCK_DIR"), os.Getenv("LOCK_KEY")
	ctx := context.Background()
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "helper %s: "+format+"\n", append([]any{mode}, args...)...)
		return 2
	}
	switch mode {
	case "counter":
		// Acquire; read; sleep; write+1; release. Lost updates or an
		// overlapping critical section mean the lock failed.
		counter := os.Getenv("COUNTER")
		inside := counter + ".inside"
		iters, _ := strconv.Atoi(os.Getenv("ITERS"))
		for i := 0; i < iters; i++ {
			l, err := Acquire(ctx, dir, key, Options{Poll: 5 * time.Millisecond, Timeout: 60 * time.Second})
			if err != nil {
				return fail("acquire: %v", err)
			}
			f, err := os.OpenFile(inside, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return fail("critical sections overlap: %v", err)
			}
			f.Close()
			n := 0
			if b, err := os.ReadFile(counter); err == nil {
				if n, err = strconv.Atoi(string(b)); err != nil {
					return fail("corrupt counter %q", b)
				}
			} else if !errors.Is(err, os.ErrNotExist) {
				return fail("read counter: %v", err)
			}
			time.Sleep(time.Millisecond)
			if err := os.WriteFile(counter, []byte(strconv.Itoa(n+1)), 0o600); err != nil {
				return fail("write counter: %v", err)
			}
			if err := os.Remove(inside); err != nil {
				return fail("remove marker: %v", err)
			}
			if err := l.Release(); err != nil {
				return fail("release: %v", err)
			}
		}
		return 0
	case "hold":
		// Take the lock and keep it until killed.
		if _, err := Acquire(ctx, dir, key, Options{Timeout: 10 * time.Second}); err != nil {
			return fail("acquire: %v", err)
		}
		fmt.Println("ready")
		time.Sleep(time.Hour)
		return 0
	case "guard":
		// Hold the guard itself until killed.
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fail("mkdir: %v", err)
		}
		if _, err := lockGuard(dir); err != nil {
			return fail("guard: %v", err)
		}
		fmt.Println("ready")
		time.Sleep(time.Hour)
		return 0
	case "crash-at":
		// Acquire and release, killing this process with SIGKILL at the
		// crashPoint LOCK_CRASH_AT; with LOCK_MKDIR set, as where no
		// atomic rename-without-replace exists.
		want := os.Getenv("LOCK_CRASH_AT")
		if os.Getenv("LOCK_MKDIR") != "" {
			noReplaceUnsupported.Store(dir, true)
		}
		crashPoint = func(point string) {
			if point == want {
				self, _ := os.FindProcess(os.Getpid())
				_ = self.Kill()
				time.Sleep(time.Hour)
			}
		}
		l, err := Acquire(ctx, dir, key, Options{Timeout: 10 * time.Second})
		if err != nil {
			return fail("acquire: %v", err)
		}
		if err := l.Release(); err != nil {
			return fail("release: %v", err)
		}
		return fail("never reached %s", want)
	case "exit":
		return 0
	case "readonly":
		// Run as an unprivileged user against a home it cannot write.
		if err := checkReadOnly(dir, key); err != nil {
			return fail("%v", err)
		}
		fmt.Println("ok")
		return 0
	}
	return fail("unknown mode")
}

// checkReadOnly asserts the degraded path on a home the process cannot
// write: one warning naming the errno and the lock path, a no-op lock, no
// error, and the in-process mutex still serialising same-key callers.
func checkReadOnly(dir, key string) error {
	var w warnings
	ctx := context.Background()
	l, err := Acquire(ctx, dir, key, Options{Warn: w.warn})
	if err != nil || l == nil {
		return fmt.Errorf("Acquire = %v, %v; want a no-op lock", l, err)
	}
	want := fmt.Sprintf("auth lock unavailable (EACCES at '%s') — continuing without cross-process locking", Path(dir, key))
	if got := w.list(); len(got) != 1 || got[0] != want {
		return fmt.Errorf("warnings = %q; want [%q]", got, want)
	}
	if !l.noop {
		return errors.New("lock is not a no-op")
	}
	if _, err := os.Stat(Path(dir, key)); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("lock directory exists after degraded Acquire: %v", err)
	}
	_, err = Acquire(ctx, dir, key, Options{Timeout: 100 * time.Millisecond, Warn: w.warn})
	var te *TimeoutError
	if !errors.As(err, &te) {
		return fmt.Errorf("second Acquire while no-op lock held = %v; want *TimeoutError", err)
	}
	if err := l.Release(); err != nil {
		return fmt.Errorf("Release: %v", err)
	}
	l2, err := Acquire(ctx, dir, key, Options{Timeout: time.Second, Warn: w.warn})
	if err != nil {
		return fmt.Errorf("Acquire after Release: %v", err)
	}
	return l2.Release()
}

// helper starts this test binary in a helper mode.
func helper(t *testing.T, mode string, env ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(append(os.Environ(), helperEnv+"="+mode, raceEnv()), env...)
	return cmd
}

// raceEnv stops a -race child from idling a second at exit (the race
// runtime's atexit_sleep_ms default) while keeping the caller's GORACE.
func raceEnv() string {
	return "GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")
}

// startReady starts cmd and waits for it to print its first line, which
// helpers print once they hold what the test needs them to hold.
func startReady(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- s
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case s := <-line:
		if strings.TrimSpace(s) != "ready" {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("helper said %q; stderr: %s", s, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("helper never became ready; stderr: %s", stderr.String())
	}
}

type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) warn(msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
}

func (w *warnings) list() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.msgs...)
}

// failWarn makes any warning a test failure.
func failWarn(t *testing.T) func(string) {
	return func(msg string) { t.Errorf("unexpected warning: %s", msg) }
}

func lockDir(t *testing.T) string {
	return filepath.Join(t.TempDir(), "lock")
}

// plant creates a foreign lock directory with the given owner content (none
// if nil) and sets its mtime age into the past.
func plant(t *testing.T, dir, key string, ownerContent []byte, age time.Duration) string {
	t.Helper()
	p := Path(dir, key)
	if err := os.MkdirAll(p, 0o700); err != nil {
		t.Fatal(err)
	}
	if ownerContent != nil {
		if err := os.WriteFile(filepath.Join(p, ownerFile), ownerContent, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	when := time.Now().Add(-age)
	if err := os.Chtimes(p, when, when); err != nil {
		t.Fatal(err)
	}
	return p
}

func ownerJSON(t *testing.T, pid int, host string) []byte {
	t.Helper()
	b, err := json.Marshal(owner{PID: pid, Host: host, Nonce: newNonce(), AcquiredAt: time.Now().UTC().Format(time.RFC3339Nano)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustExist(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s should exist: %v", p, err)
	}
}

func mustNotExist(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s should not exist (stat err %v)", p, err)
	}
}

// livePID is a process that outlives the test: the go test driver, or init.
func livePID() int {
	if pid := os.Getppid(); pid > 1 {
		return pid
	}
	return 1
}

func TestSanitizeKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"default", "default"},
		{"profile-credentials-prod_v1.2", "profile-credentials-prod_v1.2"},
		{"ABCxyz-0123456789._", "ABCxyz-0123456789._"},
		{"${ALCHEMY_PROFILE:-default}-Cloudflare", "__ALCHEMY_PROFILE_-default_-Cloudflare"},
		{"../../etc/passwd", ".._.._etc_passwd"},
		{`C:\Users\me`, "C__Users_me"},
		{"a b\tc\n", "a_b_c_"},
		{"", ""},
		{"café", "caf_"},  // one UTF-16 code unit, as in the TS tool
		{"x😀y", "x__y"},   // a surrogate pair is two code units in the TS tool
		{"a\xffb", "a_b"}, // invalid UTF-8 byte
		{"日本", "__"},      // BMP characters: one each
		{"..", ".."},      // harmless: ".." + ".lock" is a plain name
		{"key/with/slashes", "key_with_slashes"},
	} {
		if got := SanitizeKey(tc.in); got != tc.want {
			t.Errorf("SanitizeKey(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestPath(t *testing.T) {
	dir := filepath.Join("home", "lock")
	for _, key := range []string{"default", "../../etc/passwd", "${X}", ".."} {
		got := Path(dir, key)
		if want := filepath.Join(dir, SanitizeKey(key)+".lock"); got != want {
			t.Errorf("Path(%q) = %q; want %q", key, got, want)
		}
		if filepath.Dir(got) != dir {
			t.Errorf("Path(%q) = %q escapes %q", key, got, dir)
		}
	}
}

func TestTimeoutErrorMessage(t *testing.T) {
	e := &TimeoutError{Path: "/home/u/.alchemy/lock/default.lock", Timeout: 120 * time.Second}
	want := "Timed out waiting for the alchemy auth lock '/home/u/.alchemy/lock/default.lock' — another alchemy process has held it for over 120s. If no other alchemy process is running, delete the lock file and retry."
	if got := e.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
	e.Timeout = 2500 * time.Millisecond
	if got := e.Error(); !strings.Contains(got, " for over 2s.") {
		t.Errorf("Error() with 2.5s timeout = %q; want whole seconds", got)
	}
}

func TestAcquireReleaseInvalidKey(t *testing.T) {
	dir := lockDir(t)
	key := "${ALCHEMY_PROFILE:-default}-Cloudflare"
	l, err := Acquire(context.Background(), dir, key, Options{Warn: failWarn(t)})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "__ALCHEMY_PROFILE_-default_-Cloudflare.lock")
	if Path(dir, key) != p {
		t.Fatalf("Path = %q; want %q", Path(dir, key), p)
	}
	mustExist(t, p)

	data, err := os.ReadFile(filepath.Join(p, ownerFile))
	if err != nil {
		t.Fatal(err)
	}
	var o owner
	if err := json.Unmarshal(data, &o); err != nil {
		t.Fatalf("owner is not JSON: %v: %s", err, data)
	}
	var raw map[string]any
	_ = json.Unmarshal(data, &raw)
	for _, field := range []string{"pid", "host", "nonce", "acquiredAt"} {
		if _, ok := raw[field]; !ok {
			t.Errorf("owner lacks %q: %s", field, data)
		}
	}
	if o.PID != os.Getpid() {
		t.Errorf("owner pid = %d; want %d", o.PID, os.Getpid())
	}
	if h, _ := os.Hostname(); o.Host != h {
		t.Errorf("owner host = %q; want %q", o.Host, h)
	}
	if b, err := hex.DecodeString(o.Nonce); err != nil || len(b) < 16 {
		t.Errorf("owner nonce = %q; want >=128 random bits in hex", o.Nonce)
	}
	if _, err := time.Parse(time.RFC3339Nano, o.AcquiredAt); err != nil {
		t.Errorf("owner acquiredAt = %q: %v", o.AcquiredAt, err)
	}
	// Only the owner remains: the temp file was renamed into place.
	entries, _ := os.ReadDir(p)
	if len(entries) != 1 || entries[0].Name() != ownerFile {
		t.Errorf("lock dir holds %v; want just %q", entries, ownerFile)
	}
	if runtime.GOOS != "windows" {
		for path, want := range map[string]os.FileMode{dir: 0o700, p: 0o700, filepath.Join(p, ownerFile): 0o600} {
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
				t.Errorf("mode of %s = %v (%v); want %v", path, fi.Mode().Perm(), err, want)
			}
		}
	}

	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	mustNotExist(t, p)
	mustExist(t, filepath.Join(dir, guardFile)) // never deleted; see lockGuard
}

func TestReleaseNilAndTwice(t *testing.T) {
	var nilLock *Lock
	if err := nilLock.Release(); err != nil {
		t.Fatalf("nil Release = %v", err)
	}

	dir := lockDir(t)
	ctx := context.Background()
	a, err := Acquire(ctx, dir, "k", Options{Warn: failWarn(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	b, err := Acquire(ctx, dir, "k", Options{Timeout: time.Second, Warn: failWarn(t)})
	if err != nil {
		t.Fatal(err)
	}
	// A stale second Release must neither fail nor free b's lock.
	if err := a.Release(); err != nil {
		t.Fatalf("second Release = %v", err)
	}
	mustExist(t, Path(dir, "k"))
	if _, err := Acquire(ctx, dir, "k", Options{Timeout: 100 * time.Millisecond}); !errors.As(err, new(*TimeoutError)) {
		t.Fatalf("Acquire while b held = %v; want *TimeoutError", err)
	}
	if err := b.Release(); err != nil {
		t.Fatal(err)
	}
	mustNotExist(t, Path(dir, "k"))
}

func TestSameKeySerialisedInProcess(t *testing.T) {
	dir := lockDir(t)
	const workers, iters = 12, 8
	var (
		counter int // deliberately unsynchronised: only the lock protects it
		inside  atomic.Int32
		overlap atomic.Bool
		wg      sync.WaitGroup
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < iters; i++ {
				l, err := Acquire(context.Background(), dir, "shared/key", Options{Timeout: 30 * time.Second, Warn: failWarn(t)})
				if err != nil {
					t.Error(err)
					return
				}
				if inside.Add(1) != 1 {
					overlap.Store(true)
				}
				c := counter
				time.Sleep(time.Millisecond)
				counter = c + 1
				inside.Add(-1)
				if err := l.Release(); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if overlap.Load() {
		t.Error("two holders were inside the critical section at once")
	}
	if counter != workers*iters {
		t.Errorf("counter = %d; want %d", counter, workers*iters)
	}
	keysMu.Lock()
	n := len(keys)
	keysMu.Unlock()
	if n != 0 {
		t.Errorf("%d in-process key entries leaked", n)
	}
}

func TestDifferentKeysDoNotBlock(t *testing.T) {
	dir := lockDir(t)
	ctx := context.Background()
	a, err := Acquire(ctx, dir, "a", Options{Warn: failWarn(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	b, err := Acquire(ctx, dir, "b", Options{Timeout: 200 * time.Millisecond, Warn: failWarn(t)})
	if err != nil {
		t.Fatalf("different key blocked: %v", err)
	}
	b.Release()
}

func TestReleasedOnErrorPaths(t *testing.T) {
	dir := lockDir(t)
	ctx := context.Background()
	boom := errors.New("boom")
	withLock := func(fn func() error) (err error) {
		l, err := Acquire(ctx, dir, "profiles", Options{Timeout: 200 * time.Millisecond, Warn: failWarn(t)})
		if err != nil {
			return err
		}
		defer l.Release()
		return fn()
	}

	if err := withLock(func() error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("withLock = %v; want boom", err)
	}
	mustNotExist(t, Path(dir, "profiles"))

	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("expected panic")
			}
		}()
		_ = withLock(func() error { panic("boom") })
	}()
	mustNotExist(t, Path(dir, "profiles"))

	// Both the file lock and the in-process mutex are free again.
	if err := withLock(func() error { return nil }); err != nil {
		t.Fatalf("lock not released after error paths: %v", err)
	}
}

func TestLiveForeignLockTimesOut(t *testing.T) {
	dir := lockDir(t)
	host, _ := os.Hostname()
	content := ownerJSON(t, livePID(), host)
	p := plant(t, dir, "k", content, 0)

	start := time.Now()
	l, err := Acquire(context.Background(), dir, "k", Options{Timeout: 300 * time.Millisecond, Poll: 20 * time.Millisecond})
	var te *TimeoutError
	if !errors.As(err, &te) {
		l.Release()
		t.Fatalf("Acquire = %v; want *TimeoutError", err)
	}
	if te.Path != p {
		t.Errorf("TimeoutError.Path = %q; want %q", te.Path, p)
	}
	if el := time.Since(start); el < 300*time.Millisecond || el > 3*time.Second {
		t.Errorf("gave up after %v; want about 300ms", el)
	}
	got, err := os.ReadFile(filepath.Join(p, ownerFile))
	if err != nil || !bytes.Equal(got, content) {
		t.Errorf("foreign lock disturbed: %q, %v", got, err)
	}
}

func TestForeignLockOnOtherHostNotReapedByPID(t *testing.T) {
	// A dead pid on another host proves nothing about that host's process.
	dir := lockDir(t)
	p := plant(t, dir, "k", ownerJSON(t, deadPID(t), "some-other-host.invalid"), 0)
	_, err := Acquire(context.Background(), dir, "k", Options{Timeout: 200 * time.Millisecond})
	if !errors.As(err, new(*TimeoutError)) {
		t.Fatalf("Acquire = %v; want *TimeoutError", err)
	}
	mustExist(t, filepath.Join(p, ownerFile))
}

func TestStaleLockReaped(t *testing.T) {
	dir := lockDir(t)
	// A holder on another host, whose pid cannot be probed, is judged by
	// its heartbeat: one that stopped is reaped.
	plant(t, dir, "k", ownerJSON(t, livePID(), "some-other-host"), 60*time.Second)
	start := time.Now()
	l, err := Acquire(context.Background(), dir, "k", Options{Timeout: 5 * time.Second, Warn: failWarn(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if el := time.Since(start); el > time.Second {
		t.Errorf("reaping took %v", el)
	}
	o, err := readOwner(Path(dir, "k"))
	if err != nil || o.Nonce != l.nonce {
		t.Errorf("lock not ours after reaping: %+v, %v", o, err)
	}
}

// A holder on this host whose process lives is never displaced, however
// old its heartbeat: it may be stopped (Ctrl-Z, SIGSTOP) or starved. Taking
// its lock would let two deploys of one stage run at once.
func TestLiveLocalHolderIsNeverReaped(t *testing.T) {
	dir := lockDir(t)
	host, _ := os.Hostname()
	plant(t, dir, "k", ownerJSON(t, livePID(), host), time.Hour)
	_, err := Acquire(context.Background(), dir, "k", Options{Timeout: 300 * time.Millisecond, Warn: failWarn(t)})
	var te *TimeoutError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), fmt.Sprintf("held by pid %d on %s", livePID(), host)) {
		t.Fatalf("Acquire = %v; want a timeout naming the holder", err)
	}
}

// A pid reused by another process after the holder died does not keep the
// lock: the owner records the holder's start time.
func TestReusedPIDIsReaped(t *testing.T) {
	if processStart(os.Getpid()) == "" {
		t.Skip("no process start times on this platform")
	}
	dir := lockDir(t)
	host, _ := os.Hostname()
	data, _ := json.Marshal(owner{PID: livePID(), Host: host, Nonce: "n", AcquiredAt: time.Now().UTC().Format(time.RFC3339Nano), Start: "1"})
	plant(t, dir, "k", data, time.Second)
	l, err := Acquire(context.Background(), dir, "k", Options{Timeout: time.Second, Warn: failWarn(t)})
	if err != nil {
		t.Fatalf("Acquire over a reused pid = %v", err)
	}
	l.Release()
}

func TestCheckFencesALostLock(t *testing.T) {
	dir := lockDir(t)
	var w warnings
	l, err := Acquire(context.Background(), dir, "k", Options{Name: "stage lock of app/dev", Warn: w.warn})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if err := l.Check(); err != nil {
		t.Fatalf("Check of a held lock = %v", err)
	}
	usurp(t, Path(dir, "k"))
	// Within checkEvery the last check is trusted; after it, the owner file
	// is read again.
	l.checkMu.Lock()
	l.checked = time.Now().Add(-2 * checkEvery)
	l.checkMu.Unlock()
	err = l.Check()
	if err == nil || !strings.HasPrefix(err.Error(), "lost the stage lock of app/dev: ") {
		t.Fatalf("Check after the lock was taken = %v", err)
	}
	select {
	case <-l.Lost():
	default:
		t.Fatal("Lost not closed")
	}
	if l.Err() == nil {
		t.Fatal("Err = nil after loss")
	}
}

func TestDeadPIDLockReapedImmediately(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("pid probing is unix-only; windows relies on the mtime rule")
	}
	dir := lockDir(t)
	host, _ := os.Hostname()
	plant(t, dir, "k", ownerJSON(t, deadPID(t), host), 0) // fresh mtime
	start := time.Now()
	l, err := Acquire(context.Background(), dir, "k", Options{Timeout: 5 * time.Second, Warn: failWarn(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if el := time.Since(start); el > time.Second {
		t.Errorf("reaping a dead holder took %v", el)
	}
}

// deadPID returns the pid of a process that has exited and been waited for.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := helper(t, "exit")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestLockWithoutOwner(t *testing.T) {
	dir := lockDir(t)
	// A holder between mkdir and writing its owner looks like this (the
	// TypeScript tool, slow to get there on a loaded machine): it is held,
	// as the TypeScript tool holds it, until its mtime goes stale. Taking
	// it would crash that holder when it writes its owner.
	p := plant(t, dir, "fresh", nil, 0)
	if _, err := Acquire(context.Background(), dir, "fresh", Options{Timeout: 200 * time.Millisecond}); !errors.As(err, new(*TimeoutError)) {
		t.Fatalf("Acquire on fresh ownerless lock = %v; want *TimeoutError", err)
	}
	mustExist(t, p)
	p = plant(t, dir, "slow", nil, 10*time.Second)
	if _, err := Acquire(context.Background(), dir, "slow", Options{Timeout: 200 * time.Millisecond}); !errors.As(err, new(*TimeoutError)) {
		t.Fatalf("Acquire on a 10 s old ownerless lock = %v; want *TimeoutError", err)
	}
	mustExist(t, p)

	plant(t, dir, "old", nil, 60*time.Second)
	l, err := Acquire(context.Background(), dir, "old", Options{Timeout: time.Second, Warn: failWarn(t)})
	if err != nil {
		t.Fatalf("Acquire on stale ownerless lock = %v", err)
	}
	l.Release()
}

func TestTypeScriptOwnerFormat(t *testing.T) {
	// The TypeScript tool writes a bare UUID; such locks follow the mtime
	// rule and are never treated as ours.
	dir := lockDir(t)
	uuid := []byte("3b241101-e2bb-4255-8caf-4136c566a962")
	p := plant(t, dir, "fresh", uuid, 0)
	if _, err := Acquire(context.Background(), dir, "fresh", Options{Timeout: 200 * time.Millisecond}); !errors.As(err, new(*TimeoutError)) {
		t.Fatalf("Acquire on fresh TS lock = %v; want *TimeoutError", err)
	}
	if got, _ := os.ReadFile(filepath.Join(p, ownerFile)); !bytes.Equal(got, uuid) {
		t.Errorf("TS owner disturbed: %q", got)
	}

	plant(t, dir, "old", uuid, 60*time.Second)
	l, err := Acquire(context.Background(), dir, "old", Options{Timeout: time.Second, Warn: failWarn(t)})
	if err != nil {
		t.Fatalf("Acquire on stale TS lock = %v", err)
	}
	l.Release()
}

func TestWaitsUntilForeignLockReleased(t *testing.T) {
	dir := lockDir(t)
	host, _ := os.Hostname()
	p := plant(t, dir, "k", ownerJSON(t, livePID(), host), 0)
	const holdFor = 300 * time.Millisecond
	go func() {
		time.Sleep(holdFor)
		os.RemoveAll(p)
	}()
	start := time.Now()
	l, err := Acquire(context.Background(), dir, "k", Options{Timeout: 10 * time.Second, Poll: 10 * time.Millisecond, Warn: failWarn(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if el := time.Since(start); el < holdFor {
		t.Errorf("acquired after %v, before the foreign holder released at %v", el, holdFor)
	}
	o, err := readOwner(p)
	if err != nil || o.Nonce != l.nonce {
		t.Errorf("lock not ours: %+v, %v", o, err)
	}
}

func TestContextCancellation(t *testing.T) {
	dir := lockDir(t)
	host, _ := os.Hostname()
	p := plant(t, dir, "foreign", ownerJSON(t, livePID(), host), 0)

	t.Run("waiting on file lock", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		_, err := Acquire(ctx, dir, "foreign", Options{Timeout: 10 * time.Second})
		if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, new(*TimeoutError)) {
			t.Fatalf("Acquire = %v; want context.DeadlineExceeded", err)
		}
		mustExist(t, filepath.Join(p, ownerFile))
	})

	t.Run("waiting on in-process mutex", func(t *testing.T) {
		held, err := Acquire(context.Background(), dir, "mine", Options{Warn: failWarn(t)})
		if err != nil {
			t.Fatal(err)
		}
		defer held.Release()
		ctx, cancel := context.WithCancel(context.Background())
		go func() { time.Sleep(100 * time.Millisecond); cancel() }()
		if _, err := Acquire(ctx, dir, "mine", Options{Timeout: 10 * time.Second}); !errors.Is(err, context.Canceled) {
			t.Fatalf("Acquire = %v; want context.Canceled", err)
		}
	})

	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Acquire(ctx, dir, "free", Options{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("Acquire = %v; want context.Canceled", err)
		}
		mustNotExist(t, Path(dir, "free"))
	})
}

func TestInProcessWaitTimesOut(t *testing.T) {
	dir := lockDir(t)
	held, err := Acquire(context.Background(), dir, "k", Options{Warn: failWarn(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	_, err = Acquire(context.Background(), dir, "k", Options{Timeout: 100 * time.Millisecond})
	var te *TimeoutError
	if !errors.As(err, &te) || te.Path != Path(dir, "k") {
		t.Fatalf("Acquire = %v; want *TimeoutError for %s", err, Path(dir, "k"))
	}
}

// usurp simulates the lock being reaped and re-taken by someone else.
func usurp(t *testing.T, p string) []byte {
	t.Helper()
	host, _ := os.Hostname()
	content := ownerJSON(t, livePID(), host)
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p, ownerFile), content, 0o600); err != nil {
		t.Fatal(err)
	}
	return content
}

func TestReleaseLeavesUsurpedLock(t *testing.T) {
	dir := lockDir(t)
	var w warnings
	l, err := Acquire(context.Background(), dir, "k", Options{Warn: w.warn})
	if err != nil {
		t.Fatal(err)
	}
	p := Path(dir, "k")
	content := usurp(t, p)
	if err := l.Release(); err != nil {
		t.Fatalf("Release = %v; want nil", err)
	}
	got, err := os.ReadFile(filepath.Join(p, ownerFile))
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("usurper's lock removed or changed: %q, %v", got, err)
	}
	if ws := w.list(); len(ws) != 1 || !strings.HasPrefix(ws[0], "lost the auth lock: ") {
		t.Errorf("warnings = %q; want one compromise warning", ws)
	}
}

func TestReleaseAfterLockRemoved(t *testing.T) {
	dir := lockDir(t)
	var w warnings
	l, err := Acquire(context.Background(), dir, "k", Options{Warn: w.warn})
	if err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(Path(dir, "k"))
	if err := l.Release(); err != nil {
		t.Fatalf("Release = %v; want nil", err)
	}
	if ws := w.list(); len(ws) != 1 || !strings.HasPrefix(ws[0], "lost the auth lock: ") {
		t.Errorf("warnings = %q; want one compromise warning", ws)
	}
}

func mtime(t *testing.T, p string) time.Time {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime()
}

func TestHeartbeatAdvancesMtime(t *testing.T) {
	dir := lockDir(t)
	l, err := Acquire(context.Background(), dir, "k", Options{Heartbeat: 20 * time.Millisecond, Warn: failWarn(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	p := Path(dir, "k")
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for mtime(t, p).Before(time.Now().Add(-time.Minute)) {
		if time.Now().After(deadline) {
			t.Fatal("heartbeat never refreshed the lock mtime")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestHeartbeatStopsAfterRelease(t *testing.T) {
	dir := lockDir(t)
	l, err := Acquire(context.Background(), dir, "k", Options{Heartbeat: 5 * time.Millisecond, Warn: failWarn(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.done:
	default:
		t.Fatal("heartbeat goroutine still running after Release")
	}
	time.Sleep(30 * time.Millisecond)
	mustNotExist(t, Path(dir, "k"))
}

func TestHeartbeatDetectsCompromise(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(t *testing.T, p string)
	}{
		{"owner replaced", func(t *testing.T, p string) { usurp(t, p) }},
		{"replaced by TS tool", func(t *testing.T, p string) {
			if err := os.WriteFile(filepath.Join(p, ownerFile), []byte("3b241101-e2bb-4255-8caf-4136c566a962"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"directory removed", func(t *testing.T, p string) { os.RemoveAll(p) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := lockDir(t)
			var w warnings
			l, err := Acquire(context.Background(), dir, "k", Options{Heartbeat: 10 * time.Millisecond, Warn: w.warn})
			if err != nil {
				t.Fatal(err)
			}
			p := Path(dir, "k")
			tc.mutate(t, p)
			deadline := time.Now().Add(3 * time.Second)
			for len(w.list()) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("heartbeat never noticed")
				}
				time.Sleep(5 * time.Millisecond)
			}
			// The heartbeat has stopped: it neither warns again nor keeps
			// someone else's lock fresh.
			old := time.Now().Add(-time.Hour)
			_ = os.Chtimes(p, old, old)
			time.Sleep(60 * time.Millisecond)
			if fi, err := os.Stat(p); err == nil && fi.ModTime().After(old.Add(time.Minute)) {
				t.Error("heartbeat kept touching a lock it no longer owns")
			}
			if err := l.Release(); err != nil {
				t.Errorf("Release = %v", err)
			}
			ws := w.list()
			if len(ws) != 1 || !strings.HasPrefix(ws[0], "lost the auth lock: ") {
				t.Errorf("warnings = %q; want exactly one compromise warning", ws)
			}
			if tc.name != "directory removed" {
				mustExist(t, filepath.Join(p, ownerFile))
			}
		})
	}
}

func TestUnavailableCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{syscall.EROFS, "EROFS"},
		{syscall.EACCES, "EACCES"},
		{syscall.EPERM, "EPERM"},
		{syscall.ENOSPC, "ENOSPC"},
		{&os.PathError{Op: "mkdir", Path: "/x", Err: syscall.EROFS}, "EROFS"},
		{fmt.Errorf("auth lock guard: %w", &os.PathError{Op: "open", Path: "/x/.guard", Err: syscall.EACCES}), "EACCES"},
		{&os.LinkError{Op: "rename", Old: "a", New: "b", Err: syscall.ENOSPC}, "ENOSPC"},
		{os.ErrPermission, "EACCES"},
		{syscall.ENOTDIR, ""},
		{syscall.EEXIST, ""},
		{syscall.ENOENT, ""},
		{syscall.EINVAL, ""},
		{errors.New("EROFS"), ""},
		{nil, ""},
	} {
		if got := unavailableCode(tc.err); got != tc.want {
			t.Errorf("unavailableCode(%v) = %q; want %q", tc.err, got, tc.want)
		}
	}
}

// TestUnavailableHomeDegrades drives the whole degraded path through Acquire
// for each errno, even as root, by failing the lock mkdir.
func TestUnavailableHomeDegrades(t *testing.T) {
	for _, tc := range []struct {
		errno syscall.Errno
		code  string
	}{
		{syscall.EROFS, "EROFS"}, {syscall.EACCES, "EACCES"}, {syscall.EPERM, "EPERM"}, {syscall.ENOSPC, "ENOSPC"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			mkdirLock = func(name string, perm os.FileMode) error {
				return &os.PathError{Op: "mkdir", Path: name, Err: tc.errno}
			}
			t.Cleanup(func() { mkdirLock = os.Mkdir })

			dir := lockDir(t)
			key := "profile:" + tc.code
			var w warnings
			ctx := context.Background()
			l, err := Acquire(ctx, dir, key, Options{Warn: w.warn})
			if err != nil || l == nil {
				t.Fatalf("Acquire = %v, %v; want a no-op lock", l, err)
			}
			want := fmt.Sprintf("auth lock unavailable (%s at '%s') — continuing without cross-process locking", tc.code, Path(dir, key))
			if ws := w.list(); len(ws) != 1 || ws[0] != want {
				t.Fatalf("warnings = %q; want [%q]", ws, want)
			}
			// The in-process mutex is still held by the no-op lock.
			if _, err := Acquire(ctx, dir, key, Options{Timeout: 100 * time.Millisecond, Warn: w.warn}); !errors.As(err, new(*TimeoutError)) {
				t.Fatalf("Acquire while no-op lock held = %v; want *TimeoutError", err)
			}
			if err := l.Release(); err != nil {
				t.Fatal(err)
			}
			if err := l.Release(); err != nil {
				t.Fatal(err)
			}
			l2, err := Acquire(ctx, dir, key, Options{Timeout: time.Second, Warn: w.warn})
			if err != nil {
				t.Fatalf("Acquire after no-op Release = %v", err)
			}
			l2.Release()
		})
	}

	t.Run("other errors fail", func(t *testing.T) {
		mkdirLock = func(name string, perm os.FileMode) error {
			return &os.PathError{Op: "mkdir", Path: name, Err: syscall.EIO}
		}
		t.Cleanup(func() { mkdirLock = os.Mkdir })
		dir := lockDir(t)
		l, err := Acquire(context.Background(), dir, "k", Options{Warn: failWarn(t)})
		if !errors.Is(err, syscall.EIO) {
			l.Release()
			t.Fatalf("Acquire = %v; want EIO", err)
		}
		// The failed Acquire gave the in-process mutex back.
		mkdirLock = os.Mkdir
		l, err = Acquire(context.Background(), dir, "k", Options{Timeout: 100 * time.Millisecond, Warn: failWarn(t)})
		if err != nil {
			t.Fatal(err)
		}
		l.Release()
	})
}

// TestReadOnlyHome uses real permissions, which only bind a non-root user;
// as root, TestReadOnlyHomeAsNobody covers the same ground.
func TestReadOnlyHome(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("directory permission bits do not make a directory read-only on windows")
	}
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions; see TestReadOnlyHomeAsNobody and TestUnavailableHomeDegrades")
	}
	for _, tc := range readOnlyCases {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			dir := tc.setup(t, home)
			if err := checkReadOnly(dir, "k"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// readOnlyCases leave read and search permission for everyone, so that
// only the missing write permission can make Acquire degrade.
var readOnlyCases = []struct {
	name  string
	setup func(t *testing.T, home string) (dir string)
}{
	{"home not writable", func(t *testing.T, home string) string {
		chmod(t, home, 0o555)
		return filepath.Join(home, "lock")
	}},
	{"lock dir not writable", func(t *testing.T, home string) string {
		dir := filepath.Join(home, "lock")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		chmod(t, dir, 0o555)
		return dir
	}},
}

func chmod(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(p, 0o700) })
}

func TestDefaultWarnWritesStderr(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	defaultWarn("something odd")
	os.Stderr = saved
	w.Close()
	got, _ := io.ReadAll(r)
	if string(got) != "warning: something odd\n" {
		t.Errorf("default Warn wrote %q", got)
	}
	if o := (Options{}).withDefaults(); o.Stale != 30*time.Second || o.Heartbeat != 10*time.Second ||
		o.Timeout != 120*time.Second || o.Poll != 50*time.Millisecond || o.Warn == nil {
		t.Errorf("defaults = %+v", o)
	}
}

// TestReapIsRaceFree has many contenders find the same stale lock at once.
// Without the guard, two can both judge it stale; one reaps it and takes a
// fresh lock, which the other then deletes as if it were the stale one.
func TestReapIsRaceFree(t *testing.T) {
	dir := lockDir(t)
	lockPath := Path(dir, "race")
	host, _ := os.Hostname()
	opts := Options{Stale: 30 * time.Second, Poll: time.Millisecond, Timeout: 20 * time.Second, Warn: failWarn(t)}.withDefaults()
	var inside, overlaps atomic.Int32
	for round := 0; round < 15; round++ {
		plant(t, dir, "race", ownerJSON(t, livePID(), host+"-elsewhere"), time.Minute)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := 0; g < 12; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				// Bypass the in-process mutex: each goroutine stands in for
				// a separate process.
				l, err := acquireDir(context.Background(), dir, lockPath, time.Now().Add(opts.Timeout), opts)
				if err != nil {
					t.Error(err)
					return
				}
				if inside.Add(1) != 1 {
					overlaps.Add(1)
				}
				time.Sleep(500 * time.Microsecond)
				inside.Add(-1)
				if err := l.removeIfOwned(); err != nil {
					t.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
	}
	if n := overlaps.Load(); n > 0 {
		t.Fatalf("%d overlapping holders", n)
	}
}

// TestGuardNotHeldWhileWaiting checks that a waiter sleeps without the
// guard, so it cannot slow down every other process's decisions.
func TestGuardNotHeldWhileWaiting(t *testing.T) {
	dir := lockDir(t)
	host, _ := os.Hostname()
	plant(t, dir, "k", ownerJSON(t, livePID(), host), 0)
	done := make(chan error, 1)
	go func() {
		_, err := Acquire(context.Background(), dir, "k", Options{Timeout: 1500 * time.Millisecond, Poll: 50 * time.Millisecond})
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	g := flock.New(filepath.Join(dir, guardFile))
	busy := 0
	for i := 0; i < 20; i++ {
		ok, err := g.TryLock()
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			g.Unlock()
		} else {
			busy++
		}
		time.Sleep(13 * time.Millisecond)
	}
	if busy > 4 {
		t.Errorf("guard busy in %d of 20 probes; the waiter holds it while sleeping", busy)
	}
	if err := <-done; !errors.As(err, new(*TimeoutError)) {
		t.Fatalf("waiter = %v; want *TimeoutError", err)
	}
}

func TestCrossProcessCounter(t *testing.T) {
	const procs, iters = 8, 25
	dir := lockDir(t)
	counter := filepath.Join(t.TempDir(), "counter")
	// Start from a stale lock so the children also race to reap it.
	plant(t, dir, "counter", nil, time.Minute)

	start := time.Now()
	cmds := make([]*exec.Cmd, procs)
	outs := make([]*bytes.Buffer, procs)
	for i := range cmds {
		cmds[i] = helper(t, "counter", "LOCK_DIR="+dir, "LOCK_KEY=counter", "COUNTER="+counter, "ITERS="+strconv.Itoa(iters))
		outs[i] = new(bytes.Buffer)
		cmds[i].Stdout, cmds[i].Stderr = outs[i], outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("child %d: %v: %s", i, err, outs[i])
		}
	}
	t.Logf("%d processes x %d iterations in %v", procs, iters, time.Since(start))
	b, err := os.ReadFile(counter)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != strconv.Itoa(procs*iters) {
		t.Fatalf("counter = %s; want %d", got, procs*iters)
	}
	mustNotExist(t, Path(dir, "counter"))
}

// Release renames the directory away before removing it, so a process
// killed while releasing never leaves an ownerless lock for others to
// wait out; what it leaves is removed by the next acquire of the key.
func TestReleaseLeavesNoOwnerlessLock(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	l, err := Acquire(ctx, dir, "k", Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// What a kill between the rename and the removal leaves.
	tomb := tombstonePath(l.path, "deadbeef")
	if err := os.MkdirAll(tomb, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(l.path); !os.IsNotExist(err) {
		t.Fatalf("lock directory after release: %v", err)
	}
	l2, err := Acquire(ctx, dir, "k", Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	defer l2.Release()
	if left, _ := filepath.Glob(filepath.Join(dir, ".k.lock.released-*")); len(left) != 0 {
		t.Errorf("released directories left: %q", left)
	}
}
