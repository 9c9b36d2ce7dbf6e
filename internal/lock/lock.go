// Package lock serialises alchemy's read-modify-write of profiles.json and its
// credential writes across goroutines and across processes.
//
// The lock itself is a directory, <home>/lock/<key>.lock. That is the
// on-disk protocol of the TypeScript alchemy tool: creating the directory
// is the atomic test-and-set (it uses mkdir), the holder refreshes the
// directory mtime while it works, and anyone may reap a lock whose mtime has
// gone stale. Using the same layout means a Go and a TypeScript process
// guarding the same key exclude each other, which a private locking scheme
// could not do. Where it can, a Go process builds the directory with its
// owner file under a private name and renames it into place with a rename
// that never replaces (renameat2 RENAME_NOREPLACE, renamex_np RENAME_EXCL):
// that fails exactly when the TypeScript tool's mkdir would, and the lock
// is never visible without its owner. Elsewhere it uses mkdir too.
//
// mkdir alone cannot make reaping safe: "the lock is stale" and "remove it"
// are two steps, and between them another process can reap the same stale
// lock and take a fresh one, which the first process then deletes. So every
// create-or-reap decision, and every release, happens while holding an
// flock(2) on <home>/lock/.guard. The guard is held only for those few
// syscalls (never while sleeping between attempts), and the kernel drops it
// when its holder dies, so a process killed at any instant cannot wedge the
// others. The TypeScript tool does not take the guard; it only reaps locks
// whose mtime is stale, and a live holder keeps the mtime fresh.
//
// A crashed holder is normally recovered long before its mtime goes stale:
// the owner file names its host and pid, and a lock whose owner is on this
// host but no longer running is reaped at once.
package lock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Options tunes Acquire. Zero fields take the defaults documented on each.
type Options struct {
	// Name describes the lock in messages: "stage lock of hello/dev";
	// default "auth lock".
	Name string
	// Command is what the holder does, recorded for whoever waits:
	// "alchemy deploy --stage prod".
	Command   string
	Stale     time.Duration    // a lock whose heartbeat is older than this is reaped; default 30s
	Heartbeat time.Duration    // holder touches the lock this often; default 10s
	Timeout   time.Duration    // give up waiting after this; default 120s
	Poll      time.Duration    // wait between attempts; default 50ms
	Warn      func(msg string) // warnings (read-only home, compromised lock); default writes "warning: <msg>\n" to os.Stderr
}

const (
	// Defaults match the TypeScript tool. Stale stays well above Heartbeat
	// because a saturated machine can starve the heartbeat for seconds.
	defaultStale     = 30 * time.Second
	defaultHeartbeat = 10 * time.Second
	defaultTimeout   = 120 * time.Second
	defaultPoll      = 50 * time.Millisecond

	ownerFile = "owner"
	guardFile = ".guard"
)

