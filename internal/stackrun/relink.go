package stackrun

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alchemy-go/alchemy/internal/atomicfile"
)

// # Relinking an edited stack file
//
// An edit of the stack file in `alchemy dev` rebuilds the stack. `go build`
// spends ~0.4 s of that before it compiles anything: it loads the module
// graph and checks the build cache for each of the few hundred packages the
// stack links, all of which are cached, and only then compiles the one
// package that changed and links. When nothing but the stack file changed
// and its imports are the same, those steps give the same answer as last
// time, so a dev session keeps a recipe (Prepare): the compile and link
// commands go would run for the stack, with their import configurations,
// taken from `go build -n` while the session is idle. The next edit runs
// just those two commands (relink), on the very bytes the cache key was
// computed from.
//
// A recipe is used only when everything it was made from still holds:
//   - the deps key matches: the cache key's inputs (the go command, the
//     environment, go.mod, go.work, every Go file of the module and of
//     local replacements, by metadata) except the stack file itself;
//   - the stack file imports exactly the same packages, and has no
//     //go:embed, //go:debug or cgo (which change go's commands);
//   - every compiled package it names is still in go's build cache.
//
// Anything else, and any failure but a compile error in the stack file,
// builds with `go build` as before. A recipe that is unreadable, of another
// version or names things we do not expect is ignored; `go build -n` output
// that is not exactly one compile of the stack and one link (a dependency
// not in the cache) makes no recipe.

// recipeVersion changes whenever the recipe's format or meaning does.
const recipeVersion = 1

// recipe is how to compile and link one stack without the go command.
type recipe struct {
	Version   int
	Imports   []string // the stack file's imports, sorted
	Dir       string   // where compile runs: the stack file's directory
	Compile   toolCmd
	Link      toolCmd
	ImportCfg string     // the compile's import configuration
	LinkCfg   string     // the link's (with the module information)
	Archives  []string   // every compiled package both name, checked before use
	Embeds    []embedPkg // what listEmbeds found, for the manifest
	// EmbedState is a manifest (makeManifest) of the files the module's
	// packages embed, as they were when go checked its cache: the
	// compiled packages hold their content, so a change means go build.
	EmbedState string

	path string // where it was read from
}

// toolCmd is a tool invocation. In Args, argSrc, argWork and argOut stand
// for the stack source, the work directory and the executable (see
// relink).
type toolCmd struct {
	Env  []string
	Args []string
}

const (
	argSrc  = "\x00SRC"
	argWork = "\x00WORK"
	argOut  = "\x00OUT"
)

// relinkable reports the stack file's imports, sorted, and whether a recipe
// may build it: no //go:embed, //go:debug or cgo, and it parses.
func relinkable(content []byte) ([]string, bool) {
	if bytes.Contains(content, []byte("go:embed")) || bytes.Contains(content, []byte("go:debug")) {
		return nil, false
	}
	f, err := parser.ParseFile(token.NewFileSet(), "", content, parser.ImportsOnly)
	if err != nil {
		return nil, false
	}
	var imports []string
	for _, imp := range f.Imports {
		p, err := strconv.Unquote(imp.Path.Value)
		if err != nil || p == "C" {
			return nil, false
		}
		imports = append(imports, p)
	}
	slices.Sort(imports)
	return slices.Compact(imports), true
}

// depsKey is the key of everything a recipe depends on: the cache key's
// inputs but the stack file's content (its imports instead) and metadata.
func depsKey(in *stackInputs, imports []string) (string, error) {
	return computeKey(keyInput{stackAbs: in.abs, content: []byte("relink imports\x00" + strings.Join(imports, "\x00")),
		modRoot: in.modRoot, goBin: in.goBin, env: envMap(in.env), flags: in.flags, skip: in.abs})
}

// recipeFor returns where the recipe for the stack as it is now lives, and
// the stack file's imports; "" when it cannot be relinked.
func recipeFor(in *stackInputs) (path string, imports []string, err error) {
	imports, ok := relinkable(in.content)
	if !ok {
		return "", nil, nil
	}
	dkey, err := depsKey(in, imports)
	if err != nil {
		return "", nil, err
	}
	return filepath.Join(in.sdir, dkey+".relink"), imports, nil
}

