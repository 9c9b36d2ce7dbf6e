package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"text/template"

	"github.com/spf13/cobra"

	"github.com/alchemy-go/alchemy/internal/stackfile"
)

// InitOptions are the inputs of `alchemy init`.
type InitOptions struct {
	Dir    string // where the module goes (created when missing)
	Module string // module path; default: from the directory's name
	SDK    string // a local checkout of the SDK to replace the module with; default $ALCHEMY_SDK_DIR
	// Version is the SDK version to require when SDK is empty; default the
	// version this binary was built from (stackfile.SDKVersion).
	Version string
}

// sdkGoVersion is the go directive of the SDK's own go.mod: a module that
// requires the SDK needs at least this much Go, and writing it (rather than
// the version of whichever toolchain built this binary) asks for no newer Go
// than the SDK does. A test keeps it equal to the repository's go.mod.
const sdkGoVersion = "1.26.0"

func NewCmdInit(f *Factory) *cobra.Command {
	o := &InitOptions{}
	cmd := &cobra.Command{
		Use:   "init [dir]",
		Short: "Create a Go module with a stack file, ready for go mod tidy and alchemy deploy",
		Long: `Create a Go module for a stack in dir (default: the current directory):

  go.mod          requires the alchemy SDK (the version this alchemy was built from),
                  or with --sdk replaces it with a local checkout
  alchemy.run.go  a small working stack (two local resources, no cloud account)
  alchemy.go      keeps the SDK in go.mod through go mod tidy (see below)
  .gitignore      ignores .alchemy/, where state is kept

alchemy.run.go is //go:build ignore, so that it stays out of go build ./..., and go mod
tidy never reads such files: without alchemy.go (//go:build tools, importing the SDK) tidy
would drop the SDK from go.mod. List there the SDK packages your stack imports.

Nothing is overwritten: when any of these files exists, init lists them and writes nothing.
It runs nothing either; it prints the next steps.`,
		Example: `  alchemy init hello && cd hello && go mod tidy && alchemy deploy
  alchemy init --sdk ~/src/alchemy     # before the SDK is published: use a local checkout
  ALCHEMY_SDK_DIR=~/src/alchemy alchemy init infra`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.Dir = "."
			if len(args) == 1 {
				o.Dir = args[0]
			}
			if !c.Flags().Changed("sdk") {
				o.SDK = os.Getenv("ALCHEMY_SDK_DIR")
			}
			return initRun(f, o)
		},
	}
	cmd.Flags().StringVar(&o.SDK, "sdk", "", "Use the SDK checkout at this path (a replace directive), e.g. before the SDK is published (default $ALCHEMY_SDK_DIR)")
	cmd.Flags().StringVar(&o.Module, "module", "", "Module path (default: the directory's name)")
	return cmd
}

// initFile is one file init writes.
type initFile struct {
	name    string
	content []byte
}

