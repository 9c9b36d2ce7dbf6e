package aws_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/aws"
	"github.com/alchemy-go/alchemy/internal/cli"
	"github.com/alchemy-go/alchemy/internal/fakes/awslambda"
	"github.com/alchemy-go/alchemy/internal/stacktest"
	"github.com/alchemy-go/alchemy/internal/state"
	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

const lambdaRole = "arn:aws:iam::123456789012:role/lambda-exec"

type fnConfig struct {
	main bool
	name string
	dir  string
	env  map[string]string
	url  bool
}

func fnStack(c *fnConfig) *cli.StackProgram {
	return stacktest.Program("lbtest", func(s *alchemy.Stack) {
		if !c.main {
			return
		}
		props := aws.LambdaFunctionProps{SourceDir: alchemy.String(c.dir), RoleArn: alchemy.String(lambdaRole),
			Environment: alchemy.V(c.env), FunctionURL: alchemy.Bool(c.url), Timeout: alchemy.Int(10),
			Tags: alchemy.V(map[string]string{"team": "a"})}
		if c.name != "" {
			props.FunctionName = alchemy.String(c.name)
		}
		f := aws.NewLambdaFunction(s, "Fn", props)
		s.Output("functionName", f.FunctionName)
		s.Output("arn", f.Arn)
		s.Output("url", f.URL)
	})
}

func startLambdaFake(t *testing.T) (*awslambda.Server, *lambda.Client) {
	t.Helper()
	srv := awslambda.Start(t)
	awsTestEnv(t, map[string]string{"AWS_ENDPOINT_URL_LAMBDA": srv.URL})
	return srv, lambda.NewFromConfig(sdkConfig(t))
}

// unzip returns the zip's files (name → content) and their modes.
func unzip(t *testing.T, data []byte) (map[string]string, map[string]os.FileMode) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("deployed code is not a zip: %v", err)
	}
	files, modes := map[string]string{}, map[string]os.FileMode{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[f.Name], modes[f.Name] = string(b), f.Mode()
	}
	return files, modes
}

// writeOps are the operations that change something.
func writeOps(ops []string) []string {
	var out []string
	for _, op := range ops {
		if !strings.HasPrefix(op, "Get") && !strings.HasPrefix(op, "List") {
			out = append(out, op)
		}
	}
	return out
}

func count(ops []string, op string) int {
	n := 0
	for _, o := range ops {
		if o == op {
			n++
		}
	}
	return n
}

func onlyFunction(t *testing.T, srv *awslambda.Server, prefix string) awslambda.Function {
	t.Helper()
	names := srv.FunctionNames()
	if len(names) != 1 || !strings.HasPrefix(names[0], prefix) {
		t.Fatalf("functions %v, want one named %s*", names, prefix)
	}
	f, _ := srv.Function(names[0])
	return f
}

