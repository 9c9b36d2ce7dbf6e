package backends

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alchemy-go/alchemy/internal/secret"
	"github.com/alchemy-go/alchemy/internal/state"
	"github.com/alchemy-go/alchemy/internal/state/pgstate"
	"github.com/alchemy-go/alchemy/internal/state/statetest"
	"github.com/alchemy-go/alchemy/internal/testpeers"
)

func TestParse(t *testing.T) {
	root := t.TempDir()
	for _, c := range []struct {
		url     string
		kind    Kind
		dir     string // local: relative to root, or absolute
		display string
		err     string
	}{
		{url: "", kind: Local, dir: ".", display: "local .alchemy/state"},
		{url: "file://shared", kind: Local, dir: "shared", display: "local shared/.alchemy/state"},
		{url: "file:///srv/alchemy", kind: Local, dir: "/srv/alchemy", display: "local /srv/alchemy/.alchemy/state"},
		{url: "../elsewhere", kind: Local, dir: "../elsewhere", display: "local ../elsewhere/.alchemy/state"},
		{url: "postgres://alice:hunter2@db:5432/state?sslmode=disable", kind: Postgres, display: "postgres://alice@db:5432/state?sslmode=disable"},
		{url: "postgresql://alice@db/state?password=hunter2", kind: Postgres, display: "postgresql://alice@db/state?password=redacted"},
		{url: "s3://bucket/team/state?region=eu-west-1&endpoint=http://127.0.0.1:9000", kind: S3, display: "s3://bucket/team/state"},
		{url: "s3:///nobucket", err: "names no bucket"},
		{url: "postgres:///db", err: "names no host"},
		{url: "gs://bucket", err: `unknown scheme "gs"`},
		{url: "redis://:hunter2@cache:6379", err: "redis://cache:6379"},
	} {
		loc, err := Parse(c.url, root)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("Parse(%q) = %v, want an error with %q and no password", c.url, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", c.url, err)
			continue
		}
		if loc.Kind != c.kind || loc.Display != c.display {
			t.Errorf("Parse(%q) = %s %q, want %s %q", c.url, loc.Kind, loc.Display, c.kind, c.display)
		}
		if c.kind == Local {
			want := c.dir
			if !filepath.IsAbs(want) {
				want = filepath.Join(root, want)
			}
			if loc.Dir != filepath.Clean(want) {
				t.Errorf("Parse(%q).Dir = %s, want %s", c.url, loc.Dir, want)
			}
		}
		if strings.Contains(loc.Display, "hunter2") {
			t.Errorf("Parse(%q) displays the password: %s", c.url, loc.Display)
		}
	}
}

// A postgres:// URL opens pgstate behind the secret guard, and the pair
// still keeps the whole contract.
// This package's tests open PostgreSQL stores as a program that links
// internal/state/pgstate/pglink would (which imports this package).
func init() { OpenPostgres = pgstate.OpenBackend }

