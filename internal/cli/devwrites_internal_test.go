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
		"alchemy-dev-writes-1": "",                   // made below, must exist
		"bashrc":               "",                   // not dev's name
		"alchemy-dev-writes-2": "export A=1",         // not a report
		"alchemy-dev-writes-4": `{"important":true}`, // JSON, not a report
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
	// Nor through a link named like dev's file.
	target := filepath.Join(dir, "settings.json")
	os.WriteFile(target, []byte(`{"version":1}`), 0o600)
	link := filepath.Join(dir, "alchemy-dev-writes-5")
	if err := os.Symlink(target, link); err == nil {
		t.Setenv(devWritesEnv, link)
		reportDevWrites(devWritesCollector())
		if data, _ := os.ReadFile(target); string(data) != `{"version":1}` {
			t.Errorf("a report was written through a link: %q", data)
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
