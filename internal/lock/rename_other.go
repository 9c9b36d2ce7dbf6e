//go:build !linux && !darwin

package lock

// renameNoReplace has no atomic implementation here: every lock directory
// is made with mkdir, and a claim covers the instant before its owner file
// exists.
func renameNoReplace(oldpath, newpath string) error { return errNoReplace }
