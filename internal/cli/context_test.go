package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/alchemy-go/alchemy"
	cfres "github.com/alchemy-go/alchemy/cloudflare"
	"github.com/alchemy-go/alchemy/internal/cli"
	"github.com/alchemy-go/alchemy/internal/stacktest"
	"github.com/alchemy-go/alchemy/local"
)

// helloStack is the `hello` command of the scripts: a stack program run in
// the current directory with a Cloudflare KV namespace, a local file, and
// three outputs, one of them secret (its value, hello-secret-output-0001,
// must never be printed).
func helloStack() *cli.StackProgram {
	p := stacktest.Program("hello", func(s *alchemy.Stack) {
		ns := cfres.NewKVNamespace(s, "Cache", cfres.KVNamespaceProps{Title: alchemy.String("hello-cache")})
		file := local.NewFile(s, "Greeting", local.FileProps{Content: alchemy.String("hello\n")})
		s.Output("title", ns.Title)
		s.Output("greeting", file.Path)
		s.Output("token", alchemy.Secret("hello-secret-output-0001"))
	})
	wd, _ := os.Getwd()
	p.File = filepath.Join(wd, "alchemy.run.go")
	return p
}

// json FILE checks that FILE ("stdout" for the last command's) is exactly
// one JSON document, and prints its leaves as "path = value" lines, sorted,
// for stdout assertions: ok = true, outputs.title = "hello-cache",
// resources.0.status = "created".
func cmdJSON(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || neg {
		ts.Fatalf("usage: json FILE")
	}
	dec := json.NewDecoder(strings.NewReader(ts.ReadFile(args[0])))
	var doc any
	if err := dec.Decode(&doc); err != nil {
		ts.Fatalf("%s is not JSON: %v", args[0], err)
	}
	if dec.More() {
		ts.Fatalf("%s holds more than one JSON document", args[0])
	}
	var lines []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		join := func(k string) string {
			if path == "" {
				return k
			}
			return path + "." + k
		}
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				walk(join(k), e)
			}
		case []any:
			for i, e := range v {
				walk(join(fmt.Sprint(i)), e)
			}
		default:
			b, _ := json.Marshal(v)
			lines = append(lines, path+" = "+string(b))
		}
	}
	walk("", doc)
	sort.Strings(lines)
	fmt.Fprint(ts.Stdout(), strings.Join(lines, "\n")+"\n")
}

// filesStack is the `files` command of the scripts (the state store
// stories): a local file and an output, run in the current directory,
// nothing in any cloud. withState is its alchemy.WithState ("": none);
// `files-ws` declares file://ws. secretOutput adds a secret output
// (`files-secret`), whose value files-secret-0001 must never be printed.
func filesStack(withState string, secretOutput bool) *cli.StackProgram {
	var opts []alchemy.StackOption
	if withState != "" {
		opts = append(opts, alchemy.WithState(withState))
	}
	p := stacktest.Program("files", func(s *alchemy.Stack) {
		file := local.NewFile(s, "Greeting", local.FileProps{Content: alchemy.String("hello\n")})
		s.Output("greeting", file.Path)
		if secretOutput {
			s.Output("token", alchemy.Secret("files-secret-0001"))
		}
	}, opts...)
	wd, _ := os.Getwd()
	p.File = filepath.Join(wd, "alchemy.run.go")
	return p
}
