package cli

import (
	"os"
	"reflect"
	"testing"
)

func TestJudgeWritten(t *testing.T) {
	report := devWrites{Version: devWritesVersion, Wrote: []string{"/m/out/a.txt"}}
	withUnreported := report
	withUnreported.Unreported = []string{"Test.Scribe", "X.Y"}
	gen := map[string]bool{"/m/gen.txt": true}
	for _, c := range []struct {
		name     string
		written  []string
		report   devWrites
		reported bool
		suspects map[string]bool
		chain    int
		want     afterDeploy
	}{
		{"nothing changed", nil, report, true, nil, 0, afterDeploy{}},
		{"only what the calls reported", []string{"/m/out/a.txt"}, report, true, nil, 0, afterDeploy{}},
		{"an edit besides", []string{"/m/notes.txt", "/m/out/a.txt"}, report, true, nil, 0,
			afterDeploy{edits: []string{"/m/notes.txt"}}},
		{"no report", []string{"/m/notes.txt", "/m/out/a.txt"}, devWrites{}, false, nil, 0,
			afterDeploy{own: []string{"/m/notes.txt", "/m/out/a.txt"}}},
		{"a provider that does not report", []string{"/m/notes.txt", "/m/out/a.txt"}, withUnreported, true, nil, 0,
			afterDeploy{own: []string{"/m/notes.txt"}, why: "Test.Scribe, X.Y may write files without saying so"}},
		{"a provider that does not report, in a chain", []string{"/m/notes.txt"}, withUnreported, true, gen, 1,
			afterDeploy{own: []string{"/m/notes.txt"}, why: "Test.Scribe, X.Y may write files without saying so"}},
		{"again after deploying edits", []string{"/m/gen.txt"}, report, true, gen, 1,
			afterDeploy{own: []string{"/m/gen.txt"}, why: "it changed during each of the last 2 deploys: the stack's own code writes it"}},
		{"again, and a new edit", []string{"/m/gen.txt", "/m/new.txt"}, report, true, gen, 1,
			afterDeploy{edits: []string{"/m/new.txt"}, own: []string{"/m/gen.txt"}, why: "it changed during each of the last 2 deploys: the stack's own code writes it"}},
		{"a new edit at the end of a chain", []string{"/m/new.txt"}, report, true, gen, maxChain,
			afterDeploy{own: []string{"/m/new.txt"}, why: "it changed during each of the last 4 deploys: the stack's own code writes it"}},
		{"in a chain, only what the calls reported", []string{"/m/out/a.txt"}, report, true, gen, 1, afterDeploy{}},
	} {
		if got := judgeWritten(c.written, c.report, c.reported, c.suspects, c.chain); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

// A report is read only when whole and of this version, from the start of
// the shared file whatever its offset; a deploy writes it only into the
// file dev handed over (programDevWrites), replacing what was there. What
// a stray value of the variable names is never taken (TestClaimShared).
func TestDevWritesReport(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "writes")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, bad := range []string{"", "{", `{"version":2,"wrote":["/a"]}`, "null", `{"important":true}`} {
		f.Truncate(0)
		f.WriteAt([]byte(bad), 0)
		if r, ok := readDevWrites(f); ok {
			t.Errorf("%q read as a report: %+v", bad, r)
		}
	}

	defer func(old *os.File) { programDevWrites = old }(programDevWrites)
	programDevWrites = nil
	if devWritesCollector() != nil {
		t.Error("a collector outside dev")
	}
	reportDevWrites(nil) // nothing to write to: no panic

	programDevWrites = f
	f.Truncate(0)
	f.WriteAt([]byte(`{"version":1,"wrote":["/a/much/longer/path/than/now"],"unreported":["X"]}`), 0)
	f.Seek(0, 2) // an offset past the start changes nothing
	w := devWritesCollector()
	if w == nil {
		t.Fatal("no collector in dev")
	}
	reportDevWrites(w)
	if r, ok := readDevWrites(f); !ok || len(r.Wrote) != 0 || len(r.Unreported) != 0 {
		t.Errorf("after an empty report over a longer one: %+v %v", r, ok)
	}
}