// loadRecipe returns the recipe for the stack as it is now, nil when there
// is none that applies.
func loadRecipe(in *stackInputs) *recipe {
	path, imports, err := recipeFor(in)
	if path == "" || err != nil {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var r recipe
	if json.Unmarshal(data, &r) != nil || r.Version != recipeVersion || !slices.Equal(r.Imports, imports) ||
		r.Dir != in.dir || len(r.Compile.Args) == 0 || len(r.Link.Args) == 0 {
		return nil
	}
	if _, ok := verifyManifest([]byte(r.EmbedState)); !ok {
		return nil // an embedded file changed: its package must be compiled again
	}
	for _, a := range append(r.Archives, r.Compile.Args[0], r.Link.Args[0]) {
		if fi, err := os.Stat(a); err != nil || !fi.Mode().IsRegular() {
			return nil // go trimmed its cache, or the toolchain moved
		}
	}
	r.path = path
	return &r
}

// Prepare makes sure the next build of stackFile after an edit that keeps
// its imports can relink instead of running `go build` (see above): it asks
// the go command what it would run, without building, and records it. It
// does nothing when a recipe for the stack as it is exists already, or when
// the stack cannot be relinked. `alchemy dev` calls it while it waits.
func (b *Builder) Prepare(ctx context.Context, stackFile string) error {
	in, err := b.inputs(stackFile)
	if err != nil {
		return err
	}
	path, imports, err := recipeFor(in)
	if path == "" || err != nil {
		return err
	}
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := atomicfile.MkdirPrivate(in.sdir); err != nil {
		return fmt.Errorf("stack cache: %w", atomicfile.Elsewhere(err, "ALCHEMY_CACHE_DIR"))
	}
	gotmp, err := newGoTmp(in.sdir)
	if err != nil {
		return err
	}
	defer removeGoTmp(gotmp)
	goCmd := goTool{bin: in.goBin, dir: in.dir, env: in.env, tmp: gotmp}

	// The files the module's packages embed, before go checks its cache
	// (which hashes them) and after: the recipe holds only if they stay.
	start := time.Now()
	embeds, _, lerr := listEmbeds(ctx, goCmd, filepath.Base(in.abs), in.flags, nil)
	if lerr != nil {
		return lerr
	}
	embedState := makeManifest(0, embeds, nil, start)
	if _, ok := verifyManifest(embedState); !ok {
		return nil // one changed just now, or is gone: not this time
	}

	// go prints the commands it would run only for what is not cached: a
	// copy of the stack file with a comment of its own is a package go
	// has never compiled. go reads it in place of the stack file.
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	src := filepath.Join(gotmp, "stack.go")
	overlay := filepath.Join(gotmp, "overlay.json")
	if err := os.WriteFile(src, append(slices.Clip(in.content), "\n// alchemy relink recipe "+hex.EncodeToString(rnd[:])+"\n"...), 0o600); err != nil {
		return err
	}
	ov, _ := json.Marshal(map[string]map[string]string{"Replace": {in.abs: src}})
	if err := os.WriteFile(overlay, ov, 0o600); err != nil {
		return err
	}
	var out, errOut bytes.Buffer
	args := append(append([]string{"build", "-n", "-overlay=" + overlay}, in.flags...), "-o", filepath.Join(gotmp, "out"), filepath.Base(in.abs))
	if err := goCmd.run(ctx, &out, &errOut, args...); err != nil {
		return fmt.Errorf("go build -n: %v", err)
	}
	r, err := parseRecipe(errOut.String(), src)
	if err != nil {
		return err
	}
	if r.Dir != in.dir {
		return fmt.Errorf("go build -n compiles in %s, not in %s", r.Dir, in.dir)
	}
	if !bytes.Equal(makeManifest(0, embeds, nil, start), embedState) {
		return nil // an embedded file changed while go looked
	}
	if again, _, err := recipeFor(in); err != nil || again != path {
		return err // the module changed while go looked: what it printed may not go with the key
	}
	r.Imports, r.Embeds, r.EmbedState = imports, embeds, string(embedState)
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o600)
}

// errNoRecipe is `go build -n` output a recipe cannot be made from.
var errNoRecipe = errors.New("no relink recipe")

