//go:build unix

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alchemy-go/alchemy/internal/testpty"
)

// A panic in the stack program names the line of the user's stack file that
// panicked (line 17 of testdata/panicky), not a frame of the runtime or the
// SDK; nothing is deployed.
func TestStackPanicNamesItsLine(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	dir := w.project(fixture("panicky"))
	r := w.mustRun(1, "plan", dir)
	want := fmt.Sprintf("declaring stack panicky: panic: assignment to entry in nil map (at %s:17)", filepath.Join(dir, "alchemy.run.go"))
	requireContains(t, "stderr", r.stderr, want)
	if exists(t, w.path(".alchemy", "state")) {
		t.Fatal("a stack that panicked wrote state")
	}
}

// Through the alchemy binary: deploy --json is one JSON document on stdout
// (jq reads its outputs when installed, encoding/json always), and
// `alchemy outputs` reads them back from state.
func TestDeployJSONAndOutputs(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	hello := w.project(example("hello"))
	r := w.ok("deploy", hello, "--yes", "--json", "--stage", "prod")
	requireContains(t, "stderr", r.stderr, "hello → prod · profile default\n")
	var doc struct {
		Command   string            `json:"command"`
		OK        bool              `json:"ok"`
		Stage     string            `json:"stage"`
		Outputs   map[string]string `json:"outputs"`
		Resources []struct {
			ID, Status string
		} `json:"resources"`
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	if err := dec.Decode(&doc); err != nil || dec.More() {
		t.Fatalf("deploy --json stdout is not one JSON document (%v):\n%s", err, r.stdout)
	}
	if doc.Command != "deploy" || !doc.OK || doc.Stage != "prod" || len(doc.Resources) != 2 || doc.Resources[0].Status != "created" ||
		len(doc.Outputs["name"]) != 8 || !strings.HasPrefix(doc.Outputs["greetingFile"], ".alchemy/files/hello-Greeting-prod-") {
		t.Fatalf("deploy --json: %+v", doc)
	}
	if jq, err := exec.LookPath("jq"); err == nil {
		cmd := exec.Command(jq, "-e", "-r", ".outputs.name")
		cmd.Stdin = strings.NewReader(r.stdout)
		out, err := cmd.Output()
		if err != nil || strings.TrimSpace(string(out)) != doc.Outputs["name"] {
			t.Errorf("deploy --json | jq .outputs.name: %q, %v", out, err)
		}
	}

	r = w.ok("outputs", "--stack", hello, "--stage", "prod", "name")
	if r.stdout != doc.Outputs["name"]+"\n" {
		t.Errorf("outputs name: %q, want %q", r.stdout, doc.Outputs["name"]+"\n")
	}
	r = w.ok("outputs", "--stack", hello, "--stage", "prod")
	requireContains(t, "stdout", r.stdout, "greetingFile = "+doc.Outputs["greetingFile"]+"\n")
	r = w.mustRun(1, "outputs", "--stack", hello, "--stage", "prod", "nope")
	requireContains(t, "stderr", r.stderr, "hello/prod has no output 'nope'. Its outputs: greetingFile, name.")

	// A stage that was never deployed: nothing to destroy, exit 0, nothing written.
	r = w.ok("destroy", hello, "--stage", "nosuchstage")
	requireContains(t, "stdout", r.stdout, "Nothing is deployed to hello/nosuchstage.")
	if exists(t, w.path(".alchemy", "state", "hello", "nosuchstage")) {
		t.Fatal("destroy of an undeployed stage created its state directory")
	}
}

// dev on a stage that is not dev_$USER asks first on a terminal (No by
// default: nothing is built or deployed), and needs --yes without one.
func TestDevAsksBeforeAnotherStage(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	hello := w.project(example("hello"))
	p := w.startPTY([]string{"ALCHEMY_STAGE=prod"}, "dev", hello)
	p.Expect("Watch and deploy every change to stage prod (from ALCHEMY_STAGE), not your dev_tester?")
	p.Send(testpty.KeyEnter)
	p.Expect("Nothing was deployed. Run `alchemy dev` without ALCHEMY_STAGE to use your stage dev_tester.")
	p.RequireExit(1)
	if exists(t, w.path(".alchemy", "state")) {
		t.Fatal("a declined dev deployed")
	}
	r := w.runEnv([]string{"ALCHEMY_STAGE=prod"}, "dev", hello)
	if r.code != 1 || !strings.Contains(r.stderr, "Re-run with --yes to watch and deploy prod") {
		t.Fatalf("dev on stage prod without a terminal or --yes: want exit 1 naming --yes; %s", r)
	}
	if exists(t, w.path(".alchemy", "state")) {
		t.Fatal("a refused dev deployed")
	}
}

// dev on a profile that does not exist asks once per session, not on every
// cycle: a stack that needs no credentials saves nothing in the profile, so
// each cycle's deploy would find it missing again.
func TestDevAsksToCreateAProfileOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	hello := w.project(example("hello"))
	p := w.startPTY([]string{"ALCHEMY_DEV_POLL=100ms"}, "dev", hello, "--profile", "brandnew")
	p.Expect("Create profile 'brandnew'?")
	p.Send("y") // huh: y answers Yes
	p.Expect("[dev] cycle 1 applied")
	afterFirst := p.Matched()
	if err := os.WriteFile(filepath.Join(hello, "notes.txt"), []byte("a change\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.Expect("[dev] changed: notes.txt")
	p.Expect("[dev] cycle 2 applied")
	if later := p.Screen()[afterFirst:]; strings.Contains(later, "Create profile") {
		t.Errorf("cycle 2 asked again to create the profile:\n%s", later)
	}
	p.Send(testpty.KeyCtrlC)
	p.RequireExit(130)
}