func (o Options) withDefaults() Options {
	if o.Stale <= 0 {
		o.Stale = defaultStale
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = defaultHeartbeat
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.Poll <= 0 {
		o.Poll = defaultPoll
	}
	if o.Warn == nil {
		o.Warn = defaultWarn
	}
	if o.Name == "" {
		o.Name = "auth lock"
	}
	return o
}

func defaultWarn(msg string) {
	fmt.Fprintf(os.Stderr, "warning: %s\n", msg)
}

// TimeoutError reports that the lock at Path stayed held for the whole
// Options.Timeout. The foreign lock is left in place: only its holder, or the
// staleness rules, may remove it.
type TimeoutError struct {
	Path    string
	Timeout time.Duration
	// Name is the lock's description (Options.Name).
	Name string
	// Holder says who holds it ("pid 12 on host, running `alchemy
	// deploy`, since 10:04:05 (40s ago)"), "" when unknown.
	Holder string
}

func (e *TimeoutError) Error() string {
	name := e.Name
	if name == "" {
		name = "auth lock"
	}
	if e.Holder != "" {
		return fmt.Sprintf("Timed out after %ds waiting for the alchemy %s '%s', held by %s. Wait for that process to finish and retry; "+
			"if it is stopped (Ctrl-Z), resume it (fg) or end it. A holder that died is noticed and replaced automatically.",
			int64(e.Timeout/time.Second), name, e.Path, e.Holder)
	}
	return fmt.Sprintf("Timed out waiting for the alchemy %s '%s' — another alchemy process "+
		"has held it for over %ds. If no other alchemy process is running, delete the lock file and retry.",
		name, e.Path, int64(e.Timeout/time.Second))
}

// holder describes who holds the lock at lockPath, "" when unknown.
func holder(lockPath string) string {
	o, err := readOwner(lockPath)
	if err != nil {
		return ""
	}
	return o.describe(time.Now())
}

// Lock is a held lock. A Lock obtained on a home where locking is impossible
// is a no-op: it still holds the in-process mutex, but nothing on disk.
type Lock struct {
	dir     string
	path    string
	nonce   string
	noop    bool
	warn    func(string)
	name    string
	command string

	// lost is closed when the lock is found taken over or removed; lostErr
	// says how. checked is when Check last read the owner file.
	lost     chan struct{}
	lostOnce sync.Once
	lostErr  error
	checkMu  sync.Mutex
	checked  time.Time

	unlockKey func()
	stop      chan struct{}
	done      chan struct{}

	// warned keeps a compromised lock to a single warning, whether the
	// heartbeat or Release notices first.
	warned atomic.Bool

	mu       sync.Mutex
	released bool
}

// SanitizeKey replaces every character outside [A-Za-z0-9._-] with '_'.
//
// Keys come from profile names, which have been seen holding shell
// placeholders such as ${ALCHEMY_PROFILE:-default}; those characters are
// invalid in Windows file names, and '/' would escape the lock directory.
// Characters beyond the Basic Multilingual Plane become two underscores
// because the TypeScript tool replaces UTF-16 code units, and both tools
// must derive the same directory name from the same key.
func SanitizeKey(key string) string {
	var b strings.Builder
	b.Grow(len(key))
	for _, r := range key {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		case r > 0xFFFF:
			b.WriteString("__")
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Path returns the on-disk lock directory for a key.
func Path(dir, key string) string {
	return filepath.Join(dir, SanitizeKey(key)+".lock")
}

// Acquire takes the lock named key in directory dir (dir is <home>/lock,
// created 0700 if missing). It blocks until the lock is free, ctx is done, or
// Options.Timeout passes; the latter returns a *TimeoutError.
//
// If the home is read-only or full, Acquire warns and returns a no-op Lock
// rather than failing: a missed lock only risks a redundant credential
// refresh, while refusing to run would make alchemy unusable there.
func Acquire(ctx context.Context, dir, key string, opts Options) (*Lock, error) {
	opts = opts.withDefaults()
	lockPath := Path(dir, key)
	deadline := time.Now().Add(opts.Timeout)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	unlockKey, err := lockKey(ctx, keyID(lockPath), deadline)
	if err != nil {
		if errors.Is(err, errKeyTimeout) {
			return nil, &TimeoutError{Path: lockPath, Timeout: opts.Timeout, Name: opts.Name, Holder: holder(lockPath)}
		}
		return nil, err
	}
	l, err := acquireDir(ctx, dir, lockPath, deadline, opts)
	if err != nil {
		unlockKey()
		return nil, err
	}
	l.unlockKey = unlockKey
	l.checked = time.Now()
	if !l.noop {
		l.stop = make(chan struct{})
		l.done = make(chan struct{})
		go l.heartbeat(opts.Heartbeat)
	}
	return l, nil
}

// Release releases the lock. It is safe on a nil *Lock, on a no-op Lock, and
// when called more than once.
//
// The directory is removed only if its owner file still carries this lock's
// nonce: if the lock was reaped and re-taken while we held it, the directory
// now belongs to someone else, and removing it would let a third party in.
func (l *Lock) Release() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return nil
	}
	l.released = true
	l.mu.Unlock()

	if l.unlockKey != nil {
		// Runs last so that same-process waiters find the directory gone.
		defer l.unlockKey()
	}
	if l.noop {
		return nil
	}
	// A beat landing after the removal would report a spurious compromise.
	close(l.stop)
	<-l.done
	return l.removeIfOwned()
}

func (l *Lock) removeIfOwned() error {
	unlock, gerr := lockGuard(l.dir)
	if gerr == nil {
		defer unlock()
	}
	// If the guard cannot be had now (it could at Acquire), still release:
	// leaving the directory would block every other process until it goes
	// stale, which is worse than the small window the owner check leaves.
	o, err := readOwner(l.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		l.compromised(fmt.Sprintf("'%s' was removed before release", l.path))
		return nil
	case err != nil:
		l.compromised(fmt.Sprintf("'%s' is no longer owned by this process (%v); leaving it in place", l.path, err))
		return nil
	case o.Nonce != l.nonce:
		l.compromised(fmt.Sprintf("'%s' is now owned by pid %d on %q; leaving it in place", l.path, o.PID, o.Host))
		return nil
	}
	// Renamed away first, atomically: removing in place deletes the owner
	// before the directory, and a process killed between the two would
	// leave an ownerless lock that everyone must wait out.
	tomb := tombstonePath(l.path, l.nonce)
	if err := os.Rename(l.path, tomb); err != nil {
		return fmt.Errorf("release %s: %w", l.name, err)
	}
	crashPoint("release:renamed")
	if err := os.RemoveAll(tomb); err != nil {
		return fmt.Errorf("release %s: %w", l.name, err)
	}
	return nil
}

// tombstonePath is where a released or reaped lock directory goes before
// it is removed; a process killed there leaves it, and the next acquire of
// the key removes it.
func tombstonePath(lockPath, nonce string) string {
	return filepath.Join(filepath.Dir(lockPath), "."+filepath.Base(lockPath)+".released-"+nonce)
}

// compromised records that the lock is no longer ours: Lost closes, Check
// and Err report it, and the holder is warned once.
func (l *Lock) compromised(reason string) {
	l.lostOnce.Do(func() {
		l.lostErr = fmt.Errorf("lost the %s: %s", l.name, reason)
		close(l.lost)
	})
	if l.warned.CompareAndSwap(false, true) {
		l.warn(l.lostErr.Error())
	}
}

// Held reports whether the lock really excludes other processes: false for
// the no-op lock of a home where no lock can be made (read-only).
func (l *Lock) Held() bool { return l != nil && !l.noop }

// Lost is closed once the lock is found taken over or removed (by the
// heartbeat, Check or Release). A no-op lock is never lost.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// Err says how the lock was lost, nil while it is held.
func (l *Lock) Err() error {
	select {
	case <-l.lost:
		return l.lostErr
	default:
		return nil
	}
}

// checkEvery is how long a successful Check is trusted. The clock is
// monotonic and keeps running while the process is stopped, so a holder
// resumed after a SIGSTOP reads the owner file again before its next
// write.
const checkEvery = time.Second

// Check fails once the lock is no longer this holder's: a fencing check
// before every write the lock protects. It reads the owner file at most
// once per checkEvery.
func (l *Lock) Check() error {
	if l == nil || l.noop {
		return nil
	}
	if err := l.Err(); err != nil {
		return err
	}
	l.checkMu.Lock()
	defer l.checkMu.Unlock()
	if time.Since(l.checked) < checkEvery {
		return nil
	}
	o, err := readOwner(l.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		l.compromised(fmt.Sprintf("'%s' was removed", l.path))
	case err != nil && !errors.Is(err, errBadOwner):
		return nil // a transient read failure proves nothing
	case err != nil || o.Nonce != l.nonce:
		l.compromised(fmt.Sprintf("'%s' is now held by %s", l.path, holder(l.path)))
	default:
		l.checked = time.Now()
		return nil
	}
	return l.Err()
}

// heartbeat keeps the directory mtime fresh so that nobody, including the
// TypeScript tool, reaps a lock that is still in use.
func (l *Lock) heartbeat(every time.Duration) {
	defer close(l.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		if reason := l.touch(); reason != "" {
			// Touching a directory we no longer own would keep someone
			// else's lock, or a stale one, alive; stop for good.
			l.compromised(reason)
			return
		}
	}
}

func (l *Lock) touch() (compromised string) {
	o, err := readOwner(l.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, serr := os.Stat(l.path); errors.Is(serr, fs.ErrNotExist) {
			return fmt.Sprintf("'%s' disappeared", l.path)
		}
		return fmt.Sprintf("'%s' lost its owner file", l.path)
	case errors.Is(err, errBadOwner):
		return fmt.Sprintf("'%s' is no longer owned by this process (%v)", l.path, err)
	case err != nil:
		// A transient read failure proves nothing; try again next beat.
		return ""
	case o.Nonce != l.nonce:
		return fmt.Sprintf("'%s' is now owned by pid %d on %q", l.path, o.PID, o.Host)
	}
	now := time.Now()
	if err := os.Chtimes(l.path, now, now); errors.Is(err, fs.ErrNotExist) {
		return fmt.Sprintf("'%s' disappeared", l.path)
	}
	return ""
}

type attempt int

const (
	acquired attempt = iota
	held             // a live foreign lock: wait and try again
	retryNow         // a stale lock was reaped, or the lock dir recreated
)

func acquireDir(ctx context.Context, dir, lockPath string, deadline time.Time, opts Options) (*Lock, error) {
	l := &Lock{dir: dir, path: lockPath, nonce: newNonce(), warn: opts.Warn, name: opts.Name, command: opts.Command,
		lost: make(chan struct{})}
	unavailable := func(err error) bool {
		code := unavailableCode(err)
		if code == "" {
			return false
		}
		opts.Warn(fmt.Sprintf("%s unavailable (%s at '%s') — continuing without cross-process locking", opts.Name, code, lockPath))
		l.noop = true
		return true
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		if unavailable(err) {
			return l, nil
		}
		return nil, fmt.Errorf("create %s directory: %w", opts.Name, err)
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		st, err := l.try(opts.Stale)
		if errors.Is(err, fs.ErrNotExist) {
			// Someone removed the lock directory itself (e.g. wiped the
			// home) since we created it.
			err = os.MkdirAll(dir, 0o700)
			st = retryNow
		}
		if err != nil {
			if unavailable(err) {
				return l, nil
			}
			return nil, fmt.Errorf("acquire %s '%s': %w", opts.Name, lockPath, err)
		}
		switch st {
		case acquired:
			return l, nil
		case retryNow:
			continue
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return nil, &TimeoutError{Path: lockPath, Timeout: opts.Timeout, Name: opts.Name, Holder: holder(lockPath)}
		}
		timer := time.NewTimer(min(wait, opts.Poll))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
	}
}

// try makes one create-or-reap decision under the guard.
//
// A SIGKILL at any instant must leave either no lock directory or one that
// names a process we can check, or every other process waits until it goes
// stale (30 s). So the directory never appears without an owner naming this
// process (see create), and it disappears in one rename, never by removing
// its owner file first: on release (removeIfOwned), and on reaping here.
func (l *Lock) try(staleAfter time.Duration) (attempt, error) {
	unlock, err := lockGuard(l.dir)
	if err != nil {
		return 0, err
	}
	defer unlock()

	_, err = os.Lstat(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		created, err := l.create()
		if err != nil {
			return 0, err
		}
		if created {
			crashPoint("created")
			removeLeftovers(l.path)
			return acquired, nil
		}
		// Someone who takes no guard (the TypeScript tool) made it first.
	} else if err != nil {
		return 0, err
	}
	stale, gone, err := isStale(l.path, staleAfter)
	switch {
	case gone:
		return retryNow, nil
	case err != nil:
		return 0, err
	case !stale:
		return held, nil
	}
	// Renamed away first, like a release: RemoveAll deletes the owner file
	// before the directory, and a reaper killed between the two would leave
	// an ownerless directory naming nobody (the owner it removed named the
	// dead holder), which everyone must then wait out. The tombstone is
	// removed by the next acquire of the key if we are killed here.
	tomb := tombstonePath(l.path, newNonce())
	if err := os.Rename(l.path, tomb); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return retryNow, nil
		}
		return 0, err
	}
	crashPoint("reap:renamed")
	_ = os.Remove(claimPath(l.path))
	_ = os.RemoveAll(tomb)
	return retryNow, nil
}

