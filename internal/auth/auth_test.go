package auth_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/envfile"
	"github.com/alchemy-go/alchemy/internal/iostreams"
	"github.com/alchemy-go/alchemy/internal/profile"
	"github.com/alchemy-go/alchemy/internal/prompt"
)

// widget is a provider whose methods own one secret file each.
type widget struct {
	configured atomic.Int32
	inside     atomic.Int32
	overlap    atomic.Bool
}

func (*widget) Name() string { return "Widget" }
func (*widget) Methods() []auth.Method {
	return []auth.Method{{ID: "a"}, {ID: "b"}, {ID: "later", Unavailable: true}}
}
func (*widget) SecretKeys(e profile.Entry) []string { return []string{"widget-" + e.Method()} }
func (w *widget) Configure(ctx context.Context, c *auth.Context, method string) (profile.Entry, error) {
	if w.inside.Add(1) > 1 {
		w.overlap.Store(true)
	}
	time.Sleep(5 * time.Millisecond)
	w.inside.Add(-1)
	w.configured.Add(1)
	if method == "" {
		var err error
		if method, err = auth.ChooseMethod(ctx, c, w); err != nil {
			return nil, err
		}
	}
	err := c.WithSecrets(ctx, func(tx *profile.Tx) error { return tx.WriteSecret("widget-"+method, map[string]string{"s": "x"}) })
	if err != nil {
		return nil, err
	}
	return profile.NewEntry(map[string]string{"method": method})
}
func (*widget) Login(context.Context, *auth.Context, profile.Entry) error  { return nil }
func (*widget) Logout(context.Context, *auth.Context, profile.Entry) error { return nil }
func (*widget) Read(context.Context, *auth.Context, profile.Entry) (auth.Credentials, error) {
	return nil, errors.New("no")
}

func newContext(t *testing.T, pr prompt.Prompter) *auth.Context {
	io, _, _, _ := iostreams.Test()
	_, interactive := pr.(prompt.NonInteractive)
	return &auth.Context{
		Profile: "default", Store: profile.New(filepath.Join(t.TempDir(), "home"), nil),
		Env: envfile.FromMap(nil), IO: io, Prompt: pr, Interactive: !interactive, Now: time.Now,
	}
}

type scripted struct{ answer string }

func (s scripted) Select(context.Context, string, []prompt.Option, string) (string, error) {
	return s.answer, nil
}
func (scripted) MultiSelect(context.Context, string, []prompt.Option, []string) ([]string, error) {
	return nil, nil
}
func (scripted) Input(context.Context, prompt.Input) (string, error) { return "", nil }
func (scripted) Confirm(context.Context, string, bool) (bool, error) { return false, nil }

func TestConfigureNonInteractiveBailsBeforeAnything(t *testing.T) {
	w := &widget{}
	c := newContext(t, prompt.NonInteractive{})
	_, err := auth.Configure(context.Background(), c, w, "")
	var nc *auth.NotConfiguredError
	if !errors.As(err, &nc) {
		t.Fatalf("err = %v, want NotConfiguredError", err)
	}
	want := "No credentials configured for 'Widget' in profile 'default', and this process is non-interactive so it can't be configured interactively. Run `alchemy login --profile default --provider Widget --method <a|b>` to configure it from environment variables, or run `alchemy login --profile default` in a terminal."
	if err.Error() != want {
		t.Fatalf("message =\n%s\nwant\n%s", err, want)
	}
	if w.configured.Load() != 0 {
		t.Fatal("configure ran")
	}
	if _, err := c.Store.Load(); err != nil {
		t.Fatal(err)
	}
	if matches, _ := filepath.Glob(filepath.Join(c.Store.Root(), "*")); len(matches) != 0 {
		t.Fatalf("files were written: %v", matches)
	}
}

func TestConfigureReplacesOldMethodSecrets(t *testing.T) {
	w := &widget{}
	c := newContext(t, prompt.NonInteractive{})
	ctx := context.Background()
	if _, err := auth.Configure(ctx, c, w, "a"); err != nil {
		t.Fatal(err)
	}
	var v map[string]string
	if found, _ := c.Store.ReadSecret("default", "widget-a", &v); !found {
		t.Fatal("widget-a not written")
	}
	if _, err := auth.Configure(ctx, c, w, "b"); err != nil {
		t.Fatal(err)
	}
	if found, _ := c.Store.ReadSecret("default", "widget-a", &v); found {
		t.Fatal("the replaced method's secret survived")
	}
	cfg, _ := c.Store.Load()
	if got := cfg.Profiles["default"]["Widget"].Method(); got != "b" {
		t.Fatalf("method = %q", got)
	}
}

func TestMethods(t *testing.T) {
	w := &widget{}
	if _, err := auth.MethodFor(w, "later"); err == nil || !strings.Contains(err.Error(), "not yet available") {
		t.Errorf("unavailable method: %v", err)
	}
	if _, err := auth.MethodFor(w, "zzz"); err == nil || err.Error() != "unknown Widget method 'zzz': choose one of a, b, later" {
		t.Errorf("unknown method: %v", err)
	}
	c := newContext(t, scripted{answer: "later"})
	if _, err := auth.Configure(context.Background(), c, w, ""); err == nil || !strings.Contains(err.Error(), "not yet available") {
		t.Errorf("choosing an unavailable method: %v", err)
	}
	reg := auth.NewRegistry(w)
	if p, err := reg.Get("widget"); err != nil || p != w {
		t.Errorf("case-insensitive Get: %v", err)
	}
	if _, err := reg.Get("gadget"); err == nil || err.Error() != "unknown provider 'gadget': choose one of Widget" {
		t.Errorf("Get unknown: %v", err)
	}
}

// Prompt flows from concurrent goroutines never interleave.
func TestInteractiveFlowsAreSerialised(t *testing.T) {
	w := &widget{}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newContext(t, scripted{answer: "a"})
			c.Profile = "p" + string(rune('a'+i))
			if _, err := auth.Configure(context.Background(), c, w, ""); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if w.overlap.Load() {
		t.Fatal("two configure flows ran at once")
	}
	if w.configured.Load() != 8 {
		t.Fatalf("configured %d times", w.configured.Load())
	}
}

func TestRenderUnknownProviderAndFailure(t *testing.T) {
	e, _ := profile.NewEntry(map[string]any{"method": "stored", "org": "acme", "limits": map[string]int{"n": 1}})
	views := auth.Describe(context.Background(), newContext(t, prompt.NonInteractive{}), auth.NewRegistry(&widget{}),
		profile.Profile{"Fly": e, "Widget": profile.Entry{"method": []byte(`"a"`)}})
	var out, errOut bytes.Buffer
	auth.RenderText(&out, &errOut, "default", views)
	want := "Profile: default\n\n── Fly ──\n  method: stored\n  limits: {\"n\":1}\n  org: acme\n\n── Widget ──\n"
	if out.String() != want {
		t.Errorf("out =\n%q\nwant\n%q", out.String(), want)
	}
	if errOut.String() != "  Failed to retrieve credentials: no\n" {
		t.Errorf("errOut = %q", errOut.String())
	}
	out.Reset()
	auth.RenderText(&out, &errOut, "empty", nil)
	if out.String() != "Profile: empty\n(no providers configured)\n" {
		t.Errorf("empty profile = %q", out.String())
	}
}
