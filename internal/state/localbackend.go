package state

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alchemy-go/alchemy/internal/lock"
)

// LocalBackend is the default backend: the project-local store (Local,
// rows in <root>/.alchemy/state) with stage leases that are the lock
// directories of internal/lock in <root>/.alchemy/lock, under the key
// "stage-<stack>-<stage>" the TypeScript tool and earlier versions of this
// one use, so that they keep excluding each other.
//
// A holder on this host is judged by its process: alive, it keeps the
// lease however long it is stopped; dead, its lease is taken at once. A
// holder on another host (a shared directory, or a test acting as one) is
// judged by its heartbeat: past the TTL, its lease is taken over.
//
// Fencing is check-then-write: every write through Lease.Store is preceded
// by a read of the lock's owner file (never a cached answer: the journal
// reads it once per batch of commits it writes, after all of them were made
// and before any is durable) and refused unless it still carries this
// grant's nonce. A holder that was taken over or broken
// therefore cannot write once it could know; but a takeover that lands
// between the check and the write is not caught, as nothing on one file
// system can make the two one step. Remote backends close that window in
// the store itself (a row version, a conditional write); locally the
// window is a few microseconds of one process on one machine, where the
// only way to lose a lease while alive is a person breaking it by hand.
type LocalBackend struct {
	*Local
	// Root is the project directory: .alchemy/ lives there.
	Root string
	// Name is how Describe names the store; default "local
	// <Root>/.alchemy/state".
	Name string
	// TTL is how long a holder on another host keeps the lease without a
	// heartbeat before Acquire takes it over: the lock's stale time,
	// judged by whoever tries to take it. Default 30 s, as the TypeScript
	// tool.
	TTL time.Duration
	// Warn receives warnings (a lease found lost); default stderr.
	Warn func(string)
}

var _ Backend = (*LocalBackend)(nil)

const localDefaultTTL = 30 * time.Second

// NewLocalBackend returns the local backend of the project at root (the
// stack's module root).
func NewLocalBackend(root string) *LocalBackend {
	if abs, err := filepath.Abs(root); err == nil {
		root = abs
	}
	return &LocalBackend{Local: NewLocal(filepath.Join(root, ".alchemy", "state")), Root: root}
}

func (b *LocalBackend) lockDir() string { return filepath.Join(b.Root, ".alchemy", "lock") }

func (b *LocalBackend) ttl() time.Duration {
	if b.TTL > 0 {
		return b.TTL
	}
	return localDefaultTTL
}

// StageLockKey is the lock key of a stage's lease, shared with the
// TypeScript tool.
func StageLockKey(stack, stage string) string { return "stage-" + stack + "-" + stage }

// Describe names the store.
func (b *LocalBackend) Describe() string {
	if b.Name != "" {
		return b.Name
	}
	return "local " + b.Local.Root
}

// Close releases nothing: the local store holds no connection.
func (b *LocalBackend) Close() error { return nil }

// Acquire takes the stage's lock.
func (b *LocalBackend) Acquire(ctx context.Context, stack, stage string, opts LeaseOptions) (Lease, error) {
	if err := ValidateSegment("stack", stack); err != nil {
		return nil, err
	}
	if err := ValidateSegment("stage", stage); err != nil {
		return nil, err
	}
	id := ThisProcess()
	if opts.Identity != nil {
		id = *opts.Identity
	}
	ttl := opts.TTL
	if ttl <= 0 {
		ttl = b.ttl()
	}
	beat := opts.Heartbeat
	if beat <= 0 {
		beat = min(ttl/3, 10*time.Second)
	}
	lo := lock.Options{Name: "lease of " + stack + "/" + stage, Command: opts.Command, Stale: ttl, Heartbeat: beat,
		Poll: 50 * time.Millisecond, Warn: b.Warn, Timeout: time.Nanosecond}
	key := StageLockKey(stack, stage)
	start := time.Now()
	waited := false
	var l *lock.Lock
	for {
		var err error
		l, err = lock.AcquireFor(ctx, b.lockDir(), key, lo)
		var te *lock.TimeoutError
		if !errors.As(err, &te) {
			if err != nil {
				return nil, err
			}
			break
		}
		info, held, ierr := b.lease(ctx, stack, stage)
		if ierr != nil {
			return nil, ierr
		}
		if !held {
			continue // released in between: try again
		}
		left := opts.Wait - time.Since(start)
		if left <= 0 {
			e := &HeldError{Info: info}
			if waited {
				e.Waited = time.Since(start)
			}
			return nil, e
		}
		if !waited && opts.OnWait != nil {
			opts.OnWait(info)
		}
		waited = true
		// Wait in slices, so that the holder named in the error is the
		// one holding it at the end.
		lo.Timeout = min(left, time.Second)
	}
	extra := map[string]string{"stack": stack, "stage": stage, "ttl": ttl.String()}
	if err := l.SetOwner(id.User, id.Host, id.PID, extra); err != nil {
		l.Release()
		return nil, err
	}
	info, _, err := b.lease(ctx, stack, stage)
	if err != nil {
		l.Release()
		return nil, err
	}
	ll := &localLease{b: b, l: l, info: info}
	ll.store = Fenced(b.Local, ll)
	return ll, nil
}