// create makes the lock directory with this process's owner file in it,
// reporting false if a lock directory appeared there first.
//
// Where the system can rename without replacing, the directory is built
// under a private name and renamed into place, so it is never visible
// without its owner. Elsewhere it is made with mkdir and the owner written
// into it; a claim naming this process, written before the mkdir, covers
// the instant between the two.
func (l *Lock) create() (bool, error) {
	if _, unsupported := noReplaceUnsupported.Load(l.dir); !unsupported {
		created, err := l.createStaged()
		if !errors.Is(err, errNoReplace) {
			return created, err
		}
		noReplaceUnsupported.Store(l.dir, true)
	}
	return l.createClaimed()
}

// errNoReplace is renameNoReplace unable to rename atomically without
// replacing on this system or file system.
var errNoReplace = errors.New("rename without replacing is not supported here")

// noReplaceUnsupported holds the lock directories where renameNoReplace
// returned errNoReplace, so that later acquires go straight to mkdir.
var noReplaceUnsupported sync.Map

// createStaged builds the lock directory, owner file included, at its
// staging path and renames it into place unless something is already there.
// A process killed before the rename leaves only the staging directory,
// which is not the lock and which the next acquire of the key removes.
func (l *Lock) createStaged() (bool, error) {
	stage := stagingPath(l.path, l.nonce)
	if err := mkdirLock(stage, 0o700); err != nil {
		return false, err
	}
	crashPoint("staged:mkdir")
	err := writeOwner(stage, l.nonce, l.command)
	if err == nil {
		crashPoint("staged:owner")
		err = renameNoReplace(stage, l.path)
	}
	if err == nil {
		return true, nil
	}
	_ = os.RemoveAll(stage)
	if errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ENOTEMPTY) {
		return false, nil
	}
	return false, err
}

