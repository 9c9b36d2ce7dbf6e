package lock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// This file is what a lease store built on these locks (the local state
// backend, internal/state) needs beyond Acquire: who holds a lock, a
// fencing check that reads the owner file every time, an owner record that
// names another identity (tests acting as another host), and breaking a
// lock only while its nonce is still the one a person was shown.

// Owner is who holds a lock, as its owner file and directory say.
type Owner struct {
	PID        int
	Host       string
	User       string // "" when the holder did not record it
	Nonce      string // "" when the owner file is not ours (the TypeScript tool's)
	Command    string
	AcquiredAt time.Time
	// Heartbeat is the lock directory's mtime, which the holder refreshes.
	Heartbeat time.Time
	// Stale is set when the lock may be reaped: its holder on this host is
	// gone, or its heartbeat is older than the staleAfter it was read with.
	Stale bool
	// Extra are the fields a holder added with SetOwner.
	Extra map[string]string
}

// ownerRecord is the owner file with the fields SetOwner adds. Readers
// that know only owner ignore them.
type ownerRecord struct {
	owner
	User  string            `json:"user,omitempty"`
	Extra map[string]string `json:"extra,omitempty"`
}

// Inspect reads the lock at lockPath (see Path). ok is false when there
// is no lock.
func Inspect(lockPath string, staleAfter time.Duration) (o Owner, ok bool, err error) {
	if staleAfter <= 0 {
		staleAfter = defaultStale
	}
	fi, err := os.Stat(lockPath)
	if errors.Is(err, fs.ErrNotExist) {
		return Owner{}, false, nil
	}
	if err != nil {
		return Owner{}, false, err
	}
	o.Heartbeat = fi.ModTime()
	if data, err := os.ReadFile(filepath.Join(lockPath, ownerFile)); err == nil {
		var rec ownerRecord
		if json.Unmarshal(data, &rec) == nil {
			o.PID, o.Host, o.User, o.Nonce, o.Command, o.Extra = rec.PID, rec.Host, rec.User, rec.Nonce, rec.Command, rec.Extra
			o.AcquiredAt, _ = time.Parse(time.RFC3339Nano, rec.AcquiredAt)
		}
	}
	stale, gone, err := isStale(lockPath, staleAfter)
	if gone {
		return Owner{}, false, nil
	}
	if err != nil {
		return Owner{}, false, err
	}
	o.Stale = stale
	return o, true, nil
}

// Locks lists the lock directories in dir by file name ("<key>.lock"),
// sorted; a missing dir has none.
func Locks(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if n := e.Name(); e.IsDir() && strings.HasSuffix(n, ".lock") && !strings.HasPrefix(n, ".") {
			out = append(out, n)
		}
	}
	return out, nil
}

// Nonce identifies this grant of the lock: Break takes it.
func (l *Lock) Nonce() string { return l.nonce }

// Verify is Check without its cache: it reads the owner file every time,
// for a store that must refuse a write as soon as the lock is another's.
// A lock found taken over or removed is lost from then on (Lost closes).
func (l *Lock) Verify() error {
	if l == nil || l.noop {
		return nil
	}
	if err := l.Err(); err != nil {
		return err
	}
	o, err := readOwner(l.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		l.compromised(fmt.Sprintf("'%s' was removed", l.path))
	case err != nil && !errors.Is(err, errBadOwner):
		return fmt.Errorf("checking the %s: %w", l.name, err)
	case err != nil || o.Nonce != l.nonce:
		l.compromised(fmt.Sprintf("'%s' is now held by %s", l.path, holder(l.path)))
	default:
		return nil
	}
	return l.Err()
}

// SetOwner rewrites this lock's owner record to name user, host and pid
// (and to carry extra), keeping its nonce: the lock then belongs, for
// every liveness check, to that identity. A holder names itself with its
// own pid; a test acting as another host names that host, so that the lock
// is judged by its heartbeat like a remote holder's. It fails, changing
// nothing, once the lock is no longer this one.
func (l *Lock) SetOwner(user, host string, pid int, extra map[string]string) error {
	if l == nil || l.noop {
		return nil
	}
	unlock, err := lockGuard(l.dir)
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := readOwner(l.path)
	if err != nil || cur.Nonce != l.nonce {
		return fmt.Errorf("the %s is no longer held by this process", l.name)
	}
	rec := ownerRecord{owner: cur, User: user, Extra: extra}
	rec.Host, rec.PID = host, pid
	if host != hostname() || pid != os.Getpid() {
		rec.Start = ""
		if host == hostname() && pid > 0 {
			rec.Start = processStart(pid)
		}
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(l.path, "."+ownerFile+"-*.tmp")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(l.path, ownerFile))
}

// ErrNotHolder is Break's answer when the lock's nonce is no longer the
// one given: it changed hands since, and is left alone.
var ErrNotHolder = errors.New("the lock is held under another nonce")

// Break removes the lock at lockPath if its owner's nonce is still nonce
// ("" matches an owner file that is not ours, such as the TypeScript
// tool's). Another nonce: ErrNotHolder, nothing removed. No lock: nil.
func Break(lockPath, nonce string) error {
	unlock, err := lockGuard(filepath.Dir(lockPath))
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Lstat(lockPath); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	o, err := readOwner(lockPath)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, errBadOwner):
		if nonce != "" {
			return ErrNotHolder
		}
	case err != nil:
		return err
	case o.Nonce != nonce:
		return ErrNotHolder
	}
	tomb := tombstonePath(lockPath, newNonce())
	if err := os.Rename(lockPath, tomb); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return os.RemoveAll(tomb)
}

// AcquireFor is Acquire for a store that hands out leases: it takes the
// lock on disk only, without Acquire's in-process queue, so that two
// clients in one process contend as two processes would (a lease whose
// holder went quiet is reaped by a client of the same process, which the
// queue would forbid). The guard still serialises every decision.
func AcquireFor(ctx context.Context, dir, key string, opts Options) (*Lock, error) {
	opts = opts.withDefaults()
	lockPath := Path(dir, key)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l, err := acquireDir(ctx, dir, lockPath, time.Now().Add(opts.Timeout), opts)
	if err != nil {
		return nil, err
	}
	l.checked = time.Now()
	if !l.noop {
		l.stop = make(chan struct{})
		l.done = make(chan struct{})
		go l.heartbeat(opts.Heartbeat)
	}
	return l, nil
}
