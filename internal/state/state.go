// Package state persists what the engine knows about deployed resources: one
// row per resource (or action) of a (stack, stage), plus the stage's evaluated
// stack outputs.
//
// Two constraints shape it:
//
//   - Interop with the TypeScript tool. The local store uses the same
//     .alchemy/state/<stack>/<stage>/<encoded fqn>.json layout, the same FQN
//     file-name encoding (including the legacy one it still reads), and rows
//     keep every field this tool does not model, so either tool can pick up a
//     stage the other deployed.
//   - Durability before provider calls. The engine commits a row (creating,
//     updating, deleting, ...) before every cloud mutation, so Set returns only
//     once the row is on disk: a crash or kill -9 right after it leaves a row
//     that tells the next deploy what may exist in the cloud. Unreadable state
//     is an error, never "no state": treating it as empty would make destroy
//     report success while the cloud resources live on.
//
// Store is the contract every backend implements; Local is the on-disk one.
package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Values inside props, attrs and outputs may be encoded with the markers of
// spec 3.4 ({"__redacted__": ...}, {"__secret__": ...}, {"__duration__":
// ...}); the store treats them as opaque JSON, and internal/secret encodes
// and decodes secrets.

// Status of a row (spec 3.3).
type Status string

// Resource row statuses. Created, Updated and Replaced are stable; the others
// mark a provider call in flight (or interrupted) and tell the next deploy
// how to recover.
const (
	Creating  Status = "creating"
	Created   Status = "created"
	Updating  Status = "updating"
	Updated   Status = "updated"
	Deleting  Status = "deleting"
	Replacing Status = "replacing"
	Replaced  Status = "replaced"
)

// Action row statuses (rows with Kind "action").
const (
	Running Status = "running"
	Ran     Status = "ran"
)

// Row is one resource's persisted state, JSON-compatible with the TypeScript
// tool's rows (spec 3.3). Action rows use the same type: their own fields
// (actionType, inputHash, input, output) live in Extra.
type Row struct {
	Kind            string          `json:"kind,omitempty"` // "resource", "action", or absent on legacy rows
	ResourceType    string          `json:"resourceType"`
	FQN             string          `json:"fqn"`
	LogicalID       string          `json:"logicalId"`
	InstanceID      string          `json:"instanceId"` // hex of 16 random bytes; changes only on replace
	ProviderVersion int             `json:"providerVersion"`
	Status          Status          `json:"status"`
	Downstream      []string        `json:"downstream"` // written as [] when empty, never null
	Props           json.RawMessage `json:"props,omitempty"`
	Attr            json.RawMessage `json:"attr,omitempty"`
	RemovalPolicy   string          `json:"removalPolicy,omitempty"` // "destroy" | "retain"
	// Old is the previous stable snapshot of an updating row, or the previous
	// generation (itself possibly replacing/replaced: a chain) of a
	// replacing/replaced row.
	Old         *Row `json:"old,omitempty"`
	DeleteFirst bool `json:"deleteFirst,omitempty"`
	// Claimed marks a creating or replacing row whose create this tool
	// issued after checking that the name was free (or already ours): a
	// resource found under that name later is the one it created, even
	// before its ownership tags were written. Rows without it (the
	// TypeScript tool's, or a create refused as not ours) prove nothing.
	Claimed bool `json:"claimed,omitempty"`
	// Extra holds the fields this tool does not model (namespace, bindings,
	// providerMode, adopting, ...), read and written back untouched. Keys that
	// name a field above are ignored when writing.
	Extra map[string]json.RawMessage `json:"-"`
}

// Validate checks what the engine relies on: a resource type, and a status
// it knows. A row it cannot interpret must stop the plan, never read as "no
// resource" (which would create a duplicate and orphan the original).
func (r *Row) Validate() error {
	if r.Kind == "action" {
		switch r.Status {
		case Running, Ran:
			return nil
		case "":
			return errors.New("it has no status")
		}
		return fmt.Errorf("its status %q is not one this alchemy knows (written by a newer version?)", r.Status)
	}
	if r.ResourceType == "" {
		return errors.New("it has no resourceType")
	}
	switch r.Status {
	case Creating, Created, Updating, Updated, Deleting, Replacing, Replaced:
	case "":
		return errors.New("it has no status")
	default:
		return fmt.Errorf("its status %q is not one this alchemy knows (written by a newer version?)", r.Status)
	}
	if r.Old != nil && r.Old.Status != "" && (r.Status == Replacing || r.Status == Replaced) {
		if err := r.Old.Validate(); err != nil {
			return fmt.Errorf("its previous generation is unusable: %w", err)
		}
	}
	return nil
}

// Generations returns the row followed by the previous generations a
// replacement left to delete (a deleting row keeps them until they are
// gone). An updating row's old snapshot is the same resource, not a
// generation, and is not listed.
func (r *Row) Generations() []*Row {
	out := []*Row{r}
	for g := r; (g.Status == Replacing || g.Status == Replaced || g.Status == Deleting) && g.Old != nil; g = g.Old {
		out = append(out, g.Old)
	}
	return out
}

// Stable reports whether no provider call is in flight for the row: its
// status is created, updated or replaced.
func (r *Row) Stable() bool {
	return r.Status == Created || r.Status == Updated || r.Status == Replaced
}

