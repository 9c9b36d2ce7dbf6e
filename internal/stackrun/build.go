package stackrun

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	gobuild "go/build"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"

	"github.com/alchemy-go/alchemy/internal/atomicfile"
	"github.com/alchemy-go/alchemy/internal/stackfile"
)

// keepBinaries is how many executables are kept per stack file.
const keepBinaries = 3

// staleTemp is the age after which a leftover temp file (from a build that
// was killed) is removed.
const staleTemp = time.Hour

// Builder builds stack files into cached executables.
type Builder struct {
	CacheDir string    // default: os.UserCacheDir()/alchemy/stacks; $ALCHEMY_CACHE_DIR/stacks when that is set
	Env      []string  // environment for `go build` (default os.Environ())
	Stderr   io.Writer // gets "Building <file> ..." before a real build, and go's warnings (default os.Stderr)
}

// Build returns the path of an executable built from the stack file,
// building it only when the inputs changed. A cache hit starts no process.
func (b *Builder) Build(ctx context.Context, stackFile string) (exe string, err error) {
	r, err := b.BuildStack(ctx, stackFile)
	return r.Exe, err
}

// Built is what BuildStack did.
type Built struct {
	Exe string // the executable; "" when the build failed
	// Key is the fingerprint of the inputs the build started from, as
	// Current reports it; "" when the stack file could not be read.
	Key string
	// Cached: Current returns Exe for as long as the inputs stay as they
	// are. False when the cache did not trust what it recorded (files
	// changed while go built them): the next Build builds again.
	Cached bool
	// Relinked: built by a recipe Prepare recorded, without the go command.
	Relinked bool
}

// BuildStack is Build, saying also what it built from.
func (b *Builder) BuildStack(ctx context.Context, stackFile string) (Built, error) {
	r, err := b.buildStack(ctx, stackFile)
	var nc *needsCgoError
	if !errors.As(err, &nc) {
		return r, err
	}
	// Built with cgo off, the stack leaves out what it needs: from now on
	// it builds with cgo (Require changes the key: this builds again).
	if err := b.Require(ctx, stackFile, "cgo"); err != nil {
		return r, err
	}
	fmt.Fprintf(b.stderr(), "%s uses cgo (%s): building it with cgo (once).\n", filepath.Clean(stackFile), strings.Join(nc.pkgs, ", "))
	return b.buildStack(ctx, stackFile)
}

func (b *Builder) stderr() io.Writer {
	if b.Stderr == nil {
		return os.Stderr
	}
	return b.Stderr
}

func (b *Builder) buildStack(ctx context.Context, stackFile string) (Built, error) {
	in, err := b.inputs(stackFile)
	if err != nil {
		return Built{}, err
	}
	r := Built{Key: in.key}
	if exe, ok := lookup(in.sdir, in.key); ok {
		r.Exe, r.Cached = exe, true
		return r, nil
	}

	// Miss: build under the stack's lock, so concurrent alchemy processes
	// build once and the others find the result.
	if err := atomicfile.MkdirPrivate(in.sdir); err != nil {
		return r, fmt.Errorf("stack cache: %w", atomicfile.Elsewhere(err, "ALCHEMY_CACHE_DIR"))
	}
	lk := flock.New(filepath.Join(in.sdir, ".lock"))
	if locked, lerr := lk.TryLockContext(ctx, 25*time.Millisecond); lerr == nil && locked {
		defer lk.Unlock()
	} else if ctx.Err() != nil {
		return r, ctx.Err()
	} // else: no locking on this file system; the atomic rename keeps us safe
	if exe, ok := lookup(in.sdir, in.key); ok {
		r.Exe, r.Cached = exe, true
		return r, nil
	}
	stderr := b.stderr()
	fmt.Fprintf(stderr, "Building %s ...\n", in.display)
	spec := buildSpec{
		display: in.display, dir: in.dir, modRoot: in.modRoot, file: filepath.Base(in.abs),
		goBin: in.goBin, env: in.env, flags: in.flags, sdir: in.sdir, key: in.key, stderr: stderr, cgo: in.cgo,
	}
	var exe string
	if rc := loadRecipe(in); rc != nil {
		exe, err = relink(ctx, spec, in, rc)
		r.Relinked = err == nil
		if errors.Is(err, errRelink) {
			// go build says what is wrong, if anything is; the recipe is
			// not tried again.
			os.Remove(rc.path)
			exe, err = "", nil
		}
	}
	if exe == "" && err == nil {
		exe, err = build(ctx, spec)
	}
	if err != nil {
		return r, err
	}
	prune(in.sdir, exe)
	r.Exe = exe
	_, r.Cached = lookup(in.sdir, in.key)
	return r, nil
}