func TestOpenPostgres(t *testing.T) {
	pg := testpeers.Postgres(t)
	ctx := context.Background()
	b, err := Open(ctx, pg.DSN, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if d := b.Describe(); strings.Contains(d, pg.Password) || !strings.HasPrefix(d, "postgres://") {
		t.Errorf("Describe = %q", d)
	}
	statetest.Guarded(t, b, "postgres", func(err error) bool {
		var se *SecretError
		return errors.As(err, &se)
	})
}

func TestOpenLocal(t *testing.T) {
	root := t.TempDir()
	b, err := Open(context.Background(), "file://other", Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Set(context.Background(), "app", "dev", statetest.Row("R", state.Created)); err != nil {
		t.Fatal(err)
	}
	if got := state.NewLocal(filepath.Join(root, "other", ".alchemy", "state")); mustList(t, got) != 1 {
		t.Fatal("file://other did not write under other/.alchemy/state")
	}
	if b.Describe() != "local other/.alchemy/state" {
		t.Errorf("Describe = %q", b.Describe())
	}
}

func mustList(t *testing.T, s state.Store) int {
	fqns, err := s.List(context.Background(), "app", "dev")
	if err != nil {
		t.Fatal(err)
	}
	return len(fqns)
}

// The guard, here around a local backend standing in for a shared one:
// without ALCHEMY_PASSWORD a hashed secret is refused, leased or not; a
// secret in clear is refused always; an encrypted one goes through.
func TestGuard(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	hashed, _ := secret.New("", home).Seal(secret.Where{Stack: "app", Stage: "dev", FQN: "Api", Prop: "token"}, "s3cr3t-value")
	encrypted, _ := secret.New("pw", home).Seal(secret.Where{}, "s3cr3t-value")
	clear := map[string]any{secret.RedactedMarker: "s3cr3t-value"}
	row := func(v any) *state.Row {
		r := statetest.Row("Api", state.Created)
		r.Props, _ = json.Marshal(map[string]any{"name": "x", "auth": map[string]any{"token": v}})
		return r
	}
	for _, c := range []struct {
		name     string
		password bool
		value    any
		refused  string // "" = written
	}{
		{"hashed without password", false, hashed, "without ALCHEMY_PASSWORD"},
		{"hashed with password", true, hashed, ""},
		{"encrypted", false, encrypted, ""},
		{"clear without password", false, clear, "in clear"},
		{"clear with password", true, clear, "in clear"},
		{"no secret", false, "plain", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			local := state.NewLocalBackend(t.TempDir())
			b := Guard(local, "postgres://alice@db/state", c.password)
			l, err := b.Acquire(ctx, "app", "dev", state.LeaseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release()
			outputs, _ := json.Marshal(map[string]any{"url": "https://x", "key": c.value})
			for what, write := range map[string]func() error{
				"Set":               func() error { return b.Set(ctx, "app", "dev", row(c.value)) },
				"Lease.Store().Set": func() error { return l.Store().Set(ctx, "app", "dev", row(c.value)) },
				"SetOutput":         func() error { return l.Store().SetOutput(ctx, "app", "dev", outputs) },
				"Set of an old generation": func() error {
					r := statetest.Row("Api", state.Replacing)
					r.Old = row(c.value)
					return l.Store().Set(ctx, "app", "dev", r)
				},
			} {
				err := write()
				if c.refused == "" {
					if err != nil {
						t.Errorf("%s: %v", what, err)
					}
					continue
				}
				var se *SecretError
				if !errors.As(err, &se) || !strings.Contains(err.Error(), c.refused) || !strings.Contains(err.Error(), "ALCHEMY_PASSWORD") ||
					!strings.Contains(err.Error(), "postgres://alice@db/state") || strings.Contains(err.Error(), "s3cr3t") {
					t.Errorf("%s = %v, want a refusal naming ALCHEMY_PASSWORD (%q)", what, err, c.refused)
				}
			}
			if c.refused != "" {
				if n, _ := local.List(ctx, "app", "dev"); len(n) != 0 {
					t.Errorf("a refused secret was written: %v", n)
				}
				if out, _ := local.GetOutput(ctx, "app", "dev"); out != nil {
					t.Errorf("a refused output was written: %s", out)
				}
			}
			if err := state.Flush(ctx, l.Store()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A program that does not link the S3 store (internal/state/s3state/s3link,
// which this package's tests do not import) says which feature links it,
// for an s3:// URL only, and opens nothing.
func TestS3NotLinked(t *testing.T) {
	if OpenS3 != nil {
		t.Fatal("this package's tests link the S3 store")
	}
	const url = "s3://team-state/alchemy?region=eu-west-1&profile=state-admin"
	if got := Needs(url, ""); got != "s3" {
		t.Errorf("Needs(%s) = %q, want s3", url, got)
	}
	for _, other := range []string{"", "file://x", "postgres://alice@db/state", "s3://"} {
		if got := Needs(other, ""); got != "" {
			t.Errorf("Needs(%q) = %q, want nothing", other, got)
		}
	}
	_, err := Open(context.Background(), url, Options{Root: t.TempDir()})
	var nl *NotLinkedError
	if !errors.As(err, &nl) || nl.Feature != "s3" || !strings.Contains(err.Error(), "s3://team-state/alchemy (profile state-admin)") {
		t.Errorf("Open(%s) without the store = %v", url, err)
	}
}
