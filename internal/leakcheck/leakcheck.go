// Package leakcheck is the detector of the secret-leak tests: a set of
// secrets, each known by a label, and checks that report which of them
// showed up where. A finding names the secret by its label and shows the
// text around it with every secret of the set replaced by «label», so a
// failing leak test does not leak the secret into a CI log in its turn.
//
// A leak is a secret's whole value or its first PrefixLen characters: a
// message may quote a secret cut short ("token ghp_ab12cd34... is
// invalid"), and the redaction registry (internal/redact) keeps only 4.
//
// Echo is the other half: an API that quotes back every credential it is
// sent, so that a secret sent before it was registered shows up in an
// error message.
//
// It is a normal package only so that the tests of several packages
// (internal/cli, internal/e2e) share one detector; nothing but tests
// imports it.
package leakcheck

import (
	"crypto/rand"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// PrefixLen is how much of a secret's start counts as a leak on its own.
const PrefixLen = 8

// MinLen is the shortest secret a set accepts: shorter values would be
// found by chance, and the prefix rule needs room.
const MinLen = 16

// contextLen is how much text a finding shows on either side.
const contextLen = 60

// Set is the secrets of one leak test. It is safe for concurrent use:
// secrets may be added while commands run (tokens a server issues).
type Set struct {
	mu       sync.Mutex
	labels   map[string]string   // value -> label
	values   map[string]string   // label -> value
	byPrefix map[string][]string // see prefixes; nil after an Add
}

// New returns an empty set.
func New() *Set {
	return &Set{labels: map[string]string{}, values: map[string]string{}}
}

// Generate returns a new secret, starting with prefix (a format a
// provider expects, such as "AKIA"), filled with Random characters to n,
// and adds it under label.
func (s *Set) Generate(t testing.TB, label, prefix string, n int) string {
	t.Helper()
	v := prefix + Random(t, n-len(prefix))
	s.Add(t, label, v)
	return v
}

// Random returns n random lowercase letters and digits.
func Random(t testing.TB, n int) string {
	t.Helper()
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// Add adds a secret under label. Adding the same value under the same
// label again does nothing.
func (s *Set) Add(t testing.TB, label, value string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(value) < MinLen {
		t.Fatalf("leakcheck: secret %q is %d characters; at least %d are needed to tell it from ordinary text", label, len(value), MinLen)
	}
	if old, ok := s.labels[value]; ok {
		if old != label {
			t.Fatalf("leakcheck: secret %q has the value of %q", label, old)
		}
		return
	}
	if _, ok := s.values[label]; ok {
		t.Fatalf("leakcheck: two secrets labelled %q", label)
	}
	s.labels[value] = label
	s.values[label] = value
	s.byPrefix = nil
}

// Value returns the secret labelled label.
func (s *Set) Value(t testing.TB, label string) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.values[label]
	if !ok {
		t.Fatalf("leakcheck: no secret labelled %q", label)
	}
	return v
}

// Finding is one occurrence of a secret.
type Finding struct {
	// Label names the secret; for a prefix that several secrets share
	// (AWS session tokens all start "IQoJb3Jp"), all of them, joined by
	// " or ".
	Label string
	// Whole is false when only the secret's start was found (PrefixLen
	// characters or more).
	Whole bool
	// Context is the text around the occurrence, every secret masked.
	Context string
}

func (f Finding) String() string {
	what := "its whole value"
	if !f.Whole {
		what = fmt.Sprintf("its first %d or more characters", PrefixLen)
	}
	return fmt.Sprintf("secret %q (%s): …%s…", f.Label, what, f.Context)
}

// Mask returns text with every secret of the set replaced by «label», and
// every other run of text that starts like one (its first PrefixLen
// characters or more, but not all of it) by «label:prefix»: the whole run,
// so that even a finding's context shows nothing of it.
func (s *Set) Mask(text string) string {
	masked, _ := s.mask(text)
	return masked
}

// Find returns every occurrence of a secret of the set in text.
func (s *Set) Find(text string) []Finding {
	masked, spans := s.mask(text)
	out := make([]Finding, 0, len(spans))
	for _, sp := range spans {
		out = append(out, Finding{Label: sp.label, Whole: sp.whole, Context: window(masked, sp.start, sp.end)})
	}
	return out
}

// span is a masked occurrence, at [start, end) of the masked text.
type span struct {
	start, end int
	label      string
	whole      bool
}

func (s *Set) mask(text string) (string, []span) {
	byPrefix := s.prefixes()
	var b strings.Builder
	var spans []span
	for i := 0; i < len(text); {
		var values []string
		if i+PrefixLen <= len(text) {
			values = byPrefix[text[i:i+PrefixLen]]
		}
		if len(values) == 0 {
			b.WriteByte(text[i])
			i++
			continue
		}
		// The longest run of text that one of these secrets starts with;
		// every secret it could be the start of is named.
		n := 0
		var labels []string
		for _, v := range values {
			switch m := commonPrefix(text[i:], v); {
			case m > n:
				n, labels = m, []string{s.label(v)}
			case m == n:
				labels = append(labels, s.label(v))
			}
		}
		sort.Strings(labels)
		sp := span{start: b.Len(), label: strings.Join(labels, " or ")}
		sp.whole = len(labels) == 1 && n == len(s.value(labels[0]))
		if sp.whole {
			b.WriteString("«" + sp.label + "»")
		} else {
			b.WriteString("«" + sp.label + ":prefix»")
		}
		sp.end = b.Len()
		spans = append(spans, sp)
		i += n
	}
	return b.String(), spans
}

// prefixes maps the first PrefixLen characters of every secret to the
// secrets that start with them.
func (s *Set) prefixes() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byPrefix == nil {
		s.byPrefix = map[string][]string{}
		for v := range s.labels {
			s.byPrefix[v[:PrefixLen]] = append(s.byPrefix[v[:PrefixLen]], v)
		}
	}
	return s.byPrefix
}

