//go:build !unix

package lock

// processDead cannot probe a pid portably here, so crashed holders are
// recovered by the mtime rule alone.
func processDead(pid int) bool { return false }

func processStart(pid int) string { return "" }
