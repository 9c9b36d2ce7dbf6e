package profile

import (
	"errors"
	"io/fs"
	"os"
	"sort"
)

// Names lists the profiles of the home for shell completion and "did you
// mean": without taking a lock, and without reading any file that holds a
// secret. A v1 home keeps secrets in the per-provider files, so only its
// directory names are read; a v0 home's profiles.json holds none.
func (s *Store) Names() ([]string, error) {
	if !s.V1() {
		cfg, err := s.Load()
		if err != nil {
			return nil, err
		}
		return cfg.Names(), nil
	}
	dirs, err := os.ReadDir(s.profilesDir())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var names []string
	for _, d := range dirs {
		if d.IsDir() && ValidateName(d.Name()) == nil {
			names = append(names, d.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}