// parseRecipe reads the commands `go build -n` printed for a stack whose
// source go read from src. It accepts exactly: one compile of package main
// (in a `cd`), one link, their two import configurations, and go's
// bookkeeping (mkdir, mv, rm, build ids); anything else, such as another
// package to compile, means no recipe.
func parseRecipe(text, src string) (*recipe, error) {
	r := &recipe{Version: recipeVersion}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	var heredoc *string
	var body strings.Builder
	cwd := ""
	for sc.Scan() {
		line := sc.Text()
		if heredoc != nil {
			if line == "EOF" {
				*heredoc = body.String()
				heredoc, body = nil, strings.Builder{}
				continue
			}
			body.WriteString(line)
			body.WriteByte('\n')
			continue
		}
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "mkdir -p ") ||
			strings.HasPrefix(line, "mv ") || strings.HasPrefix(line, "rm -r") ||
			strings.HasPrefix(line, "go tool buildid -w ") || line == "touch":
			continue
		case line == "cat >$WORK/b001/importcfg << 'EOF' # internal":
			heredoc = &r.ImportCfg
			continue
		case line == "cat >$WORK/b001/importcfg.link << 'EOF' # internal":
			heredoc = &r.LinkCfg
			continue
		case strings.HasPrefix(line, "cd "):
			cwd = strings.TrimPrefix(line, "cd ")
			continue
		}
		env, args, err := splitCommand(line)
		if err != nil || len(args) == 0 {
			return nil, fmt.Errorf("%w: %q: %v", errNoRecipe, line, err)
		}
		tool := strings.TrimSuffix(filepath.Base(args[0]), ".exe")
		switch {
		case tool == "compile" && r.Compile.Args == nil && slices.Contains(args, "main") && slices.Contains(args, src):
			if !filepath.IsAbs(cwd) {
				return nil, errNoRecipe
			}
			r.Dir, r.Compile = cwd, toolCmd{Env: env, Args: placeholders(args, src)}
		case tool == "link" && r.Link.Args == nil:
			r.Link = toolCmd{Env: env, Args: placeholders(args, src)}
		default:
			return nil, fmt.Errorf("%w: %q", errNoRecipe, line) // something to build besides the stack
		}
	}
	if sc.Err() != nil || heredoc != nil || r.Compile.Args == nil || r.Link.Args == nil || r.ImportCfg == "" || r.LinkCfg == "" ||
		!filepath.IsAbs(r.Compile.Args[0]) || !filepath.IsAbs(r.Link.Args[0]) {
		return nil, fmt.Errorf("%w: compile %q, link %q, %d+%d bytes of import configuration", errNoRecipe, r.Compile.Args, r.Link.Args, len(r.ImportCfg), len(r.LinkCfg))
	}
	// The link's configuration names the stack's package, in go's work
	// directory; every other package must be go's cached one (one in
	// $WORK is a package go would build first).
	const stackPkg = "=$WORK/b001/_pkg_.a"
	r.LinkCfg = strings.Replace(r.LinkCfg, "packagefile command-line-arguments"+stackPkg+"\n",
		"packagefile command-line-arguments="+argWork+"/b001/_pkg_.a\n", 1)
	for _, cfg := range []string{r.ImportCfg, r.LinkCfg} {
		for _, l := range strings.Split(cfg, "\n") {
			if rest, ok := strings.CutPrefix(l, "packagefile "); ok {
				name, file, ok := strings.Cut(rest, "=")
				if name == "command-line-arguments" && file == argWork+"/b001/_pkg_.a" && cfg == r.LinkCfg {
					continue
				}
				if !ok || !filepath.IsAbs(file) {
					return nil, fmt.Errorf("%w: %s is not built yet", errNoRecipe, name)
				}
				r.Archives = append(r.Archives, file)
			}
		}
	}
	slices.Sort(r.Archives)
	r.Archives = slices.Compact(r.Archives)
	return r, nil
}

// placeholders returns args with the source, go's work directory and the
// link's output replaced by argSrc, argWork and argOut, and without build
// ids (which name go's cache entries: the relinked executable is not one).
func placeholders(args []string, src string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-buildid" && i > 0:
			i++ // and its value
			continue
		case strings.HasPrefix(a, "-buildid="):
			continue
		case a == "-o" && i+1 < len(args) && strings.HasPrefix(args[i+1], "$WORK/b001/exe/"):
			out = append(out, a, argOut)
			i++
			continue
		}
		a = strings.ReplaceAll(a, src, argSrc)
		a = strings.ReplaceAll(a, "$WORK", argWork)
		out = append(out, a)
	}
	return out
}

// splitCommand splits a command line as the go command prints it: leading
// NAME='value' environment settings, then words, each either bare or
// quoted Go-style ("..."). It fails on anything else.
func splitCommand(line string) (env, args []string, err error) {
	for line != "" {
		var word string
		switch {
		case line[0] == ' ':
			line = line[1:]
			continue
		case line[0] == '"':
			q, qerr := strconv.QuotedPrefix(line)
			if qerr != nil {
				return nil, nil, qerr
			}
			if word, err = strconv.Unquote(q); err != nil {
				return nil, nil, err
			}
			line = line[len(q):]
		default:
			end := strings.IndexByte(line, ' ')
			if end < 0 {
				end = len(line)
			}
			word, line = line[:end], line[end:]
			if len(args) == 0 {
				if name, val, ok := strings.Cut(word, "='"); ok && !strings.ContainsAny(name, "$\"'") {
					// NAME='value', the value without quotes or spaces in it.
					if !strings.HasSuffix(val, "'") || strings.Contains(val[:len(val)-1], "'") {
						return nil, nil, errNoRecipe
					}
					env = append(env, name+"="+val[:len(val)-1])
					continue
				}
			}
			if strings.ContainsAny(word, "'\\`") {
				return nil, nil, errNoRecipe
			}
		}
		args = append(args, word)
	}
	return env, args, nil
}

