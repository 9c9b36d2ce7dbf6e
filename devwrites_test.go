package alchemy_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alchemy-go/alchemy"
	_ "github.com/alchemy-go/alchemy/aws"
	_ "github.com/alchemy-go/alchemy/cloudflare"
	"github.com/alchemy-go/alchemy/internal/cli"
	"github.com/alchemy-go/alchemy/internal/engine"
	"github.com/alchemy-go/alchemy/internal/stacktest"
	"github.com/alchemy-go/alchemy/local"
)

// Every built-in resource type promises to report what it writes on this
// machine (alchemy.WriteReporter): without the promise, `alchemy dev`
// takes every file changed during a deploy that called it for the deploy's
// own, and an edit saved meanwhile is not deployed. A new provider must
// make the promise, and keep it.
func TestBuiltInProvidersReportTheirWrites(t *testing.T) {
	var types []string
	for _, p := range engine.Registered() {
		if !strings.HasPrefix(p.Type(), "AWS.") && !strings.HasPrefix(p.Type(), "Cloudflare.") && !strings.HasPrefix(p.Type(), "Local.") {
			continue // a test's own
		}
		types = append(types, p.Type())
		if w, ok := p.(engine.WriteReporter); !ok || !w.ReportsWrites() {
			t.Errorf("%s does not promise to report its local writes (alchemy.WriteReporter)", p.Type())
		}
	}
	for _, want := range []string{"AWS.Lambda.Function", "Cloudflare.Worker", "Local.File", "Local.RandomString", "Local.Sleep"} {
		if !slices.Contains(types, want) {
			t.Errorf("%s is not registered: %q", want, types)
		}
	}
}

// unsaid writes a file next to the stack and does not say so.
type unsaid struct{}

type unsaidArgs struct {
	Text string `json:"text"`
}

func (unsaid) Type() string        { return "Test.Unsaid" }
func (unsaid) ReplaceOn() []string { return nil }
func (unsaid) Create(_ context.Context, r *alchemy.Request[unsaidArgs, struct{}]) (struct{}, error) {
	return struct{}{}, os.WriteFile(r.Path("unsaid.txt"), []byte(r.Props.Text), 0o644)
}
func (p unsaid) Update(ctx context.Context, r *alchemy.Request[unsaidArgs, struct{}]) (struct{}, error) {
	return p.Create(ctx, r)
}
func (unsaid) Delete(context.Context, *alchemy.Request[unsaidArgs, struct{}]) error { return nil }

// A deploy run by `alchemy dev` (which hands it the report's file)
// reports there the files its calls wrote and the types of the resources
// whose provider was called without promising to report; every deploy
// replaces the report.
func TestDeployReportsItsLocalWritesToDev(t *testing.T) {
	dir := workdir(t)
	report := filepath.Join(t.TempDir(), "writes")
	f, err := os.Create(report)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cli.ReportDevWritesTo(f)
	t.Cleanup(func() { cli.ReportDevWritesTo(nil) })
	read := func() (r struct {
		Version    int
		Wrote      []string
		Unreported []string
	}) {
		t.Helper()
		data, err := os.ReadFile(report)
		if err != nil || json.Unmarshal(data, &r) != nil || r.Version != 1 {
			t.Fatalf("report: %q %v", data, err)
		}
		return r
	}
	file := filepath.Join(dir, "out", "dev_tester.txt")

	if r := run(t, hello("hello %s\n"), nil, "deploy", "--yes"); r.code != 0 {
		t.Fatalf("deploy: %d %s", r.code, r.errOut)
	}
	if r := read(); !onlyFile(r.Wrote, file) || len(r.Unreported) != 0 {
		t.Errorf("after the first deploy: %+v", r)
	}

	if r := run(t, hello("hello %s\n"), nil, "deploy", "--yes"); r.code != 0 {
		t.Fatalf("deploy: %d %s", r.code, r.errOut)
	}
	if r := read(); len(r.Wrote) != 0 || len(r.Unreported) != 0 {
		t.Errorf("after a deploy that changed nothing: %+v", r)
	}

	withUnsaid := stacktest.Program("hello", func(s *alchemy.Stack) {
		local.NewFile(s, "Greeting", local.FileProps{Path: alchemy.String("out/dev_tester.txt"), Content: alchemy.String("bye\n")})
		alchemy.Declare[unsaidArgs, struct{}](s, unsaid{}, "Unsaid", struct {
			Text alchemy.Input[string] `json:"text"`
		}{alchemy.String("x")})
	})
	if r := run(t, withUnsaid, nil, "deploy", "--yes"); r.code != 0 {
		t.Fatalf("deploy: %d %s", r.code, r.errOut)
	}
	if r := read(); !onlyFile(r.Wrote, file) || !slices.Equal(r.Unreported, []string{"Test.Unsaid"}) {
		t.Errorf("after a deploy that called a provider without the promise: %+v", r)
	}
	// (Name, the random string, was deleted: it writes nothing.)

	if r := run(t, withUnsaid, nil, "destroy", "--yes"); r.code != 0 {
		t.Fatalf("destroy: %d %s", r.code, r.errOut)
	}
	if r := read(); !onlyFile(r.Wrote, file) || !slices.Equal(r.Unreported, []string{"Test.Unsaid"}) {
		t.Errorf("after destroy: %+v", r)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("destroy left %s: %v", file, err)
	}
}

// onlyFile reports whether paths name file and nothing else: file itself,
// and where its directory leads when a link is on the way (macOS's /var).
func onlyFile(paths []string, file string) bool {
	resolve := func(p string) string {
		if dir, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
			return filepath.Join(dir, filepath.Base(p))
		}
		return p
	}
	if !slices.Contains(paths, file) {
		return false
	}
	for _, p := range paths {
		if resolve(p) != resolve(file) {
			return false
		}
	}
	return true
}
