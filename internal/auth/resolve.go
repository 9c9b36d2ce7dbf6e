package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/alchemy-go/alchemy/internal/envfile"
	"github.com/alchemy-go/alchemy/internal/profile"
)

// RefreshWindow is how long before expiry cached credentials are resolved
// again, so that a long deploy never runs on an expired token.
const RefreshWindow = 5 * time.Minute

// Resolver resolves the credentials a deploy needs, lazily and once per
// provider: the profile's entry (configuring it on the spot when a person can
// answer), then the provider's Read, cached until RefreshWindow before
// expiry. In CI it reads each provider's env method and writes nothing.
type Resolver struct {
	c   *Context
	reg *Registry
	ci  bool

	// Check, when set, vets credentials as they are resolved, before the
	// resolver hands them to anyone (a stage bound to accounts refuses
	// credentials of another account); its error is returned as is and,
	// like every failure, not cached. Set it before the first resolution.
	Check func(ctx context.Context, p Provider, creds Credentials) error
	// Pinned names what chose the profile when neither --profile nor
	// ALCHEMY_PROFILE can change it (a stage binding of the stack): the
	// remedies of a missing provider then name that profile, also under CI.
	Pinned string

	mu    sync.Mutex
	cache map[string]*cached

	// resolved is told each provider's credentials once, the first time
	// they resolve (announced): a later re-resolution after expiry is the
	// same run.
	resolved  func(provider string, creds Credentials)
	announced map[string]bool
}

type cached struct {
	once  chan struct{} // closed when the resolution in flight ends
	creds Credentials
	err   error
	until time.Time // zero: forever
}

// NewResolver returns a resolver for the context's profile. envOnly (CI
// without an explicit profile) reads each provider's env method and writes
// nothing.
func NewResolver(c *Context, reg *Registry, envOnly bool) *Resolver {
	return &Resolver{c: c, reg: reg, ci: envOnly, cache: map[string]*cached{}, announced: map[string]bool{}}
}

// OnResolved makes fn see each provider's credentials once per run, the
// first time they resolve: the deploy path checks them against the
// environment there. Set it before the first resolution.
func (r *Resolver) OnResolved(fn func(provider string, creds Credentials)) { r.resolved = fn }

// Credentials returns the credentials of the named provider.
func (r *Resolver) Credentials(ctx context.Context, name string) (Credentials, error) {
	for {
		r.mu.Lock()
		e := r.cache[name]
		now := r.c.Now()
		if e != nil {
			select {
			case <-e.once:
				if e.err == nil && (e.until.IsZero() || now.Before(e.until)) {
					r.mu.Unlock()
					return e.creds, nil
				}
				// Expired, or failed: failures are never cached.
			default:
				r.mu.Unlock()
				select {
				case <-e.once:
					continue
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
		}
		e = &cached{once: make(chan struct{})}
		r.cache[name] = e
		r.mu.Unlock()

		e.creds, e.err = r.resolve(ctx, name)
		if e.err == nil {
			if exp, ok := e.creds.Expires(); ok {
				e.until = exp.Add(-RefreshWindow)
			}
		}
		close(e.once)
		if e.err == nil && r.resolved != nil {
			r.mu.Lock()
			first := !r.announced[name]
			r.announced[name] = true
			r.mu.Unlock()
			if first {
				r.resolved(name, e.creds)
			}
		}
		return e.creds, e.err
	}
}

// Resolved is every provider whose credentials resolved in this run, by
// name: what a command acted with, for the context line it prints.
func (r *Resolver) Resolved() map[string]Credentials {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]Credentials{}
	for name, e := range r.cache {
		select {
		case <-e.once:
			if e.err == nil {
				out[name] = e.creds
			}
		default:
		}
	}
	return out
}

// Ensure resolves the credentials and keeps only the error, for the planner.
func (r *Resolver) Ensure(ctx context.Context, name string) error {
	_, err := r.Credentials(ctx, name)
	return err
}

func (r *Resolver) resolve(ctx context.Context, name string) (Credentials, error) {
	p, err := r.reg.Get(name)
	if err != nil {
		return nil, err
	}
	creds, err := r.read(ctx, p)
	if err != nil {
		if IsCancelled(err) {
			return nil, err
		}
		return nil, &ResolveError{Provider: p.Name(), Profile: r.c.Profile, Err: err}
	}
	if r.Check != nil {
		if err := r.Check(ctx, p, creds); err != nil {
			return nil, err
		}
	}
	return creds, nil
}

// read resolves p's credentials: its env method under CI without a chosen
// profile, else the profile's entry (configured on the spot when a person
// can answer).
func (r *Resolver) read(ctx context.Context, p Provider) (Credentials, error) {
	if r.ci {
		e, _ := profile.NewEntry(map[string]string{"method": "env"})
		return Read(ctx, r.c, p, e)
	}
	cfg, err := r.c.Store.Load()
	var invalid *profile.InvalidError
	switch {
	case errors.As(err, &invalid):
		cfg = &profile.Config{Profiles: map[string]profile.Profile{}}
	case err != nil:
		return nil, err
	}
	entry := cfg.Profiles[r.c.Profile][p.Name()]
	if entry == nil {
		if !r.c.Interactive {
			// Before configure, and so before any lock is taken.
			nc := &NotConfiguredError{Provider: p.Name(), Profile: r.c.Profile}
			switch {
			case r.Pinned != "":
				// Neither running without --profile nor CI=1 changes a
				// pinned profile: configuring it is the only remedy.
				nc.Hint = loginHint(r.c.Profile, p) + fmt.Sprintf(" (%s selects profile '%s', under CI too.)", r.Pinned, r.c.Profile)
			case envfile.Bool(r.c.Env, "CI"):
				// CI with an explicit profile: configure it from variables,
				// or let each provider read its own.
				nc.Hint = loginHint(r.c.Profile, p) + " Or run without --profile and ALCHEMY_PROFILE: under CI each provider then reads its environment variables."
			}
			return nil, nc
		}
		if entry, err = Configure(ctx, r.c, p, ""); err != nil {
			return nil, err
		}
	}
	return Read(ctx, r.c, p, entry)
}

// ResolveError is a provider's credentials failing to resolve at deploy time.
type ResolveError struct {
	Provider, Profile string
	Err               error
}

func (e *ResolveError) Error() string {
	return fmt.Sprintf("Failed to resolve %s credentials for profile '%s': %v", e.Provider, e.Profile, e.Err)
}

func (e *ResolveError) Unwrap() error { return e.Err }
