package auth_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/envfile"
	"github.com/alchemy-go/alchemy/internal/profile"
	"github.com/alchemy-go/alchemy/internal/prompt"
)

// expiring resolves credentials that expire ttl after they are read, and
// counts reads.
type expiring struct {
	widget
	ttl   time.Duration
	reads atomic.Int32
	now   func() time.Time
}

type creds struct {
	n   int32
	exp time.Time
}

func (c *creds) Source() auth.Source           { return auth.Source{Type: "test"} }
func (c *creds) Expires() (time.Time, bool)    { return c.exp, !c.exp.IsZero() }
func (c *creds) Fields(time.Time) []auth.Field { return nil }
func (e *expiring) Name() string               { return "Expiring" }
func (e *expiring) Read(_ context.Context, c *auth.Context, _ profile.Entry) (auth.Credentials, error) {
	n := e.reads.Add(1)
	time.Sleep(5 * time.Millisecond) // let concurrent callers pile up
	var exp time.Time
	if e.ttl > 0 {
		exp = c.Now().Add(e.ttl)
	}
	return &creds{n: n, exp: exp}, nil
}

func TestResolverCachesUntilTheRefreshWindow(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c := newContext(t, prompt.NonInteractive{})
	c.Now = clock
	p := &expiring{ttl: time.Hour}
	ctx := context.Background()
	if err := c.Store.SetEntry(ctx, "default", "Expiring", profile.Entry{"method": []byte(`"a"`)}); err != nil {
		t.Fatal(err)
	}
	r := auth.NewResolver(c, auth.NewRegistry(p), false)

	// Concurrent first uses share one resolution.
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.Credentials(ctx, "Expiring"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := p.reads.Load(); n != 1 {
		t.Fatalf("reads = %d, want 1", n)
	}
	// Still cached 54 minutes later...
	mu.Lock()
	now = now.Add(54 * time.Minute)
	mu.Unlock()
	got, _ := r.Credentials(ctx, "Expiring")
	if got.(*creds).n != 1 {
		t.Fatal("re-resolved too early")
	}
	// ...but not inside the 5-minute window before expiry (and after sleep).
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	got, _ = r.Credentials(ctx, "Expiring")
	if got.(*creds).n != 2 {
		t.Fatalf("not re-resolved inside the refresh window: read %d", got.(*creds).n)
	}
}

func TestResolverNeverCachesFailures(t *testing.T) {
	c := newContext(t, prompt.NonInteractive{})
	r := auth.NewResolver(c, auth.NewRegistry(&widget{}), false)
	for range 2 {
		_, err := r.Credentials(context.Background(), "Widget")
		var re *auth.ResolveError
		var nc *auth.NotConfiguredError
		if !errors.As(err, &re) || !errors.As(err, &nc) {
			t.Fatalf("err = %v", err)
		}
		if !strings.HasPrefix(err.Error(), "Failed to resolve Widget credentials for profile 'default': No credentials configured") {
			t.Fatalf("message: %v", err)
		}
	}
}

func TestResolverInCIReadsEnvAndWritesNothing(t *testing.T) {
	c := newContext(t, prompt.NonInteractive{})
	c.Env = envfile.FromMap(map[string]string{"X": "1"})
	p := &expiring{}
	r := auth.NewResolver(c, auth.NewRegistry(p), true)
	if _, err := r.Credentials(context.Background(), "Expiring"); err != nil {
		t.Fatal(err)
	}
	cfg, err := c.Store.Load()
	if err != nil || len(cfg.Profiles) != 0 {
		t.Fatalf("CI wrote a profile: %v %v", cfg.Profiles, err)
	}
}