// Current reports, without building or starting any process, what Build
// would do now: key is the fingerprint of the stack's inputs as they are
// (it changes when Build would build another program), exe the cached
// executable Build would return, "" when it would build. `alchemy dev`
// compares them with BuildStack's after a deploy, to tell whether the
// program it just ran is already out of date.
func (b *Builder) Current(stackFile string) (key, exe string, err error) {
	in, err := b.inputs(stackFile)
	if err != nil {
		return "", "", err
	}
	exe, _ = lookup(in.sdir, in.key)
	return in.key, exe, nil
}

// stackInputs is what Build works from: the stack file, where it builds,
// and the cache key of everything that goes into the executable.
type stackInputs struct {
	display, abs string   // the stack file as given (cleaned), and absolute
	content      []byte   // its content, as keyed
	dir, modRoot string   // its directory and its module's root
	env          []string // the build environment
	goBin        string
	flags        []string // go build flags of our own (buildFlags)
	sdir, key    string   // the stack's cache directory and the key
	// cgo is set when alchemy turned cgo off for the build (see noCgo):
	// what a build with it on would take, to tell whether it is needed.
	cgo *gobuild.Context
}

// inputs checks the stack file and fingerprints its build inputs.
func (b *Builder) inputs(stackFile string) (*stackInputs, error) {
	in := &stackInputs{display: filepath.Clean(stackFile)}
	abs, err := filepath.Abs(stackFile)
	if err != nil {
		return nil, err
	}
	in.abs = abs
	content, err := os.ReadFile(abs)
	in.content = content
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &stackfile.NotFoundError{Path: stackFile}
		}
		if fi, serr := os.Stat(abs); serr == nil && fi.IsDir() {
			return nil, &stackfile.NotFoundError{Path: filepath.Join(stackFile, stackfile.DefaultFile)}
		}
		return nil, err
	}
	if !strings.HasSuffix(abs, ".go") {
		return nil, &NotGoFileError{File: in.display}
	}
	if !declaresStack(content) {
		return nil, &NotStackError{File: in.display}
	}
	in.dir = filepath.Dir(abs)
	modRoot, ok := findUp(in.dir, "go.mod")
	if !ok {
		return nil, &NoModuleError{File: in.display, Dir: in.dir}
	}
	in.modRoot = modRoot
	in.env = b.Env
	if in.env == nil {
		in.env = os.Environ()
	}
	em := envMap(in.env)
	if in.goBin, err = lookGo(em); err != nil {
		return nil, err
	}
	cacheRoot, err := b.cacheRoot(em)
	if err != nil {
		return nil, err
	}
	in.sdir = filepath.Join(cacheRoot, stackDirName(abs))
	features := readFeatures(in.sdir)
	settings := goSettings(em, "GOFLAGS", "CGO_ENABLED")
	in.flags = buildFlags(settings, features)
	if noCgo(settings, features) {
		in.env = append(slices.Clip(in.env), "CGO_ENABLED=0")
		in.cgo = cgoContext(em, in.flags)
		em["CGO_ENABLED"] = "0"
	}
	in.key, err = computeKey(keyInput{stackAbs: abs, content: content, modRoot: modRoot, goBin: in.goBin, env: em, flags: in.flags})
	if err != nil {
		return nil, fmt.Errorf("fingerprint %s: %w", in.display, err)
	}
	return in, nil
}