// createClaimed makes the lock directory with mkdir, then writes its owner.
// A claim naming this process is written before the mkdir and removed once
// the owner file is in place: if this process is killed between the two,
// the next one finds whose the ownerless directory was (an ownerless
// directory is otherwise held until stale, as the TypeScript tool
// mid-acquire looks just like it).
func (l *Lock) createClaimed() (bool, error) {
	claim := claimPath(l.path)
	if err := writeOwnerTo(claim, l.nonce, l.command); err != nil {
		return false, err
	}
	crashPoint("claimed:claim")
	err := mkdirLock(l.path, 0o700)
	if err == nil {
		crashPoint("claimed:mkdir")
		// The owner is written before the guard is dropped, so no other
		// Go process ever judges our directory by the "no owner yet"
		// rule.
		if err := writeOwner(l.path, l.nonce, l.command); err != nil {
			_ = os.RemoveAll(l.path)
			_ = os.Remove(claim)
			return false, err
		}
		crashPoint("claimed:owner")
		_ = os.Remove(claim)
		return true, nil
	}
	_ = os.Remove(claim)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	return false, err
}

// claimPath is where a Go process names itself while it creates the lock
// directory at lockPath with mkdir.
func claimPath(lockPath string) string {
	return filepath.Join(filepath.Dir(lockPath), "."+filepath.Base(lockPath)+".claim")
}

