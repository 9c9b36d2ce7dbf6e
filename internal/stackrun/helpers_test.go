//go:build unix

package stackrun

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// roleEnv makes this test binary play a part in the Exec tests instead of
// running the tests (see TestMain).
const roleEnv = "ALCHEMY_STACKRUN_TEST_ROLE"

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "":
		os.Exit(m.Run())
	case "exec":
		// Stands in for the alchemy binary: Exec this same binary as the
		// stack, with our arguments.
		code, err := Exec(context.Background(), os.Args[0], os.Args[1:], []string{
			roleEnv + "=" + os.Getenv("ALCHEMY_TEST_CHILD_ROLE"),
			"ALCHEMY_TEST_X=from-extra-env",
		}, nil)
		fmt.Printf("exec returned code=%d err=%v\n", code, err)
		os.Exit(code)
	case "child":
		// Stands in for a stack: report args and env, exit as told.
		for _, a := range os.Args[1:] {
			fmt.Printf("arg=%q\n", a)
		}
		fmt.Printf("X=%s\n", os.Getenv("ALCHEMY_TEST_X"))
		fmt.Printf("INHERITED=%s\n", os.Getenv("ALCHEMY_TEST_INHERITED"))
		var code int
		fmt.Sscan(os.Getenv("ALCHEMY_TEST_EXIT"), &code)
		os.Exit(code)
	case "sigchild":
		// A stack handling Ctrl-C: on the first SIGINT (or SIGTERM) it
		// finishes its "in-flight work" (300 ms, counting any further
		// signals) and exits 130 (143 for SIGTERM).
		sigs := make(chan os.Signal, 16)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
		fmt.Println("ready")
		first := <-sigs
		n := 1
		deadline := time.After(300 * time.Millisecond)
	wait:
		for {
			select {
			case <-sigs:
				n++
			case <-deadline:
				break wait
			}
		}
		fmt.Printf("signals=%d first=%v\n", n, first)
		if first == syscall.SIGTERM {
			os.Exit(143)
		}
		os.Exit(130)
	case "selfkill":
		p, _ := os.FindProcess(os.Getpid())
		p.Signal(syscall.SIGKILL)
		time.Sleep(10 * time.Second)
		os.Exit(0)
	default:
		fmt.Fprintln(os.Stderr, "unknown role", os.Getenv(roleEnv))
		os.Exit(2)
	}
}

// goEnv is a build environment whose `go` is a wrapper that logs every
// invocation and runs the real go.
type goEnv struct {
	env   []string
	log   string
	cache string
}

var realGo = func() string {
	p, err := exec.LookPath("go")
	if err != nil {
		return ""
	}
	return p
}()

func newGoEnv(t *testing.T) *goEnv {
	t.Helper()
	if realGo == "" {
		t.Skip("go not on PATH")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "go.log")
	script := fmt.Sprintf("#!/bin/sh\necho \"$*\" >> '%s'\nexec '%s' \"$@\"\n", log, realGo)
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k == "PATH" || k == "GOTOOLCHAIN" || k == "GOWORK" || k == "ALCHEMY_CACHE_DIR" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "GOTOOLCHAIN=local")
	return &goEnv{env: env, log: log, cache: filepath.Join(dir, "cache")}
}

// builder returns a Builder on this environment, with progress in buf.
func (g *goEnv) builder(buf *bytes.Buffer) *Builder {
	return &Builder{CacheDir: g.cache, Env: g.env, Stderr: buf}
}

// calls returns the go invocations so far.
func (g *goEnv) calls(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(g.log)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(data), "\n"), "\n")
}

// builds counts the go build invocations so far.
func (g *goEnv) builds(t *testing.T) int {
	n := 0
	for _, c := range g.calls(t) {
		if strings.HasPrefix(c, "build ") {
			n++
		}
	}
	return n
}

// writeFiles writes files (slash paths relative to dir), creating parents.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// stackSource is a stack file stand-in: a plain program (alchemy.Run does
// not exist yet) that mentions alchemy.Run( in a comment and prints body.
func stackSource(imports, body string) string {
	return `//go:build ignore

// A stand-in for a stack, which would call alchemy.Run("name", func(s *alchemy.Stack) { ... }).
package main

import (
	"fmt"
	"os"
` + imports + `
)

// alchemy stands in for the SDK package, so the file calls alchemy.Run.
var alchemy = struct{ Run func(string) }{Run: func(string) {}}

func main() {
	alchemy.Run("stand-in")
	_ = os.Args
	fmt.Println(` + body + `)
}
`
}

// run runs exe and returns its trimmed stdout.
func run(t *testing.T, exe string, args ...string) string {
	t.Helper()
	out, err := exec.Command(exe, args...).Output()
	if err != nil {
		t.Fatalf("run %s: %v", exe, err)
	}
	return strings.TrimSpace(string(out))
}

// backdate sets the mtime of paths to now-age.
func backdate(t *testing.T, age time.Duration, paths ...string) {
	t.Helper()
	when := time.Now().Add(-age)
	for _, p := range paths {
		if err := os.Chtimes(p, when, when); err != nil {
			t.Fatal(err)
		}
	}
}