// buildFlags are the flags alchemy adds to `go build` of a stack.
//
// -ldflags=-s -w leaves out the symbol table and DWARF: the link, which is
// most of a rebuild after an edit of the stack file (`alchemy dev`), takes
// about a third less, and the executable is 30% smaller. Panics still
// print file:line stack traces (those come from the pclntab, which stays);
// what is lost is debugging the cached executable with a debugger, for
// which `go run alchemy.run.go` or `go build` of the stack file is there.
//
// -gcflags=all=-dwarf=false compiles every package without the DWARF the
// link would throw away anyway: the linker still loads it from every
// package's archive, and without it the link takes another ~20% less
// (0.93 → 0.75 s for a stack of the whole CLI). The price is paid once per
// set of dependencies: go's cache holds the packages compiled this way
// apart from the ones `go build` and `go test` make, so the first build of
// a stack after this flag came compiles its dependencies once more.
//
// A -ldflags or -gcflags in the user's GOFLAGS (the environment's, else the
// go env file's) is kept: one given on the command line would replace it.
//
// -tags=alchemy_nopg leaves the PostgreSQL state store out (the SDK links
// it otherwise, for `go run`): its driver is a fifth of a stack program
// and of its link. A stack whose state turns out to be on PostgreSQL
// says so when it runs, before it does anything, and alchemy records the
// feature (Require) and builds it in. -tags=alchemy_nos3 does the same
// for the S3 store (its client and the AWS auth provider that signs its
// requests), and -tags=alchemy_noproviders for the built-in auth
// providers a stack's resources do not bring (the aws and cloudflare
// packages link their own): a stack that names another one (a stage's
// account binding, a third-party resource, a login with no resource that
// needs one) is built with them all. The user's own -tags are kept.
//
// -tags=alchemy_child builds the program to run under the alchemy command
// (Exec): its prompts are drawn by the command, and the builder and the dev
// loop are the command's, so the program links neither the form library
// (huh, bubbletea, lipgloss) nor go/build and fsnotify. Not on Windows,
// where Exec cannot pass the program its pipes.
//
// settings is the environment with the go env file's settings (goSettings).
func buildFlags(settings map[string]string, features []string) []string {
	goflags := settings["GOFLAGS"]
	var flags []string
	if !strings.Contains(goflags, "-ldflags") {
		flags = append(flags, "-ldflags=-s -w")
	}
	if !strings.Contains(goflags, "-gcflags") {
		flags = append(flags, "-gcflags=all=-dwarf=false")
	}
	var tags []string
	for _, f := range strings.Fields(goflags) {
		if v, ok := strings.CutPrefix(strings.TrimLeft(f, "-"), "tags="); ok {
			tags = strings.Split(v, ",")
		}
	}
	if !slices.Contains(features, "postgres") {
		tags = append(tags, "alchemy_nopg")
	}
	if !slices.Contains(features, "s3") {
		tags = append(tags, "alchemy_nos3")
	}
	if !slices.Contains(features, "providers") {
		tags = append(tags, "alchemy_noproviders")
	}
	if childPipes {
		tags = append(tags, "alchemy_child")
	}
	if len(tags) > 0 {
		flags = append(flags, "-tags="+strings.Join(slices.DeleteFunc(tags, func(t string) bool { return t == "" }), ","))
	}
	return flags
}

// features are what a stack's program must link beyond the default (a
// state store; cgo), one per line in its cache directory's "features" file.
var knownFeatures = []string{"cgo", "postgres", "providers", "s3"}

// noCgo reports whether alchemy builds the stack with cgo off: unless the
// user chose (CGO_ENABLED in the environment or the go env file), or the
// stack turned out to need it. A program without cgo is linked statically
// and starts ~2.6 ms sooner (no dynamic loader, no libc start-up), which
// every command and every dev cycle pays. Whether it needs cgo is told by
// the build's go list (listEmbeds): a package outside the standard library
// with files that a build with cgo on would take (go-sqlite3 builds a stub
// that fails at run time without it). Then the stack is built again with
// cgo, and from then on (the "cgo" feature).
func noCgo(settings map[string]string, features []string) bool {
	if _, set := settings["CGO_ENABLED"]; set {
		return false
	}
	return !slices.Contains(features, "cgo")
}

// cgoContext is the build context of the stack's build with cgo on.
func cgoContext(env map[string]string, flags []string) *gobuild.Context {
	c := gobuild.Default
	c.CgoEnabled = true
	if v := env["GOOS"]; v != "" {
		c.GOOS = v
	}
	if v := env["GOARCH"]; v != "" {
		c.GOARCH = v
	}
	for _, f := range flags {
		if v, ok := strings.CutPrefix(f, "-tags="); ok {
			c.BuildTags = strings.Split(v, ",")
		}
	}
	return &c
}

// needsCgoError says a build with cgo off left out what the stack needs.
type needsCgoError struct{ pkgs []string }

func (e *needsCgoError) Error() string {
	return "the stack needs cgo (" + strings.Join(e.pkgs, ", ") + ")"
}

