//go:build !unix && !windows

package stackrun

import "os/exec"

// Without process groups, cancelling kills go itself (CommandContext's
// default): a compiler or linker it started finishes its step alone, and
// the build's GOTMPDIR is removed once nothing holds it (by this build when
// it can, else by a later build's prune).
func isolate(*exec.Cmd) {}

func runIsolated(cmd *exec.Cmd) error { return cmd.Run() }
