//go:build unix

package prompt

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// The pipes are taken only when they are pipes, the variable goes from the
// environment, and the descriptors are not passed on to what the program
// starts.
func TestClaimParent(t *testing.T) {
	t.Cleanup(func() { parent = nil })

	// A variable that names a regular file (a hostile or stale
	// environment) is dropped, and nothing is claimed.
	f, err := os.Create(filepath.Join(t.TempDir(), "not-a-pipe"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, v := range []string{
		fmt.Sprintf("%d,%d", f.Fd(), f.Fd()),
		"0,1", "1,2", "x,y", "7", "",
	} {
		parent = nil
		t.Setenv(ParentEnv, v)
		claimParent()
		if parent != nil {
			t.Errorf("%s=%q: claimed", ParentEnv, v)
		}
		if _, set := os.LookupEnv(ParentEnv); set {
			t.Errorf("%s=%q: still in the environment", ParentEnv, v)
		}
	}

	// Raw descriptors, as a child gets them from the command: not
	// close-on-exec, and owned by the Remote once claimed (no *os.File of
	// the test's closes them under it).
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	parent = nil
	t.Setenv(ParentEnv, fmt.Sprintf("%d,%d", p[0], p[1]))
	claimParent()
	if parent == nil {
		t.Fatal("two pipes were not claimed")
	}
	if _, set := os.LookupEnv(ParentEnv); set {
		t.Error("the variable is still in the environment")
	}
	for _, fd := range p {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil {
			t.Fatal(err)
		}
		if flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("descriptor %d would pass to what the program starts", fd)
		}
	}
}
