//go:build unix

package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// A stack program takes as a shared file (its needs file, dev's writes
// report and notices) only what alchemy passes: an unlinked regular file
// at descriptor 3 or above, made close-on-exec so nothing the program
// starts inherits it. Anything else the variable names is left alone
// (needFeature then says to run the stack with alchemy; a deploy reports
// nothing).
func TestClaimShared(t *testing.T) {
	dupOwned := func(f *os.File) int {
		t.Helper()
		fd, err := unix.Dup(int(f.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		return fd
	}
	dup := func(f *os.File) int {
		t.Helper()
		fd := dupOwned(f)
		t.Cleanup(func() { unix.Close(fd) })
		return fd
	}
	unlinked, err := os.CreateTemp(t.TempDir(), "needs")
	if err != nil {
		t.Fatal(err)
	}
	defer unlinked.Close()
	os.Remove(unlinked.Name())
	linked, err := os.Create(filepath.Join(t.TempDir(), "linked"))
	if err != nil {
		t.Fatal(err)
	}
	defer linked.Close()
	r, w, _ := os.Pipe()
	defer r.Close()
	defer w.Close()

	ours := dupOwned(unlinked)
	f := claimShared(fmt.Sprintf("fd:%d", ours))
	if f == nil {
		unix.Close(ours)
		t.Fatal("an unlinked regular file was not claimed")
	}
	defer f.Close()
	if flags, err := unix.FcntlInt(uintptr(ours), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("the claimed descriptor is not close-on-exec (flags %d, %v)", flags, err)
	}
	if _, err := f.WriteAt([]byte("s3\n"), 0); err != nil {
		t.Fatal(err)
	}
	n := &needsFile{f: unlinked}
	if got := n.feature(); got != "s3" {
		t.Errorf("the command read %q, want s3", got)
	}
	for _, v := range []string{"", "/tmp/x", "fd:", "fd:x", "fd:-1", "fd:0", "fd:1", "fd:2",
		fmt.Sprintf("fd:%d", dup(linked)), fmt.Sprintf("fd:%d", dup(w)), "fd:999999"} {
		if claimShared(v) != nil {
			t.Errorf("claimShared(%q) took it", v)
		}
	}
}
