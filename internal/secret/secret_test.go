package secret

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/alchemy-go/alchemy/internal/testpeers"
)

var here = Where{Stack: "app", Stage: "dev", FQN: "Db", Prop: "password"}

func TestEncryptedRoundTrip(t *testing.T) {
	c := New("correct horse", t.TempDir())
	for _, v := range []any{"s3cret", map[string]any{"user": "u", "pass": "p"}, []any{"a", 1.0}, 42.0} {
		sealed, err := c.Seal(here, v)
		if err != nil {
			t.Fatal(err)
		}
		s := sealed.(map[string]any)[SecretMarker].(string)
		if !strings.HasPrefix(s, "v1:") || strings.Contains(s, "s3cret") {
			t.Fatalf("sealed = %q", s)
		}
		// Through JSON, as state stores it.
		var back any
		raw, _ := json.Marshal(sealed)
		json.Unmarshal(raw, &back)
		got, known, err := New("correct horse", "").Open(back)
		if err != nil || !known || !jsonEqual(got, v) {
			t.Fatalf("Open = %v %v %v, want %v", got, known, err, v)
		}
		if m, rw, err := c.Matches(here, back, v); !m || rw || err != nil {
			t.Fatalf("Matches = %v %v %v", m, rw, err)
		}
		if m, _, _ := c.Matches(here, back, "other"); m {
			t.Fatal("Matches another value")
		}
	}
	sealed, _ := c.Seal(here, "s3cret")
	if _, _, err := New("", "").Open(sealed); !errors.Is(err, ErrNoPassword) || !strings.Contains(err.Error(), "Set ALCHEMY_PASSWORD") {
		t.Fatalf("Open without password = %v", err)
	}
	if _, _, err := New("wrong", "").Open(sealed); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("Open with a wrong password = %v", err)
	}
}

func TestKeyedHash(t *testing.T) {
	home := t.TempDir()
	c := New("", home)
	a, err := c.Seal(here, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	other := here
	other.Stage = "prod"
	b, _ := c.Seal(other, "s3cret")
	ha, hb := a.(map[string]any)[RedactedMarker].(string), b.(map[string]any)[RedactedMarker].(string)
	if !strings.HasPrefix(ha, "hmac-sha256:") || ha == hb || strings.Contains(ha, "s3cret") {
		t.Fatalf("hashes %q %q: want keyed, per stage", ha, hb)
	}
	if m, rw, _ := c.Matches(here, a, "s3cret"); !m || rw {
		t.Fatalf("Matches = %v %v", m, rw)
	}
	if m, _, _ := c.Matches(here, a, "s3cret!"); m {
		t.Fatal("a changed secret matches")
	}
	if v, known, err := c.Open(a); v != nil || known || err != nil {
		t.Fatalf("Open of a hash = %v %v %v", v, known, err)
	}
	// The key lives in the home, private, and another codec uses it.
	fi, err := os.Stat(filepath.Join(home, keyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if m, _, _ := New("", home).Matches(here, a, "s3cret"); !m {
		t.Fatal("another process on the same home does not match")
	}
	// Another home (another machine): a change is assumed, never an error.
	if m, _, err := New("", t.TempDir()).Matches(here, a, "s3cret"); m || err != nil {
		t.Fatalf("another machine: %v %v", m, err)
	}
	// With a password now, the hash is matched and marked for rewriting.
	if m, rw, _ := New("pw", home).Matches(here, a, "s3cret"); !m || !rw {
		t.Fatalf("with a password: %v %v", m, rw)
	}
}

func TestConcurrentKeyCreationAgrees(t *testing.T) {
	home := t.TempDir()
	var wg sync.WaitGroup
	sums := make([]string, 16)
	for i := range sums {
		wg.Go(func() {
			s, err := New("", home).Seal(here, "x")
			if err != nil {
				t.Error(err)
				return
			}
			sums[i] = s.(map[string]any)[RedactedMarker].(string)
		})
	}
	wg.Wait()
	for _, s := range sums[1:] {
		if s != sums[0] {
			t.Fatalf("codecs created different keys: %q", sums)
		}
	}
}

func TestOldForms(t *testing.T) {
	c := New("", t.TempDir())
	// This tool's unsalted hash: matched, and rewritten.
	legacy := map[string]any{RedactedMarker: "sha256:0bc515f30dd7cac6b9e5c3e8ef8c0bdfe6e6e9e7b4f7cfec86326b5f1f4eb95d"}
	if _, rw, _ := c.Matches(here, legacy, "nope"); !rw {
		t.Fatal("an unsalted hash is not marked for rewriting")
	}
	// The TypeScript tool's plaintext: opened, matched, rewritten.
	ts := map[string]any{RedactedMarker: "s3cret"}
	if v, known, _ := c.Open(ts); v != "s3cret" || !known {
		t.Fatalf("Open(TS plaintext) = %v %v", v, known)
	}
	if m, rw, _ := c.Matches(here, ts, "s3cret"); !m || !rw {
		t.Fatalf("Matches(TS plaintext) = %v %v", m, rw)
	}
	// Props with a mix: hashes drop out, values open.
	raw, err := c.OpenProps(json.RawMessage(`{"a":{"__redacted__":"hmac-sha256:00:ff"},"b":{"__redacted__":"x"},"c":1}`))
	if err != nil || string(raw) != `{"b":"x","c":1}` {
		t.Fatalf("OpenProps = %s %v", raw, err)
	}
}

// The TypeScript tool's own codec (alchemy@0.94.0 lib/encrypt.js, run by
// Node) encrypts; this codec decrypts, in both of its envelopes.
func TestDecodesTheTypeScriptToolsSecrets(t *testing.T) {
	dir, err := testpeers.Dir()
	if err != nil {
		t.Fatal(err)
	}
	js := filepath.Join(dir, "ts-codec", "alchemy-0.94.0", "package", "lib", "encrypt.js")
	if _, err := os.Stat(js); err != nil {
		t.Fatalf("the TypeScript tool's codec is not installed (%v): run ./scripts/test, which fetches it", err)
	}
	node, err := testpeers.Node24()
	if err != nil {
		t.Fatal(err)
	}
	script := `
const { encrypt } = await import(process.argv[1]);
const s = await encrypt("s3cret value", "correct horse");
const j = await encrypt(JSON.stringify({ user: "u", pass: "p" }), "correct horse");
console.log(JSON.stringify({ s, j }));`
	out, err := exec.Command(node, "--input-type=module", "-e", script, js).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var got struct{ S, J map[string]any }
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.S["version"] != "v1" {
		t.Fatalf("the TypeScript codec wrote %v", got.S)
	}
	c := New("correct horse", "")
	for _, marker := range []string{"@secret", SecretMarker} {
		v, known, err := c.Open(map[string]any{marker: got.S})
		if err != nil || !known || v != "s3cret value" {
			t.Fatalf("%s string: %v %v %v", marker, v, known, err)
		}
		v, known, err = c.Open(map[string]any{marker: map[string]any{"data": got.J}})
		if err != nil || !known || !jsonEqual(v, map[string]any{"user": "u", "pass": "p"}) {
			t.Fatalf("%s JSON: %v %v %v", marker, v, known, err)
		}
	}
	if _, _, err := New("wrong", "").Open(map[string]any{"@secret": got.S}); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong password: %v", err)
	}
}
