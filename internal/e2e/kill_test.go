//go:build unix

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy"
)

// The big stack (testdata/big): 200 random strings and 200 files.
const (
	bigPairs = 200
	bigRows  = 2 * bigPairs
)

// bigStage is the default stage of every test's user.
const bigStage = "dev_tester"

// progress is how far a deploy of the big stack got, read from disk.
type progress struct {
	elapsed time.Duration // since the process started
	files   int           // files in .alchemy/files
	before  int           // files there when the process started
	journal bool          // the stage's state journal exists: rows are being committed
}

// killPoint describes where a SIGKILL landed.
type killPoint struct {
	progress
	killed   bool   // false: the deploy finished first
	rows     int    // state rows after the kill
	creating int    // of which in status creating
	tmps     int    // temp files left in .alchemy/files and the state directory
	built    bool   // the stack file was (re)built by this run
	result   result // set when the deploy finished first
}

func (k killPoint) String() string {
	if !k.killed {
		return fmt.Sprintf("not killed: the deploy finished first (exit %d after %v)", k.result.code, k.result.took.Round(time.Millisecond))
	}
	s := fmt.Sprintf("killed after %v with %d files, %d state rows (%d creating), %d temp files left",
		k.elapsed.Round(time.Millisecond), k.files, k.rows, k.creating, k.tmps)
	if k.built {
		s += " (while building the stack file)"
	}
	return s
}

// visibleFiles counts the files in dir that are not hidden (temp files are).
func visibleFiles(dir string) int {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			n++
		}
	}
	return n
}

func tempFiles(t *testing.T, dirs ...string) []string {
	t.Helper()
	var out []string
	for _, d := range dirs {
		for _, name := range listDir(t, d) {
			if strings.Contains(name, ".tmp-") {
				out = append(out, filepath.Join(filepath.Base(d), name))
			}
		}
	}
	return out
}

// deployAndKill starts `alchemy deploy --yes` of the big stack, w's
// project, without a terminal and SIGKILLs its whole process group
// (alchemy and the stack program) as soon as kill says so, polling the
// project every millisecond.
func deployAndKill(t *testing.T, w *world, kill func(progress) bool) killPoint {
	t.Helper()
	stateDir := w.path(".alchemy", "state", "big", bigStage)
	filesDir := w.path(".alchemy", "files")
	before := visibleFiles(filesDir)
	args := []string{"deploy", w.dir, "--yes"}
	tmp := t.TempDir() // the deploy's TMPDIR: a kill leaves nothing of alchemy's there
	cmd := w.command([]string{"TMPDIR=" + tmp}, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(runTimeout)
	finished := func(err error) killPoint {
		r := result{args: args, stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
		r.code, _ = exitCode(t, err)
		return killPoint{result: r}
	}
	for {
		select {
		case err := <-done:
			return finished(err)
		case <-deadline:
			killGroup(cmd)
			<-done
			t.Fatalf("deploy did not finish within %v", runTimeout)
		default:
		}
		p := progress{elapsed: time.Since(start), files: visibleFiles(filesDir), before: before, journal: exists(t, filepath.Join(stateDir, ".journal"))}
		if !kill(p) {
			time.Sleep(time.Millisecond)
			continue
		}
		killGroup(cmd)
		err := <-done
		if _, sigkill := exitCode(t, err); !sigkill {
			return finished(err) // it exited just before the signal
		}
		// Nothing of the group may survive: the stack program runs in
		// alchemy's process group.
		reapGroup(cmd.Process.Pid)
		gone := time.Now().Add(10 * time.Second)
		for groupAlive(cmd.Process.Pid) {
			if time.Now().After(gone) {
				t.Fatalf("a process of the killed deploy's group is still alive")
			}
			time.Sleep(5 * time.Millisecond)
		}
		k := killPoint{progress: p, killed: true, built: strings.Contains(stderr.String(), "Building ")}
		rows, _ := stateRows(t, stateDir)
		k.rows = len(rows)
		for _, r := range rows {
			if r.Status == "creating" {
				k.creating++
			}
		}
		k.tmps = len(tempFiles(t, filesDir, stateDir))
		if left, _ := filepath.Glob(filepath.Join(tmp, "alchemy-*")); len(left) > 0 {
			t.Errorf("a SIGKILLed deploy left %q in its TMPDIR", left)
		}
		return k
	}
}

// groupAlive reports whether a process of process group pgid is still
// running. Zombies do not count: an orphaned stack program killed with its
// group waits for init to reap it, which some containers' init does slowly.
// Without /proc (not Linux), any member, zombie or not, counts.
func groupAlive(pgid int) bool {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		return syscall.Kill(-pgid, 0) == nil
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...
		i := bytes.LastIndexByte(data, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(data[i+1:]))
		if len(f) >= 3 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			return true
		}
	}
	return false
}

