package engine

import (
	"path/filepath"
	"slices"
	"sync"
)

// WriteReporter is implemented by providers that say whether their calls
// report every file they write, replace or remove on this machine through
// Request.Wrote. A provider that writes no local file reports none and
// says true. `alchemy dev` tells its deploys' own writes from a user's
// edits by these reports (LocalWrites).
type WriteReporter interface{ ReportsWrites() bool }

// reportsWrites reports whether p says it reports its local writes.
func reportsWrites(p Provider) bool {
	w, ok := p.(WriteReporter)
	return ok && w.ReportsWrites()
}

// LocalWrites collects what the provider calls of one apply wrote on this
// machine (ApplyOptions.Writes): the files they reported, and the types of
// the resources whose provider was called without saying it reports its
// writes (whose calls may have written anything). Safe for concurrent use.
type LocalWrites struct {
	mu         sync.Mutex
	paths      map[string]bool
	unreported map[string]bool
}

// NewLocalWrites returns an empty record.
func NewLocalWrites() *LocalWrites {
	return &LocalWrites{paths: map[string]bool{}, unreported: map[string]bool{}}
}

// called records a request to provider p about to be made (any call: a
// read, of a refresh or before an adoption, counts too, which only errs on
// the side of "may have written") and makes r report its writes here.
func (w *LocalWrites) called(p Provider, r *Request) {
	if !reportsWrites(p) {
		w.mu.Lock()
		w.unreported[p.Type()] = true
		w.mu.Unlock()
		return
	}
	r.Wrote = func(path string) {
		if path == "" {
			return
		}
		if !filepath.IsAbs(path) && r.Dir != "" {
			path = filepath.Join(r.Dir, path)
		}
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		// A directory that is a link is not walked by a watcher, which
		// sees the file where the link leads: record that path too.
		resolved := ""
		if dir, err := filepath.EvalSymlinks(filepath.Dir(path)); err == nil {
			resolved = filepath.Join(dir, filepath.Base(path))
		}
		w.mu.Lock()
		w.paths[path] = true
		if resolved != "" {
			w.paths[resolved] = true
		}
		w.mu.Unlock()
	}
}

// Paths are the absolute paths the calls reported, sorted.
func (w *LocalWrites) Paths() []string { return w.sorted(w.paths) }

// Unreported are the types of the resources whose provider was called
// without reporting its writes, sorted.
func (w *LocalWrites) Unreported() []string { return w.sorted(w.unreported) }

func (w *LocalWrites) sorted(set map[string]bool) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