// lease reads the lease of one stage; held is false when there is none.
func (b *LocalBackend) lease(ctx context.Context, stack, stage string) (LeaseInfo, bool, error) {
	o, ok, err := lock.Inspect(lock.Path(b.lockDir(), StageLockKey(stack, stage)), b.ttl())
	if err != nil || !ok {
		return LeaseInfo{}, false, err
	}
	return b.infoOf(o, stack, stage), true, nil
}

func (b *LocalBackend) infoOf(o lock.Owner, stack, stage string) LeaseInfo {
	ttl := b.ttl()
	if d, err := time.ParseDuration(o.Extra["ttl"]); err == nil && d > 0 {
		ttl = d
	}
	return LeaseInfo{Stack: stack, Stage: stage, User: o.User, Host: o.Host, PID: o.PID, Command: o.Command,
		Started: o.AcquiredAt, Renewed: o.Heartbeat, Expires: o.Heartbeat.Add(ttl), Stale: o.Stale, Token: o.Nonce}
}

// Leases lists the stage lock directories present.
func (b *LocalBackend) Leases(ctx context.Context) ([]LeaseInfo, error) {
	names, err := lock.Locks(b.lockDir())
	if err != nil {
		return nil, fmt.Errorf("listing leases in %s: %w", b.lockDir(), err)
	}
	var stacks []string
	var out []LeaseInfo
	for _, name := range names {
		if !strings.HasPrefix(name, "stage-") {
			continue
		}
		o, ok, err := lock.Inspect(filepath.Join(b.lockDir(), name), b.ttl())
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		stack, stage := o.Extra["stack"], o.Extra["stage"]
		if stack == "" || stage == "" {
			// Taken by the TypeScript tool or an earlier version: the
			// name is all there is, and a '-' in a stack name makes it
			// ambiguous, so the stacks in state decide.
			if stacks == nil {
				stacks, _ = b.Stacks(ctx)
			}
			stack, stage = splitLockName(strings.TrimSuffix(name, ".lock"), stacks)
		}
		out = append(out, b.infoOf(o, stack, stage))
	}
	slices.SortFunc(out, func(x, y LeaseInfo) int {
		if c := strings.Compare(x.Stack, y.Stack); c != 0 {
			return c
		}
		return strings.Compare(x.Stage, y.Stage)
	})
	return out, nil
}

// splitLockName splits "stage-<stack>-<stage>" (sanitized), preferring a
// stack that has state.
func splitLockName(key string, stacks []string) (stack, stage string) {
	rest := strings.TrimPrefix(key, "stage-")
	for _, s := range stacks {
		if p := lock.SanitizeKey(s) + "-"; strings.HasPrefix(rest, p) && len(rest) > len(p) {
			return s, rest[len(p):]
		}
	}
	if i := strings.IndexByte(rest, '-'); i > 0 {
		return rest[:i], rest[i+1:]
	}
	return rest, ""
}

// Break removes the stage's lock if its nonce is still token.
func (b *LocalBackend) Break(ctx context.Context, stack, stage, token string) error {
	if err := ValidateSegment("stack", stack); err != nil {
		return err
	}
	if err := ValidateSegment("stage", stage); err != nil {
		return err
	}
	err := lock.Break(lock.Path(b.lockDir(), StageLockKey(stack, stage)), token)
	if errors.Is(err, lock.ErrNotHolder) {
		info, held, ierr := b.lease(ctx, stack, stage)
		if ierr != nil {
			return ierr
		}
		if held {
			return &HeldError{Info: info}
		}
		return nil
	}
	return err
}

// localLease is a held stage lock.
type localLease struct {
	b     *LocalBackend
	l     *lock.Lock
	info  LeaseInfo
	store Store

	mu       sync.Mutex
	released bool
	// checks shares owner-file reads among concurrent writes (see Check).
	checks shared
}

func (ll *localLease) Info() LeaseInfo       { return ll.info }
func (ll *localLease) Store() Store          { return ll.store }
func (ll *localLease) Lost() <-chan struct{} { return ll.l.Lost() }

func (ll *localLease) lostErr(err error) error {
	if err == nil {
		return nil
	}
	reason := strings.TrimPrefix(err.Error(), "lost the lease of "+ll.info.Stack+"/"+ll.info.Stage+": ")
	return &LostError{Stack: ll.info.Stack, Stage: ll.info.Stage, Reason: reason}
}

func (ll *localLease) Err() error { return ll.lostErr(ll.l.Err()) }

// Check reads the lock's owner file: the fence of every write through
// Store. Writes made at the same time share a read, but never one that
// started before their call: each write is still checked by a read of the
// file made after it was asked for, as if it had made its own (a deploy
// commits thousands of rows at once, and a read per commit was a sixth of
// its time).
func (ll *localLease) Check() error {
	ll.mu.Lock()
	released := ll.released
	ll.mu.Unlock()
	if released {
		return &LostError{Stack: ll.info.Stack, Stage: ll.info.Stage, Reason: "it was released"}
	}
	if err := ll.checks.do(ll.l.Verify); err != nil {
		if e := ll.l.Err(); e != nil {
			return ll.lostErr(e)
		}
		return err
	}
	return nil
}

func (ll *localLease) Release() error {
	ll.mu.Lock()
	ll.released = true
	ll.mu.Unlock()
	// A journal left open would be written again under the next lease,
	// after another holder may have replayed it and started its own.
	ll.b.Local.Detach(ll.info.Stack, ll.info.Stage)
	return ll.l.Release()
}
