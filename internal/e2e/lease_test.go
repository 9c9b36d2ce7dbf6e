//go:build linux

package e2e

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stoppedFor is how long the first deploy stays stopped before the second
// one starts: the 60 s of the issue that found the bug, twice the lock's
// 30 s heartbeat-stale period (the holder's last heartbeat is at least this
// old). A lease judged by its heartbeat's age alone would be taken over by
// then. The test runs in parallel with the rest of the package.
const stoppedFor = 60 * time.Second

var holderPIDRE = regexp.MustCompile(`\(pid (\d+)\) running `)

// TestStoppedHolderKeepsTheLease stops a deploy mid-apply (SIGSTOP to its
// whole process group, as Ctrl-Z does), waits past the heartbeat-stale
// period, and deploys the same stage again: the second deploy must give up
// within seconds, naming the holder, without touching anything; the first,
// resumed, must finish as if nothing happened.
func TestStoppedHolderKeepsTheLease(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	stack := w.project(fixture("stoppable"))
	stateDir := w.path(".alchemy", "state", "stoppable", "dev_tester")
	w.ok("plan", stack) // build the stack file outside the timing

	a := w.command(nil, "deploy", stack, "--yes")
	var outA lockedBuffer
	a.Stdout, a.Stderr = &outA, &outA
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := a.Process.Pid
	done := make(chan error, 1)
	go func() { done <- a.Wait() }()
	t.Cleanup(func() { killGroup(a) }) // SIGKILL ends a stopped process too

	// Mid-apply: First created, Nap (3 s) under way, After not started.
	deadline := time.Now().Add(runTimeout)
	for {
		rows, _ := stateRows(t, stateDir)
		if rows["First"].Status == "created" && rows["Nap"].Status == "creating" {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the first deploy ended before it could be stopped mid-apply (%v):\n%s", err, outA.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first deploy never got mid-apply:\n%s", outA.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := syscall.Kill(-pgid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	members := groupStates(pgid)
	if len(members) < 2 {
		t.Errorf("the first deploy's process group has %d members, want alchemy and its stack program: %v", len(members), members)
	}
	waitStopped(t, pgid)
	before := snapshot(t, w.path(".alchemy", "state"), w.path(".alchemy", "files"))
	if n := len(listDir(t, w.path(".alchemy", "files"))); n != 1 {
		t.Fatalf("stopped with %d files, want First's only", n)
	}
	time.Sleep(stoppedFor - time.Since(stopped))

	// The second deploy of the stage gives up: the holder is alive.
	b := w.run("deploy", stack, "--yes")
	t.Logf("second deploy, %v after the first was stopped: %s", time.Since(stopped).Round(time.Second), b)
	if b.code == 0 {
		t.Fatalf("a second deploy of a stage whose holder is stopped succeeded: %s", b)
	}
	requireContains(t, "second deploy's stderr", b.stderr,
		"Another alchemy run holds stoppable/dev_tester: ",
		"running `alchemy deploy --stage dev_tester`",
		"Nothing was changed.")
	if b.took > 20*time.Second {
		t.Errorf("the second deploy took %v to give up, want a few seconds", b.took)
	}
	if m := holderPIDRE.FindStringSubmatch(b.stderr); m == nil {
		t.Errorf("the refusal names no holder pid:\n%s", b.stderr)
	} else if pid, _ := strconv.Atoi(m[1]); members[pid] == "" {
		t.Errorf("the refusal names pid %d, not a process of the stopped deploy (%v)", pid, members)
	}
	if after := snapshot(t, w.path(".alchemy", "state"), w.path(".alchemy", "files")); !sameSnapshot(t, before, after) {
		t.Error("the refused deploy changed the state or the files")
	}
	for pid, st := range groupStates(pgid) {
		if st != "T" {
			t.Errorf("process %d of the stopped deploy is in state %s after the second deploy, want still stopped (T)", pid, st)
		}
	}

	// Resumed, the first deploy finishes.
	if err := syscall.Kill(-pgid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if code, _ := exitCode(t, err); code != 0 {
			t.Fatalf("the resumed deploy exited %d:\n%s", code, outA.String())
		}
	case <-time.After(runTimeout):
		t.Fatalf("the resumed deploy did not finish:\n%s", outA.String())
	}
	requireContains(t, "resumed deploy", outA.String(), "Done: 3 succeeded, 0 failed, 0 skipped")
	if s := outA.String(); strings.Contains(s, "lost") || strings.Contains(s, "now held by") {
		t.Errorf("the resumed deploy reports a lost lease:\n%s", s)
	}
	rows, journal := stateRows(t, stateDir)
	if len(rows) != 3 || journal {
		t.Errorf("after the resumed deploy: %d rows (journal left: %v), want 3", len(rows), journal)
	}
	for fqn, r := range rows {
		if r.Status != "created" {
			t.Errorf("row %s has status %q", fqn, r.Status)
		}
	}
	files := listDir(t, w.path(".alchemy", "files"))
	if len(files) != 2 {
		t.Errorf(".alchemy/files holds %v, want First's and After's", files)
	}
	requireContains(t, "plan", w.ok("plan", stack).stdout, "Plan: no changes")
	for _, name := range listDir(t, w.path(".alchemy", "lock")) {
		if name != ".guard" {
			t.Errorf("lock left: .alchemy/lock/%s", name)
		}
	}
	w.ok("destroy", stack, "--yes")
	if files := listDir(t, w.path(".alchemy", "files")); len(files) != 0 {
		t.Errorf("destroy left %v", files)
	}
}

// groupStates maps the pids of process group pgid to their state letter
// (R, S, T for stopped, ...), read from /proc; zombies are left out.
func groupStates(pgid int) map[int]string {
	out := map[int]string{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(data, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(data[i+1:]))
		if len(f) >= 3 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			out[pid] = f[0]
		}
	}
	return out
}

// waitStopped waits until every process of group pgid is stopped.
func waitStopped(t *testing.T, pgid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		all := true
		for _, st := range groupStates(pgid) {
			all = all && st == "T"
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the process group did not stop: %v", groupStates(pgid))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fileState is what snapshot records of a file.
type fileState struct {
	content string
	mtime   time.Time
	dir     bool
}

// snapshot records every file and directory under roots (content and
// modification time), to tell whether anything was written. A root that
// does not exist has nothing under it.
func snapshot(t *testing.T, roots ...string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if path == root && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			st := fileState{mtime: fi.ModTime(), dir: d.IsDir()}
			if !d.IsDir() {
				data, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				st.content = string(data)
			}
			out[path] = st
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func sameSnapshot(t *testing.T, before, after map[string]fileState) bool {
	t.Helper()
	same := true
	for p, b := range before {
		a, ok := after[p]
		switch {
		case !ok:
			t.Errorf("%s was removed", p)
			same = false
		case a != b:
			t.Errorf("%s changed: %+v -> %+v", p, b, a)
			same = false
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s was created", p)
			same = false
		}
	}
	return same
}
