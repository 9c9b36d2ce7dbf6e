package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "f.json")
	if err := Write(path, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if string(data) != "two" {
		t.Fatalf("content = %q", data)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700, filepath.Dir(dir): 0o700} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want %o", p, fi.Mode().Perm(), err, want)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".f.json.tmp-*")); len(left) != 0 {
		t.Fatalf("temp files left: %v", left)
	}
}

func TestMkdirPrivateTightens(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := MkdirPrivate(dir); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Fatalf("mode = %o", fi.Mode().Perm())
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	if err := MkdirPrivate(file); err == nil {
		t.Fatal("a file was accepted as a directory")
	}
}

func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "profiles.json")
	for _, n := range []string{".profiles.json.tmp-1", ".profiles.json.tmp-2", ".other.json.tmp-1", "profiles.json"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o600)
	}
	RemoveStaleTemps(path)
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 2 || names[0] != ".other.json.tmp-1" || names[1] != "profiles.json" {
		t.Fatalf("left: %v", names)
	}
}

// Replace writes a user's file: it must not tighten the directory.
func TestReplaceLeavesTheDirectoryAlone(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	if err := Replace(filepath.Join(dir, "f.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o755 {
		t.Fatalf("directory mode changed to %o", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(filepath.Join(dir, "f.txt")); fi.Mode().Perm() != 0o644 {
		t.Fatalf("file mode %o", fi.Mode().Perm())
	}
}

// A write gets exactly the mode asked for, a large one
// arrives whole, and one onto a directory fails, leaving no temp file.
func TestReplaceModesSizesAndDirectories(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.txt")
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(i)
	}
	for _, perm := range []os.FileMode{0o644, 0o600, 0o640} {
		if err := Replace(path, big, perm); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != perm || fi.Size() != int64(len(big)) {
			t.Errorf("after Replace(%o): %v, %v", perm, fi, err)
		}
	}
	if data, _ := os.ReadFile(path); string(data) != string(big) {
		t.Error("content differs")
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Replace(sub, []byte("x"), 0o600); err == nil {
		t.Error("Replace over a directory succeeded")
	}
	if fi, err := os.Stat(sub); err != nil || !fi.IsDir() {
		t.Errorf("the directory is gone: %v %v", fi, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*")); len(left) != 0 {
		t.Fatalf("temp files left: %v", left)
	}
}
