//go:build unix

package cli

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// newNeeds makes the file through which a stack program says what it was
// built without (needFeature): a temp file, unlinked at once and passed to
// the program as its descriptor 3 (ALCHEMY_STACK_NEEDS=fd:3), so that
// nothing is left in $TMPDIR whatever happens to either process.
func newNeeds() (*needsFile, error) {
	f, err := os.CreateTemp("", "alchemy-needs-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	return &needsFile{f: f, env: stackNeedsEnv + "=fd:3", files: []*os.File{f}}, nil
}

// programNeeds is the file a stack program run by alchemy writes to,
// claimed at package init, before a stack's own code runs: made
// close-on-exec, so that nothing the program starts inherits it. Only an
// unlinked regular file at descriptor 3 or above is taken (what newNeeds
// passes); anything else the variable names is ignored.
var programNeeds = claimNeeds(os.Getenv(stackNeedsEnv))

func claimNeeds(v string) *os.File {
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
	return os.NewFile(uintptr(fd), "alchemy-needs")
}