// stagingPath is where a Go process builds the lock directory at lockPath
// before renaming it into place.
func stagingPath(lockPath, nonce string) string {
	return filepath.Join(filepath.Dir(lockPath), "."+filepath.Base(lockPath)+".new-"+nonce)
}

// removeLeftovers removes, once we hold the lock at lockPath, what killed
// processes left around it: released or reaped directories (tombstones),
// staging directories, and claims with their temporary files. Staging
// directories and claims only live inside the guard, which we hold, so
// none of them is anyone's work in progress; and a claim only speaks for an
// ownerless directory, which the lock now is not, so an old one must not
// outlive it (it could later be taken for that of a TypeScript holder's
// directory, which has no claim).
func removeLeftovers(lockPath string) {
	dir, base := filepath.Split(lockPath)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	claim := filepath.Base(claimPath(lockPath))
	for _, e := range ents {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, "."+base+".released-"),
			strings.HasPrefix(name, "."+base+".new-"),
			name == claim,
			strings.HasPrefix(name, "."+claim+"-") && strings.HasSuffix(name, ".tmp"):
			_ = os.RemoveAll(filepath.Join(dir, name))
		}
	}
}

// crashPoint marks the instants where a process killed with SIGKILL leaves
// the lock's files half made or half removed. It does nothing, except in
// the tests' helper processes, which kill themselves at a chosen one.
var crashPoint = func(point string) {}