// relink compiles the stack's current content and links it by the recipe
// into the cache. A compile error in the stack file is returned as the
// *BuildError `go build` would give; any other failure as errRelink, after
// which the caller builds with the go command.
func relink(ctx context.Context, s buildSpec, in *stackInputs, r *recipe) (string, error) {
	tmp := tmpExe(s.sdir)
	defer os.Remove(tmp) // a no-op once renamed
	work, err := newGoTmp(s.sdir)
	if err != nil {
		return "", err
	}
	defer removeGoTmp(work)
	start := time.Now()
	b001 := filepath.Join(work, "b001")
	src := filepath.Join(work, "stack.go")
	if err := os.MkdirAll(b001, 0o700); err != nil {
		return "", fmt.Errorf("%w: %v", errRelink, err)
	}
	for name, data := range map[string]string{src: string(in.content), filepath.Join(b001, "importcfg"): r.ImportCfg,
		filepath.Join(b001, "importcfg.link"): strings.ReplaceAll(r.LinkCfg, argWork, work)} {
		if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
			return "", fmt.Errorf("%w: %v", errRelink, err)
		}
	}
	fill := func(args []string) []string {
		out := make([]string, len(args))
		for i, a := range args {
			a = strings.ReplaceAll(a, argSrc, src)
			a = strings.ReplaceAll(a, argWork, work)
			out[i] = strings.ReplaceAll(a, argOut, tmp)
		}
		return out
	}
	var out bytes.Buffer
	if err := runTool(ctx, r.Dir, s.env, r.Compile.Env, fill(r.Compile.Args), &out); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		// What compile says about the stack file names it as go build
		// would: ./alchemy.run.go:12:3: ...
		text := strings.ReplaceAll(out.String(), src+":", "./"+filepath.Base(in.abs)+":")
		if compileErrorsOnly(text, "./"+filepath.Base(in.abs)+":") {
			return "", newBuildError(s.display, s.dir, s.modRoot, []byte(text))
		}
		return "", fmt.Errorf("%w: compile: %v", errRelink, err)
	}
	out.Reset()
	if err := runTool(ctx, r.Dir, s.env, r.Link.Env, fill(r.Link.Args), &out); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("%w: link: %v: %s", errRelink, err, strings.TrimSpace(out.String()))
	}
	fi, err := os.Stat(tmp)
	if err != nil {
		return "", fmt.Errorf("%w: link wrote no executable: %v", errRelink, err)
	}
	return install(s, tmp, fi.Size(), makeManifest(fi.Size(), r.Embeds, nil, start))
}

// errRelink is a relink that failed for a reason of its own: build with go.
var errRelink = errors.New("relink failed")

// compileErrorsOnly reports whether compile's output is only errors at
// positions in the stack file (prefix), with their indented details.
func compileErrorsOnly(text, prefix string) bool {
	seen := false
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, prefix):
			seen = true
		case strings.HasPrefix(l, "\t") && seen, l == "too many errors" && seen:
		default:
			return false
		}
	}
	return seen
}

// runTool runs a compile or link like goTool.run runs go: in a process
// group of its own, killed as a whole when ctx is cancelled.
func runTool(ctx context.Context, dir string, env, extra, args []string, out *bytes.Buffer) error {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(env[:len(env):len(env)], extra...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	isolate(cmd)
	return runIsolated(cmd)
}

// keepRecipes is how many relink recipes are kept per stack file: one per
// set of dependencies recently built.
const keepRecipes = 3

// pruneRecipes keeps the newest keepRecipes recipes.
func pruneRecipes(sdir string, ents []os.DirEntry) {
	type rec struct {
		name  string
		mtime time.Time
	}
	var recs []rec
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".relink") {
			if fi, err := e.Info(); err == nil {
				recs = append(recs, rec{e.Name(), fi.ModTime()})
			}
		}
	}
	slices.SortFunc(recs, func(a, b rec) int { return b.mtime.Compare(a.mtime) })
	for i := keepRecipes; i < len(recs); i++ {
		os.Remove(filepath.Join(sdir, recs[i].name))
	}
}
