package state

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"time"
)

// Backend is a state store that also grants stage leases: one holder per
// (stack, stage) at a time, for deploy, destroy and state edits. Every
// backend (local, postgres, s3) implements it and passes the same contract
// suite (internal/state/statetest).
//
// The Store methods of a Backend read and write without a lease; a command
// that changes a stage writes through Lease.Store, whose writes the backend
// itself rejects once the lease is lost (fencing), even when the holder did
// not notice the loss in time (paused, cut off).
type Backend interface {
	Store
	// Describe names the store for people ("local .alchemy/state",
	// "postgres://alchemy@db:5432/state", "s3://bucket/prefix"): never a
	// password or a key.
	Describe() string
	// Acquire takes the lease of one stage. While another holder has it,
	// Acquire waits up to opts.Wait (calling opts.OnWait once), then fails
	// with a *HeldError naming the holder. A holder whose lease expired
	// (no heartbeat for its TTL), or a dead process on this host, is taken
	// over; from then on its writes are rejected.
	Acquire(ctx context.Context, stack, stage string, opts LeaseOptions) (Lease, error)
	// Leases lists the stage leases of this store that are held, or were
	// left by holders that died (Stale), sorted by stack then stage.
	Leases(ctx context.Context) ([]LeaseInfo, error)
	// Break ends the lease of stack/stage if its Token is still token, so
	// the next Acquire takes it at once and the old holder's writes are
	// rejected. A lease that changed hands since (another token) is left
	// alone and Break returns a *HeldError naming the current holder; no
	// lease at all is not an error.
	Break(ctx context.Context, stack, stage, token string) error
	// Close releases the backend's connections. Leases must be released
	// first.
	Close() error
}

// LeaseOptions tunes Acquire. Zero fields take the backend's defaults.
type LeaseOptions struct {
	// Command is what the holder does, shown to whoever waits:
	// "alchemy deploy --stage prod".
	Command string
	// Wait is how long Acquire waits for a live holder; 0 fails at once.
	Wait time.Duration
	// OnWait is called once when Acquire starts waiting, with the holder.
	OnWait func(LeaseInfo)
	// TTL is how long a lease lives without a heartbeat before another
	// process may take it over; default DefaultTTL (the local backend: its
	// lock's stale time).
	TTL time.Duration
	// Heartbeat is how often the holder renews the lease; default TTL/6.
	Heartbeat time.Duration
	// Identity is who holds the lease; default ThisProcess(). Tests set it
	// to act as another host.
	Identity *Identity
}

// DefaultTTL is how long a remote lease outlives its last heartbeat.
const DefaultTTL = 60 * time.Second

// Identity is a lease holder: a process on a host, run by a user.
type Identity struct {
	User string
	Host string
	PID  int
}

// ThisProcess is the identity of this process.
func ThisProcess() Identity {
	id := Identity{PID: os.Getpid()}
	id.Host, _ = os.Hostname()
	if u, err := user.Current(); err == nil {
		id.User = u.Username
	}
	return id
}

// LeaseInfo describes a lease, for messages and `alchemy state lease`.
type LeaseInfo struct {
	Stack   string    `json:"stack"`
	Stage   string    `json:"stage"`
	User    string    `json:"user,omitempty"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Command string    `json:"command,omitempty"`
	Started time.Time `json:"started"`
	// Renewed is the last heartbeat; Expires when the lease may be taken
	// over without one.
	Renewed time.Time `json:"renewed"`
	Expires time.Time `json:"expires"`
	// Stale is set when the holder is gone: past Expires, or a process on
	// this host that no longer runs.
	Stale bool `json:"stale,omitempty"`
	// Token identifies this grant of the lease (a fencing epoch, a lock
	// nonce): Break takes it so it never breaks a lease granted since.
	Token string `json:"token"`
}

// Holder says who holds the lease, for messages:
// "alice@build-7 (pid 4242) running `alchemy deploy --stage prod` since 10:42:07".
func (i LeaseInfo) Holder() string {
	who := i.Host
	if i.User != "" {
		who = i.User + "@" + i.Host
	}
	s := fmt.Sprintf("%s (pid %d)", who, i.PID)
	if i.Command != "" {
		s += " running `" + i.Command + "`"
	}
	if !i.Started.IsZero() {
		s += " since " + i.Started.Local().Format("2006-01-02 15:04:05")
	}
	return s
}

// Lease is a held stage lease. It satisfies the engine's Lease (Lost, Err)
// and Fence (Check).
type Lease interface {
	Info() LeaseInfo
	// Store is the backend's store with every write fenced by this lease:
	// refused once the lease is known lost, and rejected by the backend when
	// the loss raced the write.
	Store() Store
	// Lost is closed when the lease is lost (taken over, broken, its
	// connection gone); Err then says how.
	Lost() <-chan struct{}
	Err() error
	// Check returns Err, after making sure the lease is still held when the
	// last look is older than a heartbeat.
	Check() error
	// Release gives the lease up; its Store refuses writes from then on.
	Release() error
}

// HeldError is Acquire's (or Break's) failure when another holder has the
// lease.
type HeldError struct {
	Info   LeaseInfo
	Waited time.Duration
}

func (e *HeldError) Error() string {
	msg := fmt.Sprintf("%s/%s is leased by %s", e.Info.Stack, e.Info.Stage, e.Info.Holder())
	if e.Waited > 0 {
		msg += fmt.Sprintf(" (waited %s)", e.Waited.Round(time.Second))
	}
	return msg
}

// LostError is what a fenced write returns once its lease is lost.
type LostError struct {
	Stack, Stage string
	Reason       string
}

func (e *LostError) Error() string {
	return fmt.Sprintf("the lease of %s/%s was lost: %s", e.Stack, e.Stage, e.Reason)
}
