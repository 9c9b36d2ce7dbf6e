package state

import (
	"errors"

	"golang.org/x/sys/unix"
)

// readInto reads the file at path into buf (grown as needed): open, read
// until a short read, close, and nothing else; os.ReadFile also stats the
// file and asks the runtime's poller about it, which doubles the system
// calls of a plan that reads thousands of rows. A missing file is nil,
// nil; a directory is errIsDir.
func readInto(path string, buf []byte) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	for errors.Is(err, unix.EINTR) {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.EISDIR) {
			return nil, errIsDir
		}
		if err != nil {
			return nil, err
		}
		want := cap(buf) - len(buf)
		buf = buf[:len(buf)+n]
		if n < want {
			return buf, nil // a regular file reads short only at its end
		}
	}
}