var bigFileRE = regexp.MustCompile(`^big-(File\d{3})-dev-tester-([a-z2-7]{16})\.txt$`)

// checkBigDeployed checks a finished deploy of the big stack (w's project): every row
// created, exactly one file per File resource at the name its instance id
// gives, with the content its string gives, and nothing to do on a plan.
func checkBigDeployed(t *testing.T, w *world) {
	t.Helper()
	stateDir := w.path(".alchemy", "state", "big", bigStage)
	rows, journal := stateRows(t, stateDir)
	if journal {
		// The deploy that finished the work checkpoints; a later one that
		// finds nothing to do does not replay what a killed run journaled.
		t.Logf("the state journal is still there after the final deploy: %d rows are in their files, the rest only in .journal", countRowFiles(stateDir))
	}
	if len(rows) != bigRows {
		t.Errorf("%d state rows, want %d", len(rows), bigRows)
	}
	for fqn, r := range rows {
		if r.Status != "created" {
			t.Errorf("row %s has status %q, want created", fqn, r.Status)
		}
	}
	filesDir := w.path(".alchemy", "files")
	byResource := map[string][]string{}
	for _, name := range listDir(t, filesDir) {
		if strings.HasPrefix(name, ".") {
			continue // temp files: see destroyBig
		}
		m := bigFileRE.FindStringSubmatch(name)
		if m == nil {
			t.Errorf("unexpected file %s in .alchemy/files", name)
			continue
		}
		byResource[m[1]] = append(byResource[m[1]], name)
	}
	if len(byResource) != bigPairs {
		t.Errorf("files of %d File resources, want %d", len(byResource), bigPairs)
	}
	for i := range bigPairs {
		id := fmt.Sprintf("File%03d", i)
		names := byResource[id]
		if len(names) != 1 {
			t.Errorf("%s has %d files, want 1: %v", id, len(names), names)
			continue
		}
		row := rows[id]
		// A resumed create reuses the instance id, so the same file name.
		want := alchemy.PhysicalName("big", id, bigStage, row.InstanceID, 0, false) + ".txt"
		if names[0] != want {
			t.Errorf("%s: file %s, but its instance id %q names %s", id, names[0], row.InstanceID, want)
		}
		var attr struct{ Path string }
		_ = json.Unmarshal(row.Attr, &attr)
		if attr.Path != filepath.Join(".alchemy", "files", want) {
			t.Errorf("%s: attr path %q, want .alchemy/files/%s", id, attr.Path, want)
		}
		var str struct{ Value string }
		_ = json.Unmarshal(rows[fmt.Sprintf("Str%03d", i)].Attr, &str)
		content, err := os.ReadFile(filepath.Join(filesDir, names[0]))
		if err != nil || string(content) != fmt.Sprintf("file %d: %s\n", i, str.Value) || len(str.Value) != 12 {
			t.Errorf("%s holds %q (%v); its string is %q", id, content, err, str.Value)
		}
	}
	// What alchemy itself sees.
	r := w.ok("plan", w.dir)
	requireContains(t, "plan after the deploy completed", r.stdout, "Plan: no changes")
	r = w.ok("state", "list", "big/"+bigStage)
	if n := len(strings.Fields(r.stdout)); n != bigRows {
		t.Errorf("alchemy state list shows %d rows, want %d", n, bigRows)
	}
}

// checkOutputs checks that the deploy that completed the big stack printed
// its output. A deploy killed after its last resource was committed but
// before the stack output was saved leaves no output record, and a deploy
// with no resource to change never writes one: that is a known bug (see
// TestKnownBugs/OutputsNeverRewritten), logged here rather than failed,
// since whether a kill lands in that window is luck.
func checkOutputs(t *testing.T, r result) {
	t.Helper()
	if strings.Contains(r.stdout, "\nOutputs:\n  pairs: 200\n") {
		return
	}
	if strings.Contains(r.stdout, "Plan: no changes") && !strings.Contains(r.stdout, "Outputs:") {
		t.Logf("KNOWN BUG: the kill landed after the last resource and before the stack output was saved; the no-change deploy that followed prints no outputs and never saves them")
		return
	}
	t.Errorf("the final deploy printed no outputs:\n%s", r.stdout)
}

func countRowFiles(dir string) int {
	n := 0
	for _, name := range listDirQuiet(dir) {
		if strings.HasSuffix(name, ".json") && !strings.HasPrefix(name, ".") && name != "__stack_output__.json" {
			n++
		}
	}
	return n
}