// NewInstanceID returns 16 random bytes, hex-encoded: the seed of a
// resource's physical names.
func NewInstanceID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails since Go 1.24
	return hex.EncodeToString(b[:])
}

// Store is the contract every state backend implements. Operations on one
// (stack, stage) never read or write another stage's rows. Stack and stage
// must be valid path segments (see ValidateSegment).
type Store interface {
	// List returns the FQNs of a stage's rows, sorted; a stage without state
	// has none.
	List(ctx context.Context, stack, stage string) ([]string, error)
	// Get returns a row, or nil, nil when there is none.
	Get(ctx context.Context, stack, stage, fqn string) (*Row, error)
	// Set creates or replaces row (keyed by row.FQN); it is durable once Set
	// returns.
	Set(ctx context.Context, stack, stage string, row *Row) error
	// Delete removes a row; deleting a missing row is not an error.
	Delete(ctx context.Context, stack, stage, fqn string) error
	// GetOutput returns the stage's stack-output record, nil when absent.
	GetOutput(ctx context.Context, stack, stage string) (json.RawMessage, error)
	// SetOutput replaces the stack-output record; nil removes it.
	SetOutput(ctx context.Context, stack, stage string, out json.RawMessage) error
	// DeleteStage removes all of a stage's state, its output included.
	DeleteStage(ctx context.Context, stack, stage string) error
	// Stacks returns the stack names, sorted.
	Stacks(ctx context.Context) ([]string, error)
	// Stages returns a stack's stage names, sorted.
	Stages(ctx context.Context, stack string) ([]string, error)
}

// loadWorkers bounds LoadAll's concurrent Gets: enough to hide a remote
// store's round trips, few enough not to trip its rate limits or our fd limit.
const loadWorkers = 32

// BulkReader is implemented by stores that read a whole stage at once (one
// query on PostgreSQL); LoadAll uses it instead of List and a Get per row.
type BulkReader interface {
	// GetAll returns every row of a stage keyed by FQN (empty, not nil, for
	// a stage without state).
	GetAll(ctx context.Context, stack, stage string) (map[string]*Row, error)
}

// LoadAll reads every row of a stage into a map keyed by FQN: in one read
// from a BulkReader, else with bounded concurrency. The plan reads state
// once through it. A row that disappears between List and Get is left out;
// any other error fails the whole load.
func LoadAll(ctx context.Context, s Store, stack, stage string) (map[string]*Row, error) {
	if br, ok := s.(BulkReader); ok {
		return br.GetAll(ctx, stack, stage)
	}
	fqns, err := s.List(ctx, stack, stage)
	if err != nil {
		return nil, err
	}
	return getEach(ctx, fqns, loadWorkers, func() rowGetter {
		return func(ctx context.Context, fqn string) (*Row, error) { return s.Get(ctx, stack, stage, fqn) }
	})
}

// rowGetter reads one row; nil (no error) leaves it out.
type rowGetter func(ctx context.Context, fqn string) (*Row, error)

// getEach reads fqns into a map keyed by FQN with workers readers at once,
// each made by newReader (so it may keep buffers of its own); the first
// error cancels the rest and fails the whole read.
func getEach(ctx context.Context, fqns []string, workers int, newReader func() rowGetter) (map[string]*Row, error) {
	rows := make([]*Row, len(fqns))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, len(fqns)) {
		wg.Go(func() {
			get := newReader()
			for i := range next {
				row, err := get(ctx, fqns[i])
				if err != nil {
					cancel(err)
					continue
				}
				rows[i] = row
			}
		})
	}
feed:
	for i := range fqns {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	out := make(map[string]*Row, len(fqns))
	for i, row := range rows {
		if row != nil {
			out[fqns[i]] = row
		}
	}
	return out, nil
}

// ValidateSegment checks that a stack or stage name can be used as one path
// segment of a store: not empty, not "." or "..", no "/", "\" or NUL. what
// names the segment in the error ("stack", "stage").
func ValidateSegment(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("invalid %s name: it is empty", what)
	case name == "." || name == "..":
		return fmt.Errorf("invalid %s name %q: it must not be %q", what, name, name)
	case strings.ContainsAny(name, "/\\\x00"):
		return fmt.Errorf(`invalid %s name %q: it must not contain "/", "\" or NUL`, what, name)
	}
	return nil
}

// Flusher is implemented by stores that keep commits in a durable journal
// and write them to their final place in batches. The engine calls Flush at
// the end of every apply.
type Flusher interface {
	Flush(ctx context.Context) error
}

// Flush flushes s when it is a Flusher.
func Flush(ctx context.Context, s Store) error {
	if f, ok := s.(Flusher); ok {
		return f.Flush(ctx)
	}
	return nil
}

// Recoverer is implemented by stores that can finish what a killed run left
// half-written (the local store's journal).
type Recoverer interface {
	Recover(ctx context.Context, stack, stage string) error
}

// Recover lets s finish a killed run's writes for one stage, when it can.
// Call it only while holding the stage's deploy lock.
func Recover(ctx context.Context, s Store, stack, stage string) error {
	if r, ok := s.(Recoverer); ok {
		return r.Recover(ctx, stack, stage)
	}
	return nil
}
