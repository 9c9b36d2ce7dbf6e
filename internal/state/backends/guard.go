package backends

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/alchemy-go/alchemy/internal/secret"
	"github.com/alchemy-go/alchemy/internal/state"
)

// Why shared state needs ALCHEMY_PASSWORD. This tool never writes a
// secret in clear: a secret prop or output is stored encrypted with
// ALCHEMY_PASSWORD, or, without it, as a keyed hash whose key lives in
// this machine's alchemy home. A hash is fine in a store only this
// machine uses. In a shared store it is not: a teammate's or a CI job's
// run has another key, so it sees every secret as changed and writes it
// again (and the next run here does the same: updates that never end), and
// the old value, which an update or delete may need, is gone for everyone.
// So a shared store takes a secret only encrypted: without the password it
// refuses hashes, and in clear (the TypeScript tool's {"__redacted__":
// value}, which reaches a store only by copying old state) it refuses
// always, since the value would sit readable in the store.

// SecretError is a write the guard refused.
type SecretError struct {
	Store string // Describe() of the store
	Where string // "hello/prod Api props.token", "hello/prod output dbUrl"
	Form  secret.Form
}

func (e *SecretError) Error() string {
	if e.Form == secret.Clear {
		return fmt.Sprintf("refusing to write the secret %s in clear to the shared state %s: set ALCHEMY_PASSWORD (the same for everyone who deploys this stack) so that secrets are stored encrypted, and run again.", e.Where, e.Store)
	}
	return fmt.Sprintf("refusing to write the secret %s to the shared state %s without ALCHEMY_PASSWORD: it could only be stored hashed with this machine's key, which no other machine can check or decrypt. Set ALCHEMY_PASSWORD (the same for everyone who deploys this stack) and run again.", e.Where, e.Store)
}

// Guard wraps a shared backend so that its writes, leased or not, refuse a
// secret it could not give back to another machine (see SecretError).
// password says whether ALCHEMY_PASSWORD is set.
func Guard(b state.Backend, display string, password bool) state.Backend {
	return &guarded{Backend: b, g: guard{display: display, password: password}}
}

type guard struct {
	display  string
	password bool
}

// CheckRow returns a *SecretError when row holds a secret the store must
// not take.
func (g guard) checkRow(stack, stage string, row *state.Row) error {
	for r := row; r != nil; r = r.Old {
		parts := map[string]json.RawMessage{"props": r.Props, "attr": r.Attr}
		for k, v := range r.Extra {
			parts[k] = v
		}
		names := make([]string, 0, len(parts))
		for k := range parts {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if err := g.check(parts[k], fmt.Sprintf("%s/%s %s %s", stack, stage, row.FQN, k)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (g guard) check(raw json.RawMessage, where string) error {
	if len(raw) == 0 {
		return nil
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil // not ours to judge: the store refuses what it cannot parse
	}
	path, form := find(v, "", func(f secret.Form) bool { return f == secret.Clear || (f == secret.Hashed && !g.password) })
	if form == secret.NotSealed {
		return nil
	}
	return &SecretError{Store: g.display, Where: where + path, Form: form}
}

// find walks v for the first sealed value bad accepts, returning its path
// (".token", "[2].key").
func find(v any, path string, bad func(secret.Form) bool) (string, secret.Form) {
	if f := secret.FormOf(v); f != secret.NotSealed {
		if bad(f) {
			return path, f
		}
		return "", secret.NotSealed
	}
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if p, f := find(x[k], path+"."+k, bad); f != secret.NotSealed {
				return p, f
			}
		}
	case []any:
		for i, e := range x {
			if p, f := find(e, fmt.Sprintf("%s[%d]", path, i), bad); f != secret.NotSealed {
				return p, f
			}
		}
	}
	return "", secret.NotSealed
}

type guarded struct {
	state.Backend
	g guard
}

func (b *guarded) Set(ctx context.Context, stack, stage string, row *state.Row) error {
	if err := b.g.checkRow(stack, stage, row); err != nil {
		return err
	}
	return b.Backend.Set(ctx, stack, stage, row)
}

func (b *guarded) SetOutput(ctx context.Context, stack, stage string, out json.RawMessage) error {
	if err := b.g.check(out, stack+"/"+stage+" output"); err != nil {
		return err
	}
	return b.Backend.SetOutput(ctx, stack, stage, out)
}

func (b *guarded) Flush(ctx context.Context) error { return state.Flush(ctx, b.Backend) }

// GetAll keeps the wrapped store's one-read stage load (state.BulkReader).
func (b *guarded) GetAll(ctx context.Context, stack, stage string) (map[string]*state.Row, error) {
	return state.LoadAll(ctx, b.Backend, stack, stage)
}

func (b *guarded) Recover(ctx context.Context, stack, stage string) error {
	return state.Recover(ctx, b.Backend, stack, stage)
}

func (b *guarded) Acquire(ctx context.Context, stack, stage string, opts state.LeaseOptions) (state.Lease, error) {
	l, err := b.Backend.Acquire(ctx, stack, stage, opts)
	if err != nil {
		return nil, err
	}
	return &guardedLease{Lease: l, store: &guardedStore{Store: l.Store(), g: b.g}}, nil
}

type guardedLease struct {
	state.Lease
	store state.Store
}

func (l *guardedLease) Store() state.Store { return l.store }

// guardedStore is a lease's store behind the guard. It passes Flush,
// Recover and GetAll on, as the engine and LoadAll find them by interface.
type guardedStore struct {
	state.Store
	g guard
}

func (s *guardedStore) Set(ctx context.Context, stack, stage string, row *state.Row) error {
	if err := s.g.checkRow(stack, stage, row); err != nil {
		return err
	}
	return s.Store.Set(ctx, stack, stage, row)
}

func (s *guardedStore) SetOutput(ctx context.Context, stack, stage string, out json.RawMessage) error {
	if err := s.g.check(out, stack+"/"+stage+" output"); err != nil {
		return err
	}
	return s.Store.SetOutput(ctx, stack, stage, out)
}

func (s *guardedStore) Flush(ctx context.Context) error { return state.Flush(ctx, s.Store) }

func (s *guardedStore) GetAll(ctx context.Context, stack, stage string) (map[string]*state.Row, error) {
	return state.LoadAll(ctx, s.Store, stack, stage)
}

func (s *guardedStore) Recover(ctx context.Context, stack, stage string) error {
	return state.Recover(ctx, s.Store, stack, stage)
}