func readFeatures(sdir string) []string {
	data, err := os.ReadFile(filepath.Join(sdir, "features"))
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if slices.Contains(knownFeatures, l) && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

// Require records that the stack file's program must link feature (a
// stack program said it needs it), so that every later build does.
func (b *Builder) Require(ctx context.Context, stackFile, feature string) error {
	if !slices.Contains(knownFeatures, feature) {
		return fmt.Errorf("the stack program asked for %q, which alchemy does not know", feature)
	}
	in, err := b.inputs(stackFile)
	if err != nil {
		return err
	}
	if slices.Contains(readFeatures(in.sdir), feature) {
		return nil
	}
	if err := atomicfile.MkdirPrivate(in.sdir); err != nil {
		return fmt.Errorf("stack cache: %w", atomicfile.Elsewhere(err, "ALCHEMY_CACHE_DIR"))
	}
	// Two commands of the same stack may each learn of a feature at once
	// (its state on S3, a binding's provider): read, add and write under a
	// lock of its own (not the build's, held for a whole build), so neither
	// loses the other's.
	// A holder that is stopped (Ctrl-Z) keeps it: waiting ends with ctx.
	lk := flock.New(filepath.Join(in.sdir, ".features.lock"))
	if locked, err := lk.TryLockContext(ctx, 25*time.Millisecond); err == nil && locked {
		defer lk.Unlock()
	} else if ctx.Err() != nil {
		return ctx.Err()
	} // else: no locking on this file system, as for builds
	have := readFeatures(in.sdir)
	if slices.Contains(have, feature) {
		return nil
	}
	have = append(have, feature)
	slices.Sort(have)
	return atomicfile.Write(filepath.Join(in.sdir, "features"), []byte(strings.Join(have, "\n")+"\n"), 0o600)
}

// cacheRoot returns the directory that holds every stack's cache.
func (b *Builder) cacheRoot(env map[string]string) (string, error) {
	if b.CacheDir != "" {
		return filepath.Abs(b.CacheDir)
	}
	if v := env["ALCHEMY_CACHE_DIR"]; v != "" {
		return filepath.Abs(filepath.Join(v, "stacks"))
	}
	ucd, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for built stacks (%v): set ALCHEMY_CACHE_DIR", err)
	}
	return filepath.Join(ucd, "alchemy", "stacks"), nil
}

// Regexps are compiled on first use: every alchemy command links this
// package, and only builds need them.
var unsafeName = lazyRE(`[^A-Za-z0-9._-]+`)

// stackDirName is the cache directory of one stack file: its directory's
// name, for people looking at the cache, and a hash of its absolute path.
func stackDirName(abs string) string {
	sum := sha256.Sum256([]byte(abs))
	name := unsafeName().ReplaceAllString(filepath.Base(filepath.Dir(abs)), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	if name == "" || name == "." || name == ".." {
		name = "stack"
	}
	return name + "-" + hex.EncodeToString(sum[:6])
}

func exeSuffix() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}

func manifestPath(sdir, key string) string { return filepath.Join(sdir, key+".manifest") }

func exePath(sdir, key string, manifest []byte) string {
	return filepath.Join(sdir, key+"-"+manifestID(manifest)+exeSuffix())
}

// lookup returns the cached executable for key when it is there and its
// manifest still holds.
func lookup(sdir, key string) (string, bool) {
	data, err := os.ReadFile(manifestPath(sdir, key))
	if err != nil {
		return "", false
	}
	size, ok := verifyManifest(data)
	if !ok {
		return "", false
	}
	exe := exePath(sdir, key, data)
	fi, err := os.Stat(exe)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != size {
		return "", false
	}
	// Mark it recently used, so pruning keeps it. Best effort.
	now := time.Now()
	if now.Sub(fi.ModTime()) > time.Minute {
		_ = os.Chtimes(exe, now, now)
	}
	return exe, true
}

type buildSpec struct {
	display, dir, file string
	modRoot            string
	goBin              string
	env                []string
	flags              []string
	sdir, key          string
	stderr             io.Writer
	cgo                *gobuild.Context
}

