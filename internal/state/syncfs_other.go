//go:build !linux

package state

import (
	"os"
	"path/filepath"
)

const haveSyncfs = false

func syncFS(dir string) error { return syncDir(dir) }

func fdatasync(f *os.File) error { return f.Sync() }

// syncAll fsyncs every row file of dir, then dir itself.
func syncAll(dir string) error {
	matches, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, m := range matches {
		f, err := os.OpenFile(m, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return err
		}
	}
	return syncDir(dir)
}
