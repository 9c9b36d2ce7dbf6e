package state

import (
	"os"

	"golang.org/x/sys/unix"
)

// haveSyncfs: Linux can flush a whole filesystem in one call, which lets
// concurrent Sets share one flush for their temp files.
const haveSyncfs = true

func syncFS(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return unix.Syncfs(int(d.Fd()))
}

func fdatasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }

// syncAll makes every file written in dir durable with one flush.
func syncAll(dir string) error { return syncFS(dir) }