func initRun(f *Factory, o *InitOptions) error {
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}
	module := o.Module
	if module == "" {
		module = moduleFromDir(dir)
	}
	data := initData{Module: module, Stack: stackName(module), GoVersion: sdkGoVersion, SDKModule: stackfile.SDKModule}
	switch {
	case o.SDK != "":
		if data.Replace, err = sdkCheckout(o.SDK); err != nil {
			return err
		}
		data.Version = "v0.0.0" // any version: the replace decides
	case o.Version != "":
		data.Version = o.Version
	default:
		if data.Version = stackfile.SDKVersion(); data.Version == "" {
			return errors.New("this alchemy was built from a source tree, not a release, so there is no SDK version to require.\n" +
				"Point init at that checkout instead: alchemy init --sdk /path/to/alchemy (or set ALCHEMY_SDK_DIR)")
		}
	}
	files, err := renderInitFiles(data)
	if err != nil {
		return err
	}

	var existing []string
	for _, fl := range files {
		if _, err := os.Lstat(filepath.Join(dir, fl.name)); err == nil {
			existing = append(existing, filepath.Join(o.Dir, fl.name))
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if len(existing) > 0 {
		return fmt.Errorf("alchemy init writes nothing: these files exist already:\n  %s\n"+
			"Move them away, or run alchemy init in another directory: alchemy init path/to/new-dir", strings.Join(existing, "\n  "))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var written []string
	for _, fl := range files {
		if err := writeNew(filepath.Join(dir, fl.name), fl.content); err != nil {
			// All or nothing: a half-made module would only confuse a re-run.
			for _, w := range written {
				os.Remove(w)
			}
			return fmt.Errorf("alchemy init: %w (nothing was left behind)", err)
		}
		written = append(written, filepath.Join(dir, fl.name))
	}

	f.IO.Printf("Created a stack module %s in %s:\n", module, o.Dir)
	for _, fl := range files {
		f.IO.Printf("  %s\n", fl.name)
	}
	f.IO.Printf("\nNext steps:\n")
	if filepath.Clean(o.Dir) != "." {
		f.IO.Printf("  cd %s\n", o.Dir)
	}
	f.IO.Printf("  go mod tidy        # fetches the SDK's dependencies and writes go.sum\n")
	f.IO.Printf("  alchemy plan       # shows what deploy would do\n")
	f.IO.Printf("  alchemy deploy\n")
	return nil
}

// writeNew creates path with content, failing if it exists (O_EXCL: a file
// that appeared since the check is not overwritten either).
func writeNew(path string, content []byte) error {
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := fh.Write(content); err != nil {
		fh.Close()
		os.Remove(path)
		return err
	}
	if err := fh.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// sdkCheckout checks that dir is a checkout of the SDK module and returns its
// absolute path, for the replace directive.
func sdkCheckout(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	gomod, err := os.ReadFile(filepath.Join(abs, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("--sdk %s is not a checkout of %s: %w", dir, stackfile.SDKModule, err)
	}
	if m := modulePath().FindSubmatch(gomod); m == nil || string(m[1]) != stackfile.SDKModule {
		return "", fmt.Errorf("--sdk %s is not a checkout of %s: its go.mod declares another module", dir, stackfile.SDKModule)
	}
	return abs, nil
}

var (
	// Compiled on first use: `alchemy init` only, not every start-up.
	modulePath  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)^module\s+"?([^\s"]+)"?`) })
	notInModule = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^A-Za-z0-9._~-]+`) })
)

// moduleFromDir makes a module path of a directory's name: a single path
// element (no dot, so the go command never tries to fetch it).
func moduleFromDir(dir string) string {
	name := strings.Trim(notInModule().ReplaceAllString(strings.ToLower(filepath.Base(dir)), "-"), "-._~")
	if name == "" {
		return "stack"
	}
	return name
}

// stackName is the stack's name: the module path's last element.
func stackName(module string) string {
	return module[strings.LastIndex(module, "/")+1:]
}

// modQuote quotes a path for go.mod when it needs it (spaces, quotes), as
// the go command itself does.
func modQuote(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\r\n\"'`\\,;()[]{}") {
		return strconv.Quote(s)
	}
	return s
}

type initData struct {
	Module, Stack, GoVersion, SDKModule string
	Version                             string
	Replace                             string // absolute path of a local SDK checkout, or ""
}

func renderInitFiles(d initData) ([]initFile, error) {
	var files []initFile
	for _, t := range []struct{ name, text string }{
		{"go.mod", initGoMod},
		{"alchemy.run.go", initStack},
		{"alchemy.go", initTools},
		{".gitignore", ".alchemy/\n"},
	} {
		var b bytes.Buffer
		if err := template.Must(template.New(t.name).Funcs(template.FuncMap{"modQuote": modQuote}).Parse(t.text)).Execute(&b, d); err != nil {
			return nil, err
		}
		files = append(files, initFile{t.name, b.Bytes()})
	}
	return files, nil
}

const initGoMod = `module {{.Module}}

go {{.GoVersion}}

require {{.SDKModule}} {{.Version}}
{{if .Replace}}
// A local checkout of the SDK, until the version above is published.
replace {{.SDKModule}} => {{modQuote .Replace}}
{{end}}`

const initStack = `//go:build ignore

// The {{.Stack}} stack: two local resources, no cloud account needed. The file's
// content reads the random string's value, so the file depends on it and is
// created after it.
//
//	alchemy plan      (or: go run alchemy.run.go plan)
//	alchemy deploy
package main

import (
	"{{.SDKModule}}"
	"{{.SDKModule}}/local"
)

func main() {
	alchemy.Run({{printf "%q" .Stack}}, func(s *alchemy.Stack) {
		name := local.NewRandomString(s, "Name", local.RandomStringProps{
			Length:  alchemy.Int(8),
			Charset: alchemy.String("abcdefghijklmnopqrstuvwxyz"),
		})
		greeting := local.NewFile(s, "Greeting", local.FileProps{
			Content: alchemy.Sprintf("Hello from stage %s, %s!\n", s.Stage(), name.Value),
		})
		s.Output("name", name.Value)
		s.Output("greetingFile", greeting.Path)
	})
}
`

const initTools = `//go:build tools

// alchemy.run.go is //go:build ignore, and go mod tidy never reads such files:
// this file imports the SDK packages the stack uses so that tidy keeps them in
// go.mod and go.sum. Add here any other SDK package alchemy.run.go imports
// (for example {{.SDKModule}}/cloudflare). The "tools" tag is never set, so
// this file takes no part in any build.
package main

import (
	_ "{{.SDKModule}}"
	_ "{{.SDKModule}}/local"
)
`
