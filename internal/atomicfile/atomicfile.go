// Package atomicfile writes files so that a reader, or a process killed at any
// instant, only ever sees the old content or the new content, never a mix.
//
// Every write in alchemy's home goes through here: a temp file in the same
// directory, fsync, rename over the target, fsync of the directory.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write replaces path with data. The file gets mode perm (the umask does not
// apply) and the directory is created with mode 0700 when missing.
func Write(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, true)
}

// Replace is Write without the fsyncs, into an existing directory whose
// permissions it leaves alone: readers still see the old or the new
// content, never a mix, but a power loss may lose the new content. For files
// made durable by a later sync that covers them (the engine's state commit
// after a resource is created flushes the whole filesystem on Linux).
func Replace(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, false)
}

func write(path string, data []byte, perm os.FileMode, durable bool) (err error) {
	dir := filepath.Dir(path)
	if durable {
		// Durable writes are alchemy's own files, in private directories.
		// Replace writes a user's files: their directories are theirs.
		if err := MkdirPrivate(dir); err != nil {
			return err
		}
	}
	tmp, err := writeTemp(dir, "."+filepath.Base(path)+".tmp-", data, perm, durable)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err = rename(tmp, path); err != nil {
		return err
	}
	if !durable {
		return nil
	}
	return syncDir(dir)
}

// MkdirPrivate creates dir and its parents with mode 0700. An existing dir
// is only ever tightened (group and other bits removed), never loosened: a
// directory the user made read-only stays read-only (and is an error, as
// nothing can be written there), one owned by another user is refused
// rather than written into, and a symbolic link is refused rather than
// followed, so a secret is never written outside where it belongs.
func MkdirPrivate(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		fi, err = os.Lstat(dir)
	}
	if err != nil {
		return err
	}
	refuse := func(reason, fix string) error {
		return &DirError{Dir: dir, Reason: reason, Fix: fix, Setting: "ALCHEMY_HOME"}
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return refuse("is a symbolic link: alchemy does not follow links where it keeps its files (what it writes, secrets included, would land wherever it points)",
			"Replace it with a directory")
	case !fi.IsDir():
		return refuse("exists and is not a directory", "Move it away")
	}
	if uid, ok := ownerOf(fi); ok && uid != os.Getuid() {
		return refuse(fmt.Sprintf("belongs to another user (uid %d): alchemy will not write there", uid), "Fix its owner")
	}
	perm := fi.Mode().Perm()
	if perm&0o200 == 0 {
		return refuse(fmt.Sprintf("is read-only (mode %#o): alchemy leaves it as you made it", perm), "Make it writable (chmod u+w)")
	}
	if perm&0o077 != 0 {
		if err := os.Chmod(dir, perm&^0o077); err != nil {
			return err
		}
	}
	return nil
}

// ReadRegular reads a file that must be a regular file: a symbolic link, a
// named pipe (which would block every reader), a device or a directory is
// an error naming it, and nothing is opened that could hang.
func ReadRegular(path string) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if err := regular(path, fi); err != nil {
		return nil, err
	}
	f, err := openNoFollow(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := regular(path, fi); err != nil {
		return nil, err // replaced between the look and the open
	}
	return io.ReadAll(f)
}

// NotRegularError is a path that is not a regular file.
type NotRegularError struct {
	Path, What string
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file: alchemy does not read it (it could hang, or lead elsewhere). Replace it with a regular file or remove it", e.Path, e.What)
}

func regular(path string, fi os.FileInfo) error {
	m := fi.Mode()
	switch {
	case m.IsRegular():
		return nil
	case m&os.ModeSymlink != 0:
		return &NotRegularError{Path: path, What: "a symbolic link"}
	case m&os.ModeNamedPipe != 0:
		return &NotRegularError{Path: path, What: "a named pipe"}
	case m.IsDir():
		return &NotRegularError{Path: path, What: "a directory"}
	case m&os.ModeSocket != 0:
		return &NotRegularError{Path: path, What: "a socket"}
	}
	return &NotRegularError{Path: path, What: "a device or special file"}
}

// RemoveStaleTempsIn deletes every temp file (.<name>.tmp-*) a killed
// writer left in dir: secret files' temps hold a whole secret. Call it only
// while holding the lock that serialises dir's writers.
func RemoveStaleTempsIn(dir string) {
	matches, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	for _, m := range matches {
		if fi, err := os.Lstat(m); err == nil && fi.Mode().IsRegular() {
			os.Remove(m)
		}
	}
}

// RemoveStaleTemps deletes temp files a killed writer of path left behind.
// Call it only while holding the lock that serialises writers of path: then
// no temp file can belong to a live writer.
func RemoveStaleTemps(path string) {
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*"))
	for _, m := range matches {
		os.Remove(m)
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	// Some filesystems refuse fsync on a directory; the rename is still atomic.
	_ = d.Sync()
	return nil
}

// DirError is a directory MkdirPrivate will not write in: why, what fixes
// it, and the setting that moves what alchemy keeps there elsewhere
// (ALCHEMY_HOME, the default: the credentials' home; Elsewhere changes it).
type DirError struct {
	Dir, Reason, Fix string
	Setting          string // "" when nothing moves it
}

func (e *DirError) Error() string {
	msg := e.Dir + " " + e.Reason + ". " + e.Fix
	if e.Setting != "" {
		msg += ", or set " + e.Setting + " to a directory of yours"
	}
	return msg + "."
}

// Elsewhere names setting (the variable that moves the directory, "" for
// none) in err when it is a *DirError, for a caller whose directory is not
// in the alchemy home: the stack cache (ALCHEMY_CACHE_DIR), a project's
// state (none: another store is chosen with --state).
func Elsewhere(err error, setting string) error {
	var de *DirError
	if errors.As(err, &de) {
		de.Setting = setting
	}
	return err
}
