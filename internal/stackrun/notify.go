package stackrun

import (
	"path/filepath"
	"strings"
	"sync"

	"github.com/fsnotify/fsnotify"
)

// # Being told, not only looking
//
// Polling alone makes every edit wait for the next poll and then for the
// settle time: ~0.3 s of a dev cycle that is otherwise tenths of a second.
// So a Watcher can also ask the operating system (inotify, kqueue,
// ReadDirectoryChangesW, through fsnotify) to say when something in a
// watched directory changes. An event only wakes Wait early: what changed
// is still decided by Look's content comparison, and polling goes on as
// before underneath, so events that are lost (a full queue, a directory
// made and filled before its watch was added, kqueue not reporting writes
// to files it does not hold open, a network file system) cost latency,
// never an edit.

// notifier wakes a Watcher when something in a watched directory changes.
type notifier struct {
	fsw  *fsnotify.Watcher
	wake chan struct{} // buffered 1: a pending wake-up

	mu   sync.Mutex
	dirs map[string]bool // directories with a watch
	done bool
}

// Notify makes Wait wake up as soon as the operating system reports a
// change under the watched tree, besides polling. An error means only that
// Wait keeps polling. Close stops it.
func (w *Watcher) Notify() error {
	if w.notify != nil {
		return nil
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	n := &notifier{fsw: fsw, wake: make(chan struct{}, 1), dirs: map[string]bool{}}
	w.notify = n
	go n.run()
	// Watch what the last Look walked (or the root until the first one).
	dirs := w.dirs
	if len(dirs) == 0 {
		dirs = []string{w.root}
	}
	return n.sync(dirs)
}

// Close stops the notifications Notify started.
func (w *Watcher) Close() error {
	if w.notify == nil {
		return nil
	}
	n := w.notify
	w.notify = nil
	n.mu.Lock()
	n.done = true
	n.mu.Unlock()
	return n.fsw.Close()
}

// run turns the events that may be an edit into wake-ups.
func (n *notifier) run() {
	for {
		select {
		case ev, ok := <-n.fsw.Events:
			if !ok {
				return
			}
			if ev.Op == fsnotify.Chmod || !watchedName(filepath.Base(ev.Name)) {
				continue // a touch changes no content; hidden and backup files are never inputs
			}
			n.poke()
		case _, ok := <-n.fsw.Errors:
			if !ok {
				return
			}
			// A full queue: something was lost. Looking catches up.
			n.poke()
		}
	}
}

func (n *notifier) poke() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// sync watches exactly dirs, the directories the last Look walked. A
// directory that cannot be watched (the system's limit on watches reached)
// is left to polling; the first such error is returned.
func (n *notifier) sync(dirs []string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.done {
		return nil
	}
	want := make(map[string]bool, len(dirs))
	var first error
	for _, d := range dirs {
		want[d] = true
		if n.dirs[d] {
			continue
		}
		if err := n.fsw.Add(d); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		n.dirs[d] = true
	}
	for d := range n.dirs {
		if !want[d] {
			// Gone, or now skipped. (A removed directory's watch went
			// with it: removing it again fails, harmlessly.)
			_ = n.fsw.Remove(d)
			delete(n.dirs, d)
		}
	}
	return first
}

// watchedName reports whether a file of this name can be a stack's input
// (Look's rule: hidden files and editor backups are not).
func watchedName(name string) bool {
	return !strings.HasPrefix(name, ".") && !strings.HasSuffix(name, "~")
}