// build runs go build (and go list for the embed manifest alongside it),
// then moves the executable and its manifest into the cache. Both run with
// a GOTMPDIR of this build's own, removed when it returns (gocmd.go).
func build(ctx context.Context, s buildSpec) (string, error) {
	tmp := tmpExe(s.sdir)
	defer os.Remove(tmp) // a no-op once renamed
	gotmp, err := newGoTmp(s.sdir)
	if err != nil {
		return "", err
	}
	defer removeGoTmp(gotmp)
	goCmd := goTool{bin: s.goBin, dir: s.dir, env: s.env, tmp: gotmp}

	start := time.Now()
	listCtx, cancelList := context.WithCancel(ctx)
	defer cancelList()
	type listResult struct {
		pkgs    []embedPkg
		needCgo []string
		err     error
	}
	listed := make(chan listResult, 1)
	go func() {
		pkgs, needCgo, err := listEmbeds(listCtx, goCmd, s.file, s.flags, s.cgo)
		listed <- listResult{pkgs, needCgo, err}
	}()

	var out bytes.Buffer
	args := append(append([]string{"build"}, s.flags...), "-o", tmp, s.file)
	if err := goCmd.run(ctx, &out, &out, args...); err != nil {
		if s.cgo == nil || ctx.Err() != nil {
			cancelList()
		}
		lr := <-listed
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if len(lr.needCgo) > 0 {
			// A package with only cgo files fails without it.
			return "", &needsCgoError{lr.needCgo}
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return "", fmt.Errorf("run go build: %w", err)
		}
		return "", newBuildError(s.display, s.dir, s.modRoot, out.Bytes())
	}
	lr := <-listed
	if len(lr.needCgo) > 0 {
		return "", &needsCgoError{lr.needCgo}
	}
	if out.Len() > 0 {
		s.stderr.Write(out.Bytes()) // warnings (cgo, toolchain downloads): never swallowed
	}
	fi, err := os.Stat(tmp)
	if err != nil {
		return "", fmt.Errorf("go build wrote no executable: %w", err)
	}
	return install(s, tmp, fi.Size(), makeManifest(fi.Size(), lr.pkgs, lr.err, start))
}

// tmpExe is where a build writes the executable before install moves it
// into the cache: a name prune removes once stale.
func tmpExe(sdir string) string {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	return filepath.Join(sdir, fmt.Sprintf(".tmp-%d-%s%s", os.Getpid(), hex.EncodeToString(rnd[:]), exeSuffix()))
}

// install moves a built executable of size bytes into the cache, with its
// manifest, and returns its path there.
func install(s buildSpec, tmp string, size int64, manifest []byte) (string, error) {
	exe := exePath(s.sdir, s.key, manifest)
	if err := os.Rename(tmp, exe); err != nil {
		// Windows cannot replace an executable that is running; an
		// identical one already being there is fine.
		if efi, serr := os.Stat(exe); serr != nil || efi.Size() != size {
			return "", fmt.Errorf("stack cache: %w", err)
		}
	}
	if err := atomicfile.Write(manifestPath(s.sdir, s.key), manifest, 0o600); err != nil {
		return "", fmt.Errorf("stack cache: %w", err)
	}
	return exe, nil
}

var (
	compileLine = lazyRE(`(?m)^(# |\S+\.go:\d+(:\d+)?: )`)
	moduleError = lazyRE(`no required module provides package|missing go\.sum entry|cannot find module providing package|is replaced but not required|` +
		`(?m)^go: (errors parsing|updates to go\.mod needed|inconsistent vendoring|downloading)|go\.(mod|work):\d+`)
)

func newBuildError(display, dir, modRoot string, out []byte) *BuildError {
	text := string(out)
	// The package header of a file build says nothing to a user.
	text = strings.TrimPrefix(text, "# command-line-arguments\n")
	compile := compileLine().MatchString(text) && !moduleError().MatchString(text)
	return &BuildError{File: display, Dir: dir, ModRoot: modRoot, Output: text, Compile: compile}
}

var binaryName = lazyRE(`^([0-9a-f]{32})-[0-9a-f]{16}(\.exe)?$`)

// prune keeps the newest keepBinaries executables (and keep, the one just
// built), their manifests, and removes the rest and stale temp files.
func prune(sdir, keep string) {
	ents, err := os.ReadDir(sdir)
	if err != nil {
		return
	}
	type bin struct {
		name, key string
		mtime     time.Time
	}
	var bins []bin
	now := time.Now()
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-") {
			if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) > staleTemp {
				os.Remove(filepath.Join(sdir, name))
			}
			continue
		}
		if m := binaryName().FindStringSubmatch(name); m != nil {
			fi, err := e.Info()
			if err != nil {
				continue
			}
			bins = append(bins, bin{name, m[1], fi.ModTime()})
		}
	}
	pruneGoTmps(sdir, ents, now)
	pruneRecipes(sdir, ents)
	sort.Slice(bins, func(i, j int) bool { return bins[i].mtime.After(bins[j].mtime) })
	keepKeys := map[string]bool{}
	for i, b := range bins {
		path := filepath.Join(sdir, b.name)
		if i < keepBinaries || path == keep {
			keepKeys[b.key] = true
			continue
		}
		os.Remove(path)
	}
	for _, e := range ents {
		name := e.Name()
		if key, ok := strings.CutSuffix(name, ".manifest"); ok && !keepKeys[key] {
			os.Remove(filepath.Join(sdir, name))
		}
	}
}

func lazyRE(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
