//go:build unix

package cli

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// newShared makes a file the alchemy command shares with the stack
// programs it runs (the needs file, dev's writes report and notices): a
// temp file, unlinked at once and handed to each program as an inherited
// descriptor (sharedEnv, its ExtraFiles), so that nothing is left in
// $TMPDIR whatever happens to either process, and no path a program is
// told can name anything else.
func newShared(pattern string) (*os.File, error) {
	f, err := os.CreateTemp("", pattern)
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	return f, nil
}

// sharedByDescriptor: here shared files reach a program as descriptors.
const sharedByDescriptor = true

// sharedEnv tells a program under key that f is its descriptor fd (the
// program's ExtraFiles[fd-3]).
func sharedEnv(key string, f *os.File, fd int) string {
	return key + "=fd:" + strconv.Itoa(fd)
}

// claimShared takes, at a program's package init (before a stack's own
// code runs), the shared file that v ("fd:N") names: only an unlinked
// regular file at descriptor 3 or above (what newShared hands over),
// made close-on-exec so that nothing the program starts inherits it. Nil
// for anything else, which is left alone.
func claimShared(v string) *os.File {
	n, ok := strings.CutPrefix(v, "fd:")
	if !ok {
		return nil
	}
	fd, err := strconv.Atoi(n)
	if err != nil || fd < 3 {
		return nil
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink != 0 {
		return nil
	}
	unix.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), "alchemy-shared")
}
