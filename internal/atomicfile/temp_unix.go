//go:build unix

package atomicfile

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// writeTemp creates a new file named prefix and a random suffix in dir,
// with mode perm (the umask does not apply), writes data to it (and syncs
// it when durable) and closes it; it returns the file's path. On error the
// file is gone.
//
// It works on the descriptor rather than an *os.File: on Linux, os opens
// every file for the runtime's poller, which a regular file refuses, and
// undoing that costs four fcntl calls and a failing epoll_ctl per file. A
// deploy writes one temp file per state row, and each system call costs
// microseconds in a VM: five of eleven calls a row were that.
func writeTemp(dir, prefix string, data []byte, perm os.FileMode, durable bool) (name string, err error) {
	fd := -1
	for try := 0; try < 10000; try++ {
		name = filepath.Join(dir, prefix+strconv.FormatUint(uint64(rand.Uint32()), 10))
		fd, err = unix.Open(name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
		if !errors.Is(err, unix.EEXIST) && !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return "", &os.PathError{Op: "createtemp", Path: filepath.Join(dir, prefix+"*"), Err: err}
	}
	defer func() {
		if fd >= 0 {
			unix.Close(fd)
		}
		if err != nil {
			os.Remove(name)
		}
	}()
	if err = retry(func() error { return unix.Fchmod(fd, uint32(perm.Perm())) }); err != nil {
		return "", &os.PathError{Op: "chmod", Path: name, Err: err}
	}
	for rest := data; len(rest) > 0; {
		n, werr := unix.Write(fd, rest)
		if errors.Is(werr, unix.EINTR) {
			continue
		}
		if werr != nil {
			return "", &os.PathError{Op: "write", Path: name, Err: werr}
		}
		if n == 0 {
			return "", &os.PathError{Op: "write", Path: name, Err: errors.New("wrote nothing")}
		}
		rest = rest[n:]
	}
	if durable {
		// os's Sync is the platform's real flush (F_FULLFSYNC on macOS,
		// where fsync leaves the data in the drive's cache).
		f := os.NewFile(uintptr(fd), name)
		fd = -1
		serr := f.Sync()
		cerr := f.Close()
		if err = errors.Join(serr, cerr); err != nil {
			return "", err
		}
		return name, nil
	}
	cerr := unix.Close(fd)
	fd = -1
	if cerr != nil && !errors.Is(cerr, unix.EINTR) {
		return "", &os.PathError{Op: "close", Path: name, Err: cerr}
	}
	return name, nil
}

// retry runs a system call again while a signal interrupts it.
func retry(call func() error) error {
	for {
		if err := call(); !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// rename is os.Rename without its first step, an lstat of the target
// (made so that renaming onto a directory fails the same on every system:
// rename(2) of a file onto a directory fails anyway, with EISDIR).
func rename(from, to string) error {
	if err := retry(func() error { return unix.Rename(from, to) }); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}
