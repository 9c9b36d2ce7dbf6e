package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestJudgeWritten(t *testing.T) {
	report := devWrites{Version: devWritesVersion, Wrote: []string{"/m/out/a.txt"}}
	withUnreported := report
	withUnreported.Unreported = []string{"Test.Scribe", "X.Y"}
	for _, c := range []struct {
		name              string
		written           []string
		report            devWrites
		reported, recheck bool
		want              afterDeploy
	}{
		{"nothing changed", nil, report, true, false, afterDeploy{}},
		{"only what the calls reported", []string{"/m/out/a.txt"}, report, true, false, afterDeploy{}},
		{"an edit besides", []string{"/m/notes.txt", "/m/out/a.txt"}, report, true, false,
			afterDeploy{edits: []string{"/m/notes.txt"}}},
		{"no report", []string{"/m/notes.txt", "/m/out/a.txt"}, devWrites{}, false, false,
			afterDeploy{own: []string{"/m/notes.txt", "/m/out/a.txt"}}},
		{"a provider that does not report", []string{"/m/notes.txt", "/m/out/a.txt"}, withUnreported, true, false,
			afterDeploy{own: []string{"/m/notes.txt"}, why: "Test.Scribe, X.Y may write files without saying so"}},
		{"again after deploying edits", []string{"/m/gen.txt"}, report, true, true,
			afterDeploy{own: []string{"/m/gen.txt"}, why: "changed during two deploys in a row: the stack's own code writes it"}},
		{"after deploying edits, only what the calls reported", []string{"/m/out/a.txt"}, report, true, true, afterDeploy{}},
	} {
		if got := judgeWritten(c.written, c.report, c.reported, c.recheck); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

// A report is read only when whole and of this version; one is written
// only into a file that exists.
func TestDevWritesReport(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "writes")
	for _, bad := range []string{"", "{", `{"version":2,"wrote":["/a"]}`, "null"} {
		os.WriteFile(path, []byte(bad), 0o600)
		if r, ok := readDevWrites(path); ok {
			t.Errorf("%q read as a report: %+v", bad, r)
		}
	}
	if _, ok := readDevWrites(filepath.Join(dir, "missing")); ok {
		t.Error("a missing file read as a report")
	}

	// What a stray value names is neither created nor overwritten: only
	// an existing file named like dev's, empty or holding a report.
	for name, content := range map[string]string{
		"alchemy-dev-writes-1": "",           // made below, must exist
		"bashrc":               "",           // not dev's name
		"alchemy-dev-writes-2": "export A=1", // not a report
	} {
		p := filepath.Join(dir, name)
		if name != "alchemy-dev-writes-1" {
			os.WriteFile(p, []byte(content), 0o600)
		}
		t.Setenv(devWritesEnv, p)
		w := devWritesCollector()
		if w == nil {
			t.Fatal("no collector with the variable set")
		}
		reportDevWrites(w)
		data, err := os.ReadFile(p)
		switch {
		case name == "alchemy-dev-writes-1" && !os.IsNotExist(err):
			t.Errorf("a report created %s: %v", name, err)
		case name != "alchemy-dev-writes-1" && string(data) != content:
			t.Errorf("a report overwrote %s: %q", name, data)
		}
	}
	good := filepath.Join(dir, "alchemy-dev-writes-3")
	for _, before := range []string{"", `{"version":1,"wrote":["/a/much/longer/path/than/now"],"unreported":[]}`} {
		os.WriteFile(good, []byte(before), 0o600)
		t.Setenv(devWritesEnv, good)
		reportDevWrites(devWritesCollector())
		if r, ok := readDevWrites(good); !ok || len(r.Wrote) != 0 {
			t.Errorf("after %q: %+v %v", before, r, ok)
		}
	}

	t.Setenv(devWritesEnv, "")
	if devWritesCollector() != nil {
		t.Error("a collector without the variable")
	}
}
