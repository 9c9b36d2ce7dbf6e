package auth

import (
	"context"
	"slices"
	"testing"

	"github.com/alchemy-go/alchemy/internal/profile"
)

type namedProvider string

func (p namedProvider) Name() string                    { return string(p) }
func (namedProvider) Methods() []Method                 { return nil }
func (namedProvider) SecretKeys(profile.Entry) []string { return nil }
func (namedProvider) Configure(context.Context, *Context, string) (profile.Entry, error) {
	return nil, nil
}
func (namedProvider) Login(context.Context, *Context, profile.Entry) error  { return nil }
func (namedProvider) Logout(context.Context, *Context, profile.Entry) error { return nil }
func (namedProvider) Read(context.Context, *Context, profile.Entry) (Credentials, error) {
	return nil, nil
}

// TestLinked: the linked providers come in menu order (the built-in ones
// first, as in Builtin), each once however often linked, and Unlinked
// names the built-in ones a program lacks among those asked for.
func TestLinked(t *testing.T) {
	saved := linked
	t.Cleanup(func() { linked = saved })
	linked = nil
	for _, p := range []Provider{namedProvider("Widget"), namedProvider("GitHub"), namedProvider("AWS"), namedProvider("GitHub")} {
		Link(p)
	}
	var names []string
	for _, p := range Linked() {
		names = append(names, p.Name())
	}
	if want := []string{"AWS", "GitHub", "Widget"}; !slices.Equal(names, want) {
		t.Errorf("Linked() = %q, want %q", names, want)
	}
	if got := Unlinked("cloudflare", "AWS", "Widget", "Nope", "Cloudflare"); !slices.Equal(got, []string{"Cloudflare"}) {
		t.Errorf("Unlinked = %q, want Cloudflare once (case-insensitive; not AWS, linked; not Widget or Nope, not built in)", got)
	}
	if got := Unlinked(); got != nil {
		t.Errorf("Unlinked() = %q", got)
	}
	Linked()[0] = namedProvider("Mutated")
	if Linked()[0].Name() != "AWS" {
		t.Error("Linked returns the program's own slice")
	}
}