func TestLambdaFunctionLifecycle(t *testing.T) {
	srv, c := startLambdaFake(t)
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(filepath.Join(src, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("bootstrap", "#!/bin/sh\necho v1\n", 0o755)
	write("lib/data.txt", "data", 0o644)
	cfg := &fnConfig{main: true, dir: src, env: map[string]string{"GREETING": "hi"}, url: true}
	const prefix = "lbtest-Fn-dev-tester-"

	// Create.
	r := mustRun(t, fnStack(cfg), "deploy", "--yes")
	f := onlyFunction(t, srv, prefix)
	files, modes := unzip(t, f.Zip)
	if files["bootstrap"] != "#!/bin/sh\necho v1\n" || files["lib/data.txt"] != "data" || len(files) != 2 {
		t.Errorf("deployed zip holds %v", files)
	}
	if modes["bootstrap"]&0o111 == 0 {
		t.Errorf("bootstrap mode %v, want executable", modes["bootstrap"])
	}
	if f.Role != lambdaRole || f.Runtime != "provided.al2023" || f.Handler != "bootstrap" || f.Timeout != 10 ||
		f.MemorySize != 128 || f.Environment["GREETING"] != "hi" {
		t.Errorf("function config %+v", f)
	}
	checkTags(t, "function", f.Tags, map[string]string{"team": "a", "alchemy::stack": "lbtest", "alchemy::stage": "dev_tester", "alchemy::id": "Fn"})
	if f.URL == nil || f.URL.AuthType != "NONE" || !strings.Contains(r.out, "url: "+f.URL.URL) {
		t.Fatalf("function URL %+v not in outputs:\n%s", f.URL, r.out)
	}
	if !strings.Contains(r.out, "functionName: "+f.Name) || !strings.Contains(r.out, "arn: "+f.Arn) {
		t.Errorf("outputs lack name/ARN:\n%s", r.out)
	}
	var actions []string
	for _, p := range f.Permissions {
		actions = append(actions, p.Action+"/"+p.Principal+"/"+p.FunctionURLAuthType)
	}
	slices.Sort(actions)
	if !slices.Equal(actions, []string{"lambda:InvokeFunction/*/", "lambda:InvokeFunctionUrl/*/NONE"}) {
		t.Errorf("permissions %v", actions)
	}
	firstURL := f.URL.URL

	// No-op: no write call.
	srv.ResetRequests()
	r = mustRun(t, fnStack(cfg), "deploy", "--yes")
	if !strings.Contains(r.out, "Plan: no changes") {
		t.Errorf("re-deploy was not a no-op:\n%s", r.out)
	}
	if w := writeOps(srv.Operations()); len(w) != 0 {
		t.Errorf("no-op deploy wrote: %v", w)
	}

	// Code change: one UpdateFunctionCode, nothing else written.
	write("bootstrap", "#!/bin/sh\necho v2\n", 0o755)
	srv.ResetRequests()
	r = mustRun(t, fnStack(cfg), "deploy", "--yes")
	if !strings.Contains(r.out, "Plan: 1 to update") {
		t.Errorf("code edit is not an update:\n%s", r.out)
	}
	if w := writeOps(srv.Operations()); !slices.Equal(w, []string{"UpdateFunctionCode"}) {
		t.Errorf("code change wrote %v, want one UpdateFunctionCode", w)
	}
	f = onlyFunction(t, srv, prefix)
	if files, _ := unzip(t, f.Zip); files["bootstrap"] != "#!/bin/sh\necho v2\n" {
		t.Errorf("code after update %v", files)
	}
	if f.URL == nil || f.URL.URL != firstURL {
		t.Errorf("URL changed by a code update: %+v", f.URL)
	}

	// Config change: one UpdateFunctionConfiguration.
	cfg.env = map[string]string{"GREETING": "ho", "MORE": "1"}
	srv.ResetRequests()
	mustRun(t, fnStack(cfg), "deploy", "--yes")
	if w := writeOps(srv.Operations()); !slices.Equal(w, []string{"UpdateFunctionConfiguration"}) {
		t.Errorf("env change wrote %v, want one UpdateFunctionConfiguration", w)
	}
	if f = onlyFunction(t, srv, prefix); f.Environment["GREETING"] != "ho" || f.Environment["MORE"] != "1" {
		t.Errorf("env after update %v", f.Environment)
	}

	// URL off: URL config and public statements gone.
	cfg.url = false
	r = mustRun(t, fnStack(cfg), "deploy", "--yes")
	if f = onlyFunction(t, srv, prefix); f.URL != nil || len(f.Permissions) != 0 {
		t.Errorf("after URL off: URL %+v, permissions %+v", f.URL, f.Permissions)
	}
	if strings.Contains(r.out, "lambda-url") {
		t.Errorf("outputs still show a URL:\n%s", r.out)
	}

	// Replace by name.
	cfg.name = "lbtest-explicit"
	r = mustRun(t, fnStack(cfg), "deploy", "--yes")
	if !strings.Contains(r.out, "Plan: 1 to replace") {
		t.Errorf("name change is not a replace:\n%s", r.out)
	}
	if names := srv.FunctionNames(); !slices.Equal(names, []string{"lbtest-explicit"}) {
		t.Fatalf("functions after replace: %v", names)
	}
	if !strings.Contains(r.out, "functionName: lbtest-explicit") {
		t.Errorf("outputs after replace:\n%s", r.out)
	}

	// Removal from the stack deletes it.
	cfg.main = false
	mustRun(t, fnStack(cfg), "deploy", "--yes")
	if names := srv.FunctionNames(); len(names) != 0 {
		t.Fatalf("functions after removal: %v", names)
	}

	// Destroy after the function was deleted behind alchemy's back.
	cfg.main = true
	mustRun(t, fnStack(cfg), "deploy", "--yes")
	if _, err := c.DeleteFunction(context.Background(), &lambda.DeleteFunctionInput{FunctionName: sdkaws.String("lbtest-explicit")}); err != nil {
		t.Fatal(err)
	}
	mustRun(t, fnStack(cfg), "destroy", "--yes")
	if names := srv.FunctionNames(); len(names) != 0 {
		t.Fatalf("functions after destroy: %v", names)
	}
	if _, err := os.Stat(filepath.Join(".alchemy", "state", "lbtest", "dev_tester")); !os.IsNotExist(err) {
		t.Fatalf("destroy left state: %v", err)
	}
}

// A function with the chosen name that is someone else's is refused
// without --adopt, cleaning up the failed create leaves it alone, and
// --adopt takes it over.
func TestLambdaFunctionOfSomeoneElse(t *testing.T) {
	srv, c := startLambdaFake(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "bootstrap"), []byte("ours"), 0o755); err != nil {
		t.Fatal(err)
	}
	var theirs bytes.Buffer
	zw := zip.NewWriter(&theirs)
	w, _ := zw.Create("bootstrap")
	io.WriteString(w, "theirs")
	zw.Close()
	name := "lbtest-theirs"
	if _, err := c.CreateFunction(context.Background(), &lambda.CreateFunctionInput{FunctionName: &name, Role: sdkaws.String(lambdaRole),
		Handler: sdkaws.String("bootstrap"), Runtime: types.RuntimeProvidedal2023, Code: &types.FunctionCode{ZipFile: theirs.Bytes()},
		Tags: map[string]string{"owner": "someone"}}); err != nil {
		t.Fatal(err)
	}
	cfg := &fnConfig{main: true, name: name, dir: src}
	srv.ResetRequests()
	r := run(t, fnStack(cfg), "deploy", "--yes")
	wantRefused(t, r, "Fn", "AWS.Lambda.Function", "function lbtest-theirs", "")
	if w := writeOps(srv.Operations()); len(w) != 0 {
		t.Errorf("refused deploy wrote %v", w)
	}
	wantContains(t, mustRun(t, fnStack(cfg), "plan"), "Plan: 1 to create")
	if r := run(t, fnStack(cfg), "destroy", "--yes"); r.code != 0 {
		t.Fatalf("destroy: %d %s", r.code, r.errOut)
	}
	f, ok := srv.Function(name)
	if !ok {
		t.Fatal("someone else's function was deleted")
	}
	if files, _ := unzip(t, f.Zip); files["bootstrap"] != "theirs" {
		t.Errorf("someone else's code changed: %v", files)
	}

	mustRun(t, fnStack(cfg), "deploy", "--yes", "--adopt")
	wantContains(t, mustRun(t, fnStack(cfg), "plan"), "Plan: no changes")
	f, _ = srv.Function(name)
	if files, _ := unzip(t, f.Zip); files["bootstrap"] != "ours" {
		t.Errorf("adopted function's code: %v", files)
	}
	checkTags(t, "adopted", f.Tags, map[string]string{"alchemy::id": "Fn", "alchemy::stack": "lbtest", "team": "a", "owner": ""})
	if f.Timeout != 10 {
		t.Errorf("adopted function's timeout %d", f.Timeout)
	}
	mustRun(t, fnStack(cfg), "destroy", "--yes")
	if names := srv.FunctionNames(); len(names) != 0 {
		t.Fatalf("functions after destroy: %v", names)
	}
}

// A relative sourceDir is relative to the stack file's directory, not to
// the directory alchemy runs in, and stays relative in state.
func TestLambdaFunctionRelativeSourceDir(t *testing.T) {
	srv, _ := startLambdaFake(t)
	stackDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(stackDir, "fn"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stackDir, "fn", "bootstrap"), []byte("from the stack dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	prog := fnStack(&fnConfig{main: true, dir: "fn"})
	prog.File = filepath.Join(stackDir, "alchemy.run.go")
	mustRun(t, prog, "deploy", "--yes")
	f := onlyFunction(t, srv, "lbtest-Fn-dev-tester-")
	if files, _ := unzip(t, f.Zip); files["bootstrap"] != "from the stack dir" {
		t.Errorf("deployed code %v", files)
	}
	row, err := state.NewLocal(filepath.Join(stackDir, ".alchemy", "state")).Get(context.Background(), "lbtest", testStage, "Fn")
	if err != nil || row == nil {
		t.Fatalf("row: %v %v", row, err)
	}
	var props map[string]any
	if err := json.Unmarshal(row.Props, &props); err != nil || props["sourceDir"] != "fn" {
		t.Errorf("props in state: %s (%v)", row.Props, err)
	}
	wantContains(t, mustRun(t, prog, "plan"), "Plan: no changes")
	mustRun(t, prog, "destroy", "--yes")
}

// A sourceDir that cannot be read fails the plan, naming the function,
// before anything is called.
func TestLambdaFunctionUnreadableSourceDir(t *testing.T) {
	srv, _ := startLambdaFake(t)
	prog := fnStack(&fnConfig{main: true, dir: "no-such-dir"})
	for _, cmd := range [][]string{{"plan"}, {"deploy", "--yes"}} {
		r := run(t, prog, cmd...)
		if r.code == 0 || !strings.Contains(r.errOut, "Fn: sourceDir: ") || !strings.Contains(r.errOut, "no-such-dir") {
			t.Errorf("%v with a missing sourceDir: exit %d\n%s\n%s", cmd, r.code, r.out, r.errOut)
		}
	}
	if ops := srv.Operations(); len(ops) != 0 {
		t.Errorf("calls made: %v", ops)
	}
}

// A function stamped by another stage of the same stack is refused, naming
// that owner. A create interrupted after CreateFunction (its tags removed
// since, behind alchemy's back) is resumed from its claimed row: taken
// over, tagged, given our code, and its URL the public-access statements.
func TestLambdaFunctionOtherStageAndInterruptedCreate(t *testing.T) {
	srv, c := startLambdaFake(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "bootstrap"), []byte("ours"), 0o755); err != nil {
		t.Fatal(err)
	}
	var theirs bytes.Buffer
	zw := zip.NewWriter(&theirs)
	w, _ := zw.Create("bootstrap")
	io.WriteString(w, "theirs")
	zw.Close()
	create := func(name string, tags map[string]string) {
		t.Helper()
		if _, err := c.CreateFunction(context.Background(), &lambda.CreateFunctionInput{FunctionName: &name, Role: sdkaws.String(lambdaRole),
			Handler: sdkaws.String("bootstrap"), Runtime: types.RuntimeProvidedal2023, Code: &types.FunctionCode{ZipFile: theirs.Bytes()},
			Tags: tags}); err != nil {
			t.Fatal(err)
		}
	}

	prod := map[string]string{"alchemy::stack": "lbtest", "alchemy::stage": "prod", "alchemy::id": "Fn"}
	create("lbtest-prod", prod)
	cfg := &fnConfig{main: true, name: "lbtest-prod", dir: src}
	srv.ResetRequests()
	wantRefused(t, run(t, fnStack(cfg), "deploy", "--yes"), "Fn", "AWS.Lambda.Function", "function lbtest-prod", "lbtest/prod/Fn")
	if w := writeOps(srv.Operations()); len(w) != 0 {
		t.Errorf("refused deploy wrote %v", w)
	}
	if f, _ := srv.Function("lbtest-prod"); !maps.Equal(f.Tags, prod) {
		t.Errorf("the other stage's function was retagged: %v", f.Tags)
	}

	create("lbtest-claimed", nil)
	// With a URL but not the statements that make it public.
	if _, err := c.CreateFunctionUrlConfig(context.Background(), &lambda.CreateFunctionUrlConfigInput{FunctionName: sdkaws.String("lbtest-claimed"),
		AuthType: types.FunctionUrlAuthTypeNone}); err != nil {
		t.Fatal(err)
	}
	putRow(t, "lbtest", interruptedRow("AWS.Lambda.Function", "Fn", map[string]any{"functionName": "lbtest-claimed"}, true))
	cfg.name, cfg.url = "lbtest-claimed", true
	r := mustRun(t, fnStack(cfg), "deploy", "--yes")
	wantContains(t, r, "function lbtest-claimed is the one an interrupted create of this resource made: taking it over")
	f, _ := srv.Function("lbtest-claimed")
	if files, _ := unzip(t, f.Zip); files["bootstrap"] != "ours" {
		t.Errorf("resumed function's code: %v", files)
	}
	checkTags(t, "resumed", f.Tags, map[string]string{"alchemy::id": "Fn", "alchemy::stage": "dev_tester", "team": "a"})
	if f.URL == nil || len(f.Permissions) != 2 {
		t.Errorf("resumed function's URL %+v, permissions %+v", f.URL, f.Permissions)
	}
	mustRun(t, fnStack(cfg), "destroy", "--yes")
	if names := srv.FunctionNames(); !slices.Equal(names, []string{"lbtest-prod"}) {
		t.Fatalf("functions after destroy: %v", names)
	}
}
