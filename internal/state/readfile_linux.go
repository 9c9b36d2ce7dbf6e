package state

import (
	"errors"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// readInto reads the file name in dir into buf (grown as needed): open, read
// until a short read, close, and nothing else; os.ReadFile also stats the
// file and asks the runtime's poller about it, which doubles the system
// calls of a plan that reads thousands of rows. A missing file is nil,
// nil; a directory is errIsDir.
//
// With dir (from openDir), name is opened relative to it: the kernel then
// looks up one name instead of walking the whole path again for each of a
// stage's thousands of files (~12% of reading a row file here).
func readInto(dir rowDir, name string, buf []byte) ([]byte, error) {
	open := func() (int, error) {
		if dir.fd >= 0 {
			return unix.Openat(dir.fd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		}
		return unix.Open(filepath.Join(dir.path, name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	fd, err := open()
	for errors.Is(err, unix.EINTR) {
		fd, err = open()
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

// rowDir is a stage directory rows are read from: its path, and an open
// descriptor of it once openDir succeeded (-1 before, or without one).
type rowDir struct {
	path string
	fd   int
}

// openDir opens dir to read files relative to it; without it (an error),
// reads go by path. close releases it.
func openDir(path string) rowDir {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		fd = -1
	}
	return rowDir{path: path, fd: fd}
}

func (d rowDir) close() {
	if d.fd >= 0 {
		unix.Close(d.fd)
	}
}

// pathDir reads files in path by their whole path.
func pathDir(path string) rowDir { return rowDir{path: path, fd: -1} }
