//go:build unix

package prompt

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ParentEnv names the two descriptors (from the command, to it) over which
// a stack program asks the alchemy command that runs it.
const ParentEnv = "ALCHEMY_PROMPT_FDS"

// The pipes are claimed as this package is initialised, before a stack's
// own main runs: nothing the program starts may inherit them.
func init() { claimParent() }

// claimParent takes the pipes the alchemy command passed this stack
// program, if it passed them: New then asks through them. It keeps them to
// this process: the variable is removed from the environment and the
// descriptors are closed on exec, so nothing the program starts can ask in
// its name. Descriptors that are not pipes are left alone.
func claimParent() {
	v, ok := os.LookupEnv(ParentEnv)
	if !ok {
		return
	}
	os.Unsetenv(ParentEnv)
	from, to, ok := strings.Cut(v, ",")
	if !ok {
		return
	}
	rfd, err1 := strconv.Atoi(from)
	wfd, err2 := strconv.Atoi(to)
	if err1 != nil || err2 != nil || rfd < 3 || wfd < 3 || rfd == wfd || !isPipe(rfd) || !isPipe(wfd) {
		return
	}
	syscall.CloseOnExec(rfd)
	syscall.CloseOnExec(wfd)
	parent = NewRemote(os.NewFile(uintptr(rfd), "from-alchemy"), os.NewFile(uintptr(wfd), "to-alchemy"))
}

func isPipe(fd int) bool {
	var st syscall.Stat_t
	return syscall.Fstat(fd, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFIFO
}