// mkdirLock is a variable so tests can simulate a read-only or full home
// even when running as root, where permissions do not stop writes.
var mkdirLock = os.Mkdir

// isStale applies the reaping rules to an existing lock directory.
// Liveness comes before age: a holder on this host whose process is alive
// is never reaped, however old its heartbeat (it may be stopped with
// Ctrl-Z, or starved on a busy machine), and one whose process is gone is
// reaped at once. Only a holder on another host, or one whose owner file
// cannot be read (the TypeScript tool's), is judged by its heartbeat's
// age.
func isStale(lockPath string, staleAfter time.Duration) (stale, gone bool, err error) {
	fi, err := os.Stat(lockPath)
	if errors.Is(err, fs.ErrNotExist) {
		return false, true, nil
	}
	if err != nil {
		return false, false, err
	}
	age := time.Since(fi.ModTime())
	o, err := readOwner(lockPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// No owner file: a TypeScript holder in the instant between its
		// mkdir and its owner write (it is slow to start on a loaded
		// machine), or a holder killed in that instant. Taking it would
		// crash the TypeScript holder when it writes its owner; like the
		// TypeScript tool, it is held until its mtime goes stale. A Go
		// process makes no such directory where it can rename one into
		// place; where it uses mkdir (createClaimed), one killed in that
		// instant left its claim (the TypeScript tool writes none): if
		// that names a process on this host that is gone, the lock is
		// reaped at once.
		if o, err := readOwnerFile(claimPath(lockPath)); err == nil && o.local() && o.gone() {
			return true, false, nil
		}
		return age > staleAfter, false, nil
	case err != nil:
		return age > staleAfter, false, nil
	}
	if o.local() {
		return o.gone(), false, nil
	}
	return age > staleAfter, false, nil
}

var hostname = sync.OnceValue(func() string {
	h, _ := os.Hostname()
	return h
})

func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails; see crypto/rand.Read
	return hex.EncodeToString(b[:])
}

// Same-key callers in one process wait on a channel rather than polling the
// file system, and stay serialised even when the file lock is a no-op.
type keySem struct {
	ch   chan struct{}
	refs int // holders plus waiters; the entry is dropped at zero
}

var (
	keysMu sync.Mutex
	keys   = map[string]*keySem{}
)

var errKeyTimeout = errors.New("timed out waiting for in-process lock")

func keyID(lockPath string) string {
	if abs, err := filepath.Abs(lockPath); err == nil {
		return abs
	}
	return filepath.Clean(lockPath)
}

func lockKey(ctx context.Context, id string, deadline time.Time) (unlock func(), err error) {
	keysMu.Lock()
	s := keys[id]
	if s == nil {
		s = &keySem{ch: make(chan struct{}, 1)}
		keys[id] = s
	}
	s.refs++
	keysMu.Unlock()

	drop := func() {
		keysMu.Lock()
		s.refs--
		if s.refs == 0 {
			delete(keys, id)
		}
		keysMu.Unlock()
	}
	unlock = func() {
		<-s.ch
		drop()
	}

	select {
	case s.ch <- struct{}{}:
		return unlock, nil
	default:
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case s.ch <- struct{}{}:
		return unlock, nil
	case <-ctx.Done():
		drop()
		return nil, ctx.Err()
	case <-timer.C:
		drop()
		return nil, errKeyTimeout
	}
}