func (s *Set) label(value string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.labels[value]
}

func (s *Set) value(label string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.values[label]
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// window is masked[start:end] with up to contextLen bytes either side,
// cut at UTF-8 boundaries, newlines shown as ⏎ so a finding stays one line.
func window(masked string, start, end int) string {
	from, to := max(0, start-contextLen), min(len(masked), end+contextLen)
	for from > 0 && !isRuneStart(masked[from]) {
		from--
	}
	for to < len(masked) && !isRuneStart(masked[to]) {
		to++
	}
	return strings.ReplaceAll(masked[from:to], "\n", "⏎")
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// Check fails t for every secret of the set in text, naming where the text
// came from (a command and its stream, a file).
func (s *Set) Check(t testing.TB, where, text string) {
	t.Helper()
	for _, f := range s.Find(text) {
		t.Errorf("leak in %s: %s", where, f)
	}
}

// CheckTree checks every regular file under root (which need not exist),
// naming each by its path. skip are glob patterns (filepath.Match) of paths
// relative to root that hold secrets by design (the credentials a profile
// stores, the AWS CLI's token cache); a matching directory is skipped whole.
func (s *Set) CheckTree(t testing.TB, root string, skip ...string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && path == root {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for _, pattern := range skip {
			if ok, _ := filepath.Match(pattern, rel); ok {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		s.Check(t, "file "+path, string(data))
		return nil
	})
	if err != nil {
		t.Fatalf("leakcheck: %v", err)
	}
}

// Shows fails t unless text holds the whole value of every labelled
// secret: for the commands that disclose on purpose, so that a leak test
// cannot pass by printing nothing at all.
func (s *Set) Shows(t testing.TB, where, text string, labels ...string) {
	t.Helper()
	for _, l := range labels {
		if !strings.Contains(text, s.Value(t, l)) {
			t.Errorf("%s does not show secret %q, and it should: it discloses on explicit request\n%s", where, l, s.Mask(text))
		}
	}
}
