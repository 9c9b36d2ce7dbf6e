//go:build unix

package stackrun

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// A Watcher reports changes of content, whatever happens to the metadata,
// and only under what a stack's inputs can be.
func TestWatcherComparesContent(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	outside := t.TempDir()
	path := func(rel string) string { return filepath.Join(root, filepath.FromSlash(rel)) }
	write := func(rel, content string) {
		t.Helper()
		p := path(rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("alchemy.run.go", "package main")
	write("message.txt", "one")
	write("out/greeting.txt", "hello one")
	if err := os.WriteFile(filepath.Join(outside, "script.js"), []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "script.js"), path("script.js")); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(path("dev.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	logInfo, _ := log.Stat()

	w := NewWatcher(root)
	w.Ignore(logInfo)
	if got, want := w.Look(), []string{path("alchemy.run.go"), path("message.txt"), path("out/greeting.txt"), path("script.js")}; !slices.Equal(got, want) {
		t.Fatalf("first look: %v, want every file: %v", got, want)
	}
	steps := []struct {
		name string
		do   func()
		want []string // relative paths
	}{
		{"nothing", func() {}, nil},
		{"the same content written again", func() { write("message.txt", "one") }, nil},
		{"touched", func() {
			later := time.Now().Add(time.Hour)
			os.Chtimes(path("alchemy.run.go"), later, later)
		}, nil},
		{"an edit", func() { write("message.txt", "two") }, []string{"message.txt"}},
		{"an edit that keeps size and modification time", func() {
			fi, _ := os.Stat(path("message.txt"))
			write("message.txt", "six")
			os.Chtimes(path("message.txt"), fi.ModTime(), fi.ModTime())
		}, []string{"message.txt"}},
		{"a new file and a removed one", func() {
			write("lib/lib.go", "package lib")
			os.Remove(path("out/greeting.txt"))
		}, []string{"lib/lib.go", "out/greeting.txt"}},
		{"the target of a symlink", func() {
			os.WriteFile(filepath.Join(outside, "script.js"), []byte("v2"), 0o644)
		}, []string{"script.js"}},
		{"never watched: hidden, dependencies, backups, dev's own output", func() {
			write(".alchemy/state/devtest/dev_tester/Greeting.json", "{}")
			write(".git/index", "x")
			write("node_modules/x/index.js", "x")
			write("vendor/modules.txt", "x")
			write(".message.txt.swp", "x")
			write("message.txt~", "x")
			log.WriteString("[dev] cycle 1 applied\n")
		}, nil},
	}
	for _, st := range steps {
		st.do()
		var want []string
		for _, rel := range st.want {
			want = append(want, path(rel))
		}
		if got := w.Look(); !slices.Equal(got, want) {
			t.Errorf("%s: Look reported %v, want %v", st.name, got, want)
		}
	}
}

// Wait returns what changed once it settled, and keeps waiting through a
// change undone before it settled.
func TestWatcherWait(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	file := filepath.Join(root, "message.txt")
	os.WriteFile(file, []byte("one"), 0o644)
	w := NewWatcher(root)
	w.Look()

	// Undone within the settle time: not a change.
	go func() {
		time.Sleep(30 * time.Millisecond)
		os.WriteFile(file, []byte("two!"), 0o644)
		time.Sleep(20 * time.Millisecond)
		os.WriteFile(file, []byte("one"), 0o644)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	if got, err := w.Wait(ctx, 10*time.Millisecond, 200*time.Millisecond); err == nil {
		t.Fatalf("Wait returned %v for a change undone", got)
	}

	go func() {
		time.Sleep(30 * time.Millisecond)
		os.WriteFile(file, []byte("two"), 0o644)
	}()
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := w.Wait(ctx, 10*time.Millisecond, 50*time.Millisecond)
	if err != nil || !slices.Equal(got, []string{file}) {
		t.Fatalf("Wait: %v, %v; want [%s]", got, err, file)
	}
	if again := w.Look(); len(again) != 0 {
		t.Fatalf("after Wait returned, Look still reports %v", again)
	}
}

// After Notify, an edit wakes Wait at once, whatever the poll interval:
// also in a directory made after the session started, and for an edit
// saved by rename (as editors do). Events that change no content (a
// touch, a write of the same bytes, hidden files) still return nothing.
func TestWatcherNotifyWakesAtOnce(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	file := filepath.Join(root, "message.txt")
	os.WriteFile(file, []byte("one"), 0o644)
	w := NewWatcher(root)
	w.Look()
	if err := w.Notify(); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	defer w.Close()
	const poll = time.Hour // only an event can end a Wait in time
	const settle = 3 * time.Second

	// wait runs edit while Wait waits, and checks what it returns: want,
	// well within timeout; nothing (the deadline) when want is empty.
	wait := func(what string, edit func(), want ...string) {
		t.Helper()
		timeout := 2 * settle
		if len(want) == 0 {
			timeout = 400 * time.Millisecond
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		go func() {
			time.Sleep(20 * time.Millisecond)
			edit()
		}()
		start := time.Now()
		got, err := w.Wait(ctx, poll, settle)
		if len(want) == 0 {
			if err == nil {
				t.Fatalf("%s: Wait returned %v, want nothing", what, got)
			}
			return
		}
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("%s: Wait: %v, %v; want %v", what, got, err, want)
		}
		// Settled once eventQuiet passed without an event, not after the
		// whole settle time.
		if took := time.Since(start); took > settle/2 {
			t.Fatalf("%s: Wait took %v (settle %v)", what, took, settle)
		}
	}
	wait("an edit", func() { os.WriteFile(file, []byte("two"), 0o644) }, file)
	wait("a touch, the same bytes, hidden files", func() {
		later := time.Now().Add(time.Hour)
		os.Chtimes(file, later, later)
		os.WriteFile(file, []byte("two"), 0o644)
		os.WriteFile(filepath.Join(root, ".swp"), []byte("x"), 0o644)
		os.MkdirAll(filepath.Join(root, ".alchemy", "state"), 0o755)
		os.WriteFile(filepath.Join(root, ".alchemy", "state", "row.json"), []byte("{}"), 0o644)
	})

	// A directory made and filled while nobody waited: the next look
	// walks it, and from then on it is watched too.
	sub := filepath.Join(root, "lib")
	os.Mkdir(sub, 0o755)
	lib := filepath.Join(sub, "lib.go")
	wait("a new directory's file", func() { os.WriteFile(lib, []byte("package lib"), 0o644) }, lib)
	wait("an edit in it, saved by rename", func() {
		tmp := filepath.Join(sub, ".lib.go.tmp")
		os.WriteFile(tmp, []byte("package lib // edited"), 0o644)
		os.Rename(tmp, lib)
	}, lib)
	wait("a file removed", func() { os.Remove(file) }, file)
}
