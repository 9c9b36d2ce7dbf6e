//go:build !unix

package stackrun

import "os"

// On Windows a console Ctrl-C reaches every process attached to the
// console, the child included: Exec only keeps this process alive until
// the child is done.
var forwardedSignals = []os.Signal{os.Interrupt}

func forward(p *os.Process, s os.Signal) {}

func exitStatus(ps *os.ProcessState) int { return ps.ExitCode() }

// childPipes: os/exec passes no extra descriptors here, so stack programs
// link the terminal's prompter (childTags).
const childPipes = false
