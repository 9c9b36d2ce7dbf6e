//go:build unix

package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestMkdirPrivateRefusesWhatIsNotOurs(t *testing.T) {
	root := t.TempDir()
	// Another user's directory (only root can make one in a test).
	theirs := filepath.Join(root, "theirs")
	os.Mkdir(theirs, 0o700)
	if os.Getuid() == 0 {
		if err := os.Chown(theirs, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if err := MkdirPrivate(theirs); err == nil || !strings.Contains(err.Error(), "belongs to another user (uid 65534)") {
			t.Fatalf("MkdirPrivate of another user's directory = %v", err)
		}
	}
	// A read-only directory stays read-only.
	ro := filepath.Join(root, "ro")
	os.Mkdir(ro, 0o500)
	if err := MkdirPrivate(ro); err == nil || !strings.Contains(err.Error(), "is read-only (mode 0500)") {
		t.Fatalf("MkdirPrivate of a read-only directory = %v", err)
	}
	if fi, _ := os.Stat(ro); fi.Mode().Perm() != 0o500 {
		t.Fatalf("mode changed to %v", fi.Mode().Perm())
	}
	// A symbolic link is refused, not followed.
	link := filepath.Join(root, "link")
	os.Symlink(t.TempDir(), link)
	if err := MkdirPrivate(link); err == nil || !strings.Contains(err.Error(), "is a symbolic link") {
		t.Fatalf("MkdirPrivate of a symlink = %v", err)
	}
	// Looser permissions are only tightened.
	loose := filepath.Join(root, "loose")
	os.Mkdir(loose, 0o755)
	if err := MkdirPrivate(loose); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(loose); fi.Mode().Perm() != 0o700 {
		t.Fatalf("loose directory is %v", fi.Mode().Perm())
	}
}

func TestReadRegularNeverHangs(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	var nr *NotRegularError
	if _, err := ReadRegular(fifo); !errors.As(err, &nr) || nr.What != "a named pipe" {
		t.Fatalf("ReadRegular(fifo) = %v", err)
	}
	os.WriteFile(filepath.Join(dir, "real"), []byte("x"), 0o600)
	os.Symlink(filepath.Join(dir, "real"), filepath.Join(dir, "link"))
	if _, err := ReadRegular(filepath.Join(dir, "link")); !errors.As(err, &nr) || nr.What != "a symbolic link" {
		t.Fatalf("ReadRegular(link) = %v", err)
	}
	if data, err := ReadRegular(filepath.Join(dir, "real")); err != nil || string(data) != "x" {
		t.Fatalf("ReadRegular(real) = %q, %v", data, err)
	}
}

// A directory alchemy will not write in says what moves it elsewhere: the
// alchemy home by default, the caller's setting (or none) through
// Elsewhere.
func TestDirErrorNamesWhatMovesIt(t *testing.T) {
	ro := filepath.Join(t.TempDir(), "ro")
	os.Mkdir(ro, 0o500)
	err := MkdirPrivate(ro)
	if want := ro + " is read-only (mode 0500): alchemy leaves it as you made it. Make it writable (chmod u+w), or set ALCHEMY_HOME to a directory of yours."; err == nil || err.Error() != want {
		t.Errorf("MkdirPrivate = %v, want %s", err, want)
	}
	wrapped := fmt.Errorf("stack cache: %w", Elsewhere(MkdirPrivate(ro), "ALCHEMY_CACHE_DIR"))
	if msg := wrapped.Error(); !strings.HasSuffix(msg, "or set ALCHEMY_CACHE_DIR to a directory of yours.") || strings.Contains(msg, "ALCHEMY_HOME") {
		t.Errorf("the stack cache's error: %s", msg)
	}
	if msg := Elsewhere(MkdirPrivate(ro), "").Error(); !strings.HasSuffix(msg, "Make it writable (chmod u+w).") {
		t.Errorf("with no setting: %s", msg)
	}
	if err := Elsewhere(errors.New("other"), "X"); err.Error() != "other" {
		t.Errorf("Elsewhere changed another error: %v", err)
	}
}