func listDirQuiet(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// destroyBig destroys the big stack (w's project) and checks that nothing
// is left.
func destroyBig(t *testing.T, w *world) {
	t.Helper()
	r := w.ok("destroy", w.dir, "--yes")
	requireContains(t, "destroy", r.stdout, fmt.Sprintf("Done: %d succeeded, 0 failed, 0 skipped", bigRows))
	var left []string
	for _, name := range listDir(t, w.path(".alchemy", "files")) {
		if !strings.HasPrefix(name, ".") {
			left = append(left, name)
		}
	}
	if len(left) > 0 {
		t.Errorf("destroy left %d files (orphans): %v", len(left), left)
	}
	if tmps := tempFiles(t, w.path(".alchemy", "files")); len(tmps) > 0 {
		// A SIGKILL between a file's temp write and its rename leaves the
		// temp file, and nothing ever removes it.
		t.Logf("ROUGH EDGE: %d temp files of killed writes remain in .alchemy/files after destroy: %v", len(tmps), tmps)
	}
	if exists(t, w.path(".alchemy", "state", "big", bigStage)) {
		t.Errorf("destroy left the stage's state: %v", listDir(t, w.path(".alchemy", "state", "big", bigStage)))
	}
	// The stage lock of every killed deploy was reaped; only the guard file
	// of the lock directory stays.
	for _, name := range listDir(t, w.path(".alchemy", "lock")) {
		if name != ".guard" {
			t.Errorf("lock left after destroy: .alchemy/lock/%s", name)
		}
	}
	if exists(t, w.alchemyHome) {
		t.Errorf("a stack without credentials wrote to ALCHEMY_HOME: %v", listDir(t, w.alchemyHome))
	}
}

// files is a kill point: n files written, at least one of them by the
// deploy being killed (a killed deploy wrote more than its kill point saw).
func files(n int) func(progress) bool {
	return func(p progress) bool { return p.files >= n && p.files > p.before }
}

func TestKillMidDeployResumes(t *testing.T) {
	t.Parallel()
	// One project for every scenario below (they run one after the other),
	// so the stack file is built once, outside any timing. Each scenario
	// starts from a project without .alchemy (no state, lock or file) and
	// ends destroyed.
	shared := newWorld(t)
	shared.project(fixture("big"))
	shared.ok("plan", shared.dir)
	fresh := func(t *testing.T) *world {
		t.Helper()
		if err := os.RemoveAll(shared.path(".alchemy")); err != nil {
			t.Fatal(err)
		}
		return shared.with(t)
	}

	// Killed again and again as the deploy makes progress, each deploy
	// resuming what the last one left.
	t.Run("SuccessiveKills", func(t *testing.T) {
		w := fresh(t)
		killedMidway := 0
		points := []struct {
			name string
			kill func(progress) bool
		}{
			{"first state commit", func(p progress) bool { return p.journal }},
			{"1 file", files(1)},
			{"50 files", files(50)},
			{"100 files", files(100)},
			{"150 files", files(150)},
			{"199 files", files(199)},
		}
		for _, pt := range points {
			k := deployAndKill(t, w, pt.kill)
			t.Logf("kill at %s: %s", pt.name, k)
			switch {
			case k.killed && !k.built:
				killedMidway++
			case k.killed:
				// killed while building: the module changed under us
			case k.result.code != 0:
				t.Fatalf("an unkilled deploy failed: %s", k.result)
			}
		}
		if killedMidway < 4 {
			t.Errorf("only %d of %d deploys were killed midway: the kill points did not land", killedMidway, len(points))
		}
		r := w.ok("deploy", w.dir, "--yes")
		checkOutputs(t, r)
		checkBigDeployed(t, w)
		destroyBig(t, w)
	})

	// From nothing, killed once at a point in time, then deployed to
	// completion.
	t.Run("KillAtTime", func(t *testing.T) {
		for _, after := range []time.Duration{150 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond, 300 * time.Millisecond} {
			t.Run(after.String(), func(t *testing.T) {
				w := fresh(t)
				var k killPoint
				for try := 0; try < 3; try++ {
					// The stack file is rebuilt when the module changes
					// (someone editing the repository): kill a deploy, not a
					// build.
					w.ok("plan", w.dir)
					k = deployAndKill(t, w, func(p progress) bool { return p.elapsed >= after })
					t.Logf("kill at %v: %s", after, k)
					if !k.built {
						break
					}
				}
				if !k.killed && k.result.code != 0 {
					t.Fatalf("an unkilled deploy failed: %s", k.result)
				}
				if k.killed && k.journal && k.files < bigPairs {
					// The plan shows that the work is not done.
					p := w.ok("plan", w.dir)
					if strings.Contains(p.stdout, "Plan: no changes") {
						t.Errorf("plan after a kill with %d of %d files says no changes:\n%s", k.files, bigPairs, p.stdout)
					}
				}
				checkOutputs(t, w.ok("deploy", w.dir, "--yes"))
				checkBigDeployed(t, w)
				destroyBig(t, w)
			})
		}
	})
}
