//go:build unix

package stackfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLocate(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir, "alchemy.run.go", "other/stack.go", "other/alchemy.run.go")
	t.Chdir(dir)
	cases := []struct{ arg, want string }{
		{"", "./alchemy.run.go"},
		{".", "alchemy.run.go"},
		{"other", "other/alchemy.run.go"},
		{"other/", "other/alchemy.run.go"},
		{"other/stack.go", "other/stack.go"},
		{filepath.Join(dir, "other"), filepath.Join(dir, "other", "alchemy.run.go")},
	}
	for _, c := range cases {
		got, err := Locate(c.arg)
		if err != nil || got != c.want {
			t.Errorf("Locate(%q) = %q, %v; want %q", c.arg, got, err, c.want)
		}
	}
}

func TestLocateMissing(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir, "empty/README", "x/.keep")
	t.Chdir(dir)
	cases := []struct{ arg, path string }{
		{"", "./alchemy.run.go"},
		{"empty", "empty/alchemy.run.go"},
		{"nope/alchemy.run.go", "nope/alchemy.run.go"},
		{"stack.go", "stack.go"},
	}
	for _, c := range cases {
		_, err := Locate(c.arg)
		want := "No stack file at " + c.path + ". Create one with `alchemy init`, or pass its path: alchemy deploy path/to/alchemy.run.go"
		var nf *NotFoundError
		if !errors.As(err, &nf) || err.Error() != want {
			t.Errorf("Locate(%q): %v\nwant: %s", c.arg, err, want)
		}
	}
}

// touch creates empty files (and their directories) under dir: Locate
// reads no content.
func touch(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, name := range names {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
