//go:build !linux

package state

import (
	"errors"
	"io/fs"
	"os"
)

// readInto reads the file at path; a missing file is nil, nil; a directory
// is errIsDir.
func readInto(path string, _ []byte) ([]byte, error) {
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
