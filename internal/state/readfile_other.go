//go:build !linux

package state

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// readInto reads the file name in dir; a missing file is nil, nil; a
// directory is errIsDir.
func readInto(dir rowDir, name string, _ []byte) ([]byte, error) {
	path := filepath.Join(dir.path, name)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		if fi, serr := os.Stat(path); serr == nil && fi.IsDir() {
			return nil, errIsDir
		}
		return nil, err
	}
	return data, nil
}

// rowDir is a stage directory rows are read from.
type rowDir struct{ path string }

func openDir(path string) rowDir { return rowDir{path: path} }

func (rowDir) close() {}

func pathDir(path string) rowDir { return rowDir{path: path} }
