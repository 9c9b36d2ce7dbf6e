package stackrun

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"time"
)

// Snapshot is the state of the files a dev session watches: path -> size
// and modification time.
type Snapshot map[string][2]int64

// WatchRoot is the directory `alchemy dev` watches for a stack file: its
// module (the stack file, the packages it imports from the module, and the
// files its resources read, such as a Worker's script or a Lambda's
// directory, when they live in the module), else the stack file's directory.
func WatchRoot(stackFile string) string {
	dir := filepath.Dir(stackFile)
	if root, ok := findUp(dir, "go.mod"); ok {
		return root
	}
	return dir
}

// Scan records every file under root, skipping what never belongs to a
// stack: version control, dependencies and alchemy's own state.
func Scan(root string) Snapshot {
	snap := Snapshot{}
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") {
			return nil // editor swap and temp files
		}
		if fi, err := d.Info(); err == nil {
			snap[path] = [2]int64{fi.Size(), fi.ModTime().UnixNano()}
		}
		return nil
	})
	return snap
}

// Changed lists the paths that differ between two snapshots, sorted by
// name (at most a few, for a message).
func Changed(before, after Snapshot) []string {
	var out []string
	for p, v := range after {
		if before[p] != v {
			out = append(out, p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			out = append(out, p)
		}
	}
	return out
}

// WaitForChange polls root every interval until something changed and then
// stayed quiet for settle (an editor saving several files, a formatter
// rewriting one, become one change). It returns the new snapshot and what
// changed, or ctx's error.
func WaitForChange(ctx context.Context, root string, since Snapshot, interval, settle time.Duration) (Snapshot, []string, error) {
	for {
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(interval):
		}
		now := Scan(root)
		changed := Changed(since, now)
		if len(changed) == 0 {
			continue
		}
		// Coalesce: keep going while it keeps changing.
		for {
			select {
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			case <-time.After(settle):
			}
			next := Scan(root)
			more := Changed(now, next)
			now = next
			if len(more) == 0 {
				break
			}
			changed = append(changed, more...)
		}
		return now, dedupe(changed), nil
	}
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range in {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}
