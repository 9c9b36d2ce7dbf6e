package lock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gofrs/flock"

	"github.com/alchemy-go/alchemy/internal/atomicfile"
)

// owner is the content of <lock>/owner. The nonce is what makes release and
// heartbeat safe: pid and host can repeat, the nonce cannot.
type owner struct {
	PID        int    `json:"pid"`
	Host       string `json:"host"`
	Nonce      string `json:"nonce"`
	AcquiredAt string `json:"acquiredAt"`
	// Start identifies the holder process beyond its pid (its start time
	// on Linux), so that a pid reused by another process after the holder
	// died does not keep the lock held forever.
	Start string `json:"start,omitempty"`
	// Command is what the holder is doing ("alchemy deploy --stage prod"),
	// for the message of whoever waits.
	Command string `json:"command,omitempty"`
}

// describe says who holds a lock, for messages.
func (o owner) describe(now time.Time) string {
	s := fmt.Sprintf("pid %d on %s", o.PID, o.Host)
	if o.Command != "" {
		s += ", running `" + o.Command + "`"
	}
	if t, err := time.Parse(time.RFC3339Nano, o.AcquiredAt); err == nil {
		s += fmt.Sprintf(", since %s (%s ago)", t.Local().Format("15:04:05"), now.Sub(t).Round(time.Second))
	}
	return s
}

// local reports whether o names a process on this host, whose liveness
// can therefore be checked.
func (o owner) local() bool {
	host := hostname()
	return host != "" && o.Host == host && o.PID > 0
}

// gone reports whether the local process o names has ended: it is dead,
// or its pid now belongs to another process (a different start time).
func (o owner) gone() bool {
	if processDead(o.PID) {
		return true
	}
	if o.Start != "" {
		if start := processStart(o.PID); start != "" && start != o.Start {
			return true
		}
	}
	return false
}

// errBadOwner marks an owner file that exists but is not one of ours, such
// as the TypeScript tool's plain-text owner.
var errBadOwner = errors.New("owner file is not an alchemy-go owner record")

func readOwner(lockPath string) (owner, error) {
	return readOwnerFile(filepath.Join(lockPath, ownerFile))
}

// readOwnerFile reads an owner record (the owner file, or a claim).
func readOwnerFile(path string) (owner, error) {
	data, err := atomicfile.ReadRegular(path)
	if err != nil {
		return owner{}, err
	}
	var o owner
	if err := json.Unmarshal(data, &o); err != nil || o.Nonce == "" {
		return owner{}, errBadOwner
	}
	return o, nil
}

// writeOwner publishes the owner record with a rename so that a reader never
// sees a half-written file. There is no fsync: after a power loss an empty
// or missing owner only means the lock is judged by its mtime, and a lock
// needs no durability.
func writeOwner(lockPath, nonce, command string) error {
	return writeOwnerTo(filepath.Join(lockPath, ownerFile), nonce, command)
}

// writeOwnerTo writes this process's owner record to path, atomically.
func writeOwnerTo(path, nonce, command string) (err error) {
	data, err := json.Marshal(owner{
		PID:        os.Getpid(),
		Host:       hostname(),
		Nonce:      nonce,
		AcquiredAt: time.Now().UTC().Format(time.RFC3339Nano),
		Start:      processStart(os.Getpid()),
		Command:    command,
	})
	if err != nil {
		return err
	}
	// CreateTemp opens with mode 0600.
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// guardMu backs up the flock within this process: flock(2) excludes
// separate opens of the same file, but where the library emulates it with
// fcntl locks (AIX, Solaris) those are per process and would let our own
// goroutines in together.
var guardMu sync.Mutex

// guardWait bounds the wait for the guard. Every holder keeps it for a few
// syscalls only, but a holder stopped (SIGSTOP, Ctrl-Z) inside that window
// would otherwise block everyone forever.
const guardWait = 10 * time.Second

// errGuardBusy is the guard held past guardWait.
var errGuardBusy = errors.New("the lock guard is held by a process that does not let go (stopped with Ctrl-Z or SIGSTOP?)")

// lockGuard takes the guard around one create-or-reap decision or release,
// waiting at most guardWait. The .guard file is never deleted: a waiter
// blocked on the old inode would otherwise be excluded from nothing.
func lockGuard(dir string) (unlock func(), err error) {
	guardMu.Lock()
	// Opening a named pipe would block: only a regular file is a guard.
	if fi, err := os.Lstat(filepath.Join(dir, guardFile)); err == nil && !fi.Mode().IsRegular() {
		guardMu.Unlock()
		return nil, fmt.Errorf("lock guard %s is not a regular file: remove it", filepath.Join(dir, guardFile))
	}
	g := flock.New(filepath.Join(dir, guardFile), flock.SetPermissions(0o600))
	ctx, cancel := context.WithTimeout(context.Background(), guardWait)
	defer cancel()
	ok, err := g.TryLockContext(ctx, 10*time.Millisecond)
	if !ok || err != nil {
		guardMu.Unlock()
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			err = errGuardBusy
		}
		return nil, fmt.Errorf("lock guard %s: %w", filepath.Join(dir, guardFile), err)
	}
	return func() {
		_ = g.Unlock()
		guardMu.Unlock()
	}, nil
}
