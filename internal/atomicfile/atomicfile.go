// Package atomicfile writes files so that a reader, or a process killed at any
// instant, only ever sees the old content or the new content, never a mix.
//
// Every write in alchemy's home goes through here: a temp file in the same
// directory, fsync, rename over the target, fsync of the directory.
package atomicfile

import (
	"errors"
	"fmt"
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
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if durable {
		if err = tmp.Sync(); err != nil {
			return err
		}
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if !durable {
		return nil
	}
	return syncDir(dir)
}

// MkdirPrivate creates dir and its parents with mode 0700, and tightens dir
// itself to 0700 when it already exists with looser permissions.
func MkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s exists and is not a directory", dir)
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil && !errors.Is(err, os.ErrPermission) {
			return err
		}
	}
	return nil
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
