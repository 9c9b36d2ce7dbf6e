package stackrun

import (
	"context"
	"crypto/sha256"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

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

// # What counts as a change
//
// A dev session must redeploy when the user edits something, and never
// because of what its own deploys wrote: a Local.File inside the module, a
// bundle a resource writes next to its sources, the state under .alchemy.
// Watching for any write cannot tell the two apart (the first deploy would
// start a second, no-op one; a file whose content changes on every deploy,
// such as one holding a timestamp, would deploy forever), the operating
// system does not say who wrote a file, and resources are user code: only
// those whose provider promises it say what they wrote.
//
// So a Watcher compares content, not events. After every cycle it records
// a content hash of every watched file (Look), so whatever the cycle wrote
// is part of what the session stands on; a later change starts a cycle
// only when a file's content differs from that record. A deploy's own
// writes therefore never start one, however often they change, and neither
// do a touch, a save of an unchanged buffer, a checkout of the same content
// or an edit undone before the session looked.
//
// The price is that an edit made while a cycle runs looks like one of the
// cycle's writes. A cycle reads the stack's inputs when it starts (the
// build reads the Go files; the stack program reads files such as a
// Worker's script as it declares its resources), so an edit made before
// then is deployed by that cycle; `alchemy dev` checks after each deploy
// whether the stack's Go sources changed since the build
// (Builder.Current), and if they did starts the next cycle at once; and
// for any other file, the deploy says which files its provider calls wrote
// (alchemy.WriteReporter, internal/cli's devWrites), so dev deploys at
// once what changed without a call saying so, and names what it cannot
// account for.
//
// To keep looking cheap, a file is hashed only when its size or
// modification time differs from the record: a poll costs a directory
// walk. A file modified in the same clock tick as it was hashed
// could change again without either moving, so one whose modification
// time is within racyWindow of its hashing is hashed again on every look
// until it is older (git's "racily clean" index entries). Files over
// hashLimit are compared by size and modification time only.

// hashLimit is the size above which a file is not hashed.
const hashLimit = 32 << 20

// racyWindow covers the coarsest modification times in use (FAT: 2 s).
const racyWindow = 2 * time.Second

// fileState is what a Watcher knows of one file.
type fileState struct {
	size   int64
	mtime  int64    // UnixNano
	sum    [32]byte // SHA-256 of the content; zero for files over hashLimit
	hashed int64    // UnixNano when sum was computed
}

// same reports whether two states hold the same content.
func (a fileState) same(b fileState) bool {
	if a.size != b.size {
		return false
	}
	if a.size > hashLimit {
		return a.mtime == b.mtime
	}
	return a.sum == b.sum
}

// Watcher tells what changed under a directory by content (see above).
type Watcher struct {
	root   string
	files  map[string]fileState // what the last Look recorded
	ignore []os.FileInfo        // files never watched (Ignore)

	dirs    []string      // the directories the last Look walked
	looked  time.Time     // when the last Look ended
	lookDur time.Duration // and how long it took
	notify  *notifier     // nil: polling only (Notify)
}

// NewWatcher watches root, skipping what never belongs to a stack's
// inputs: version control and every other hidden directory (.alchemy, with
// the state, included), node_modules, vendor, hidden files, and editor
// backup files. It records nothing until the first Look.
func NewWatcher(root string) *Watcher {
	return &Watcher{root: root, files: map[string]fileState{}}
}

// Ignore leaves the files described by fi out, wherever they are linked
// in the tree: for `alchemy dev > dev.log` run in the module, dev's own
// output (every line of which would otherwise be an edit to deploy).
func (w *Watcher) Ignore(fi ...os.FileInfo) {
	w.ignore = append(w.ignore, fi...)
}

// Look records the content of every watched file as it is now and returns
// the paths whose content differs from what the previous Look recorded
// (added and removed files included), sorted.
func (w *Watcher) Look() []string {
	start := time.Now()
	now := start.UnixNano()
	next := make(map[string]fileState, len(w.files))
	var changed []string
	dirs := w.dirs[:0]
	filepath.WalkDir(w.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		name := d.Name()
		if d.IsDir() {
			if path != w.root && (!watchedName(name) || name == "node_modules" || name == "vendor") {
				return filepath.SkipDir
			}
			dirs = append(dirs, path)
			return nil
		}
		if !watchedName(name) {
			return nil // editor swap and temp files
		}
		// A symlink counts as the file it points to, so an edit of the
		// target is seen.
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() {
			return nil // removed while we walked, a dangling link, a socket
		}
		for _, ig := range w.ignore {
			if os.SameFile(fi, ig) {
				return nil
			}
		}
		st := fileState{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
		old, known := w.files[path]
		racy := known && old.mtime+int64(racyWindow) > old.hashed
		switch {
		case known && st.size == old.size && st.mtime == old.mtime && !racy:
			st = old
		case st.size > hashLimit:
			st.hashed = now
		default:
			sum, ok := hashFile(path)
			if !ok {
				return nil
			}
			st.sum, st.hashed = sum, now
		}
		next[path] = st
		if !known || !old.same(st) {
			changed = append(changed, path)
		}
		return nil
	})
	for p := range w.files {
		if _, ok := next[p]; !ok {
			changed = append(changed, p)
		}
	}
	w.files = next
	w.dirs = dirs
	if w.notify != nil {
		_ = w.notify.sync(dirs) // what cannot be watched is polled
	}
	w.looked = time.Now()
	w.lookDur = w.looked.Sub(start)
	sort.Strings(changed)
	return changed
}

func hashFile(path string) ([32]byte, bool) {
	f, err := os.Open(path)
	if err != nil {
		return [32]byte{}, false
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return [32]byte{}, false
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum, true
}

// Wait looks every interval until a file's content differs from what the
// last Look recorded, then keeps looking while changes keep coming and
// until settle passes without one (an editor saving several files, a
// formatter rewriting one, become one change). It returns the files whose
// content differs at the end, as Look would have (a change undone in the
// meantime is none: Wait keeps waiting), or ctx's error.
//
// After Notify, an event from the operating system makes it look at once,
// and settling ends once no event came for eventQuiet (at most settle).
func (w *Watcher) Wait(ctx context.Context, interval, settle time.Duration) ([]string, error) {
	for {
		base := w.files
		if err := w.pause(ctx, interval, false); err != nil {
			return nil, err
		}
		if len(w.Look()) == 0 {
			continue
		}
		for {
			if err := w.pause(ctx, settle, true); err != nil {
				return nil, err
			}
			if len(w.Look()) == 0 {
				break
			}
		}
		if changed := diff(base, w.files); len(changed) > 0 {
			return changed, nil
		}
	}
}

// eventQuiet is how long Wait settles after the last event: an editor's
// save, a formatter run on save or `go mod tidy` writing go.mod and go.sum
// come in bursts well within it.
const eventQuiet = 40 * time.Millisecond

// pause returns after d, or ctx's error. With notifications, an event ends
// it early: at once (not settling), or once eventQuiet passed without
// another (settling). Looks woken by events are spaced by ten times what a
// Look costs, so a file written continuously in the tree (a log) costs
// at most a tenth of a CPU.
func (w *Watcher) pause(ctx context.Context, d time.Duration, settling bool) error {
	timeout := time.NewTimer(d)
	defer timeout.Stop()
	var wake <-chan struct{}
	if w.notify != nil {
		wake = w.notify.wake
	}
	var quiet <-chan time.Time
	if wake != nil && settling {
		// Settling after the events that woke the first look: eventQuiet
		// from now, and from every event that comes meanwhile.
		quiet = time.After(min(eventQuiet, d))
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout.C:
			return nil
		case <-quiet:
			return nil
		case <-wake:
			q := eventQuiet
			if !settling {
				q = max(time.Millisecond, 10*w.lookDur-time.Since(w.looked))
			}
			quiet = time.After(min(q, d))
		}
	}
}

// diff lists the paths whose content differs between two records, sorted.
func diff(a, b map[string]fileState) []string {
	var out []string
	for p, sb := range b {
		if sa, ok := a[p]; !ok || !sa.same(sb) {
			out = append(out, p)
		}
	}
	for p := range a {
		if _, ok := b[p]; !ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}
