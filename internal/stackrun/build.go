package stackrun

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"

	"github.com/alchemy-go/alchemy/internal/atomicfile"
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
	display := filepath.Clean(stackFile)
	abs, err := filepath.Abs(stackFile)
	if err != nil {
		return "", err
	}
	content, err := os.ReadFile(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", &NotFoundError{Path: stackFile}
		}
		if fi, serr := os.Stat(abs); serr == nil && fi.IsDir() {
			return "", &NotFoundError{Path: filepath.Join(stackFile, DefaultFile)}
		}
		return "", err
	}
	if !strings.HasSuffix(abs, ".go") {
		return "", &NotGoFileError{File: display}
	}
	if !declaresStack(content) {
		return "", &NotStackError{File: display}
	}
	dir := filepath.Dir(abs)
	modRoot, ok := findUp(dir, "go.mod")
	if !ok {
		return "", &NoModuleError{File: display, Dir: dir}
	}
	env := b.Env
	if env == nil {
		env = os.Environ()
	}
	em := envMap(env)
	goBin, err := lookGo(em)
	if err != nil {
		return "", err
	}
	cacheRoot, err := b.cacheRoot(em)
	if err != nil {
		return "", err
	}
	key, err := computeKey(keyInput{stackAbs: abs, content: content, modRoot: modRoot, goBin: goBin, env: em})
	if err != nil {
		return "", fmt.Errorf("fingerprint %s: %w", display, err)
	}
	sdir := filepath.Join(cacheRoot, stackDirName(abs))
	if exe, ok := lookup(sdir, key); ok {
		return exe, nil
	}

	// Miss: build under the stack's lock, so concurrent alchemy processes
	// build once and the others find the result.
	if err := atomicfile.MkdirPrivate(sdir); err != nil {
		return "", fmt.Errorf("stack cache: %w", err)
	}
	lk := flock.New(filepath.Join(sdir, ".lock"))
	if locked, lerr := lk.TryLockContext(ctx, 25*time.Millisecond); lerr == nil && locked {
		defer lk.Unlock()
	} else if ctx.Err() != nil {
		return "", ctx.Err()
	} // else: no locking on this file system; the atomic rename keeps us safe
	if exe, ok := lookup(sdir, key); ok {
		return exe, nil
	}
	stderr := b.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	fmt.Fprintf(stderr, "Building %s ...\n", display)
	exe, err = build(ctx, buildSpec{
		display: display, dir: dir, modRoot: modRoot, file: filepath.Base(abs),
		goBin: goBin, env: env, sdir: sdir, key: key, stderr: stderr,
	})
	if err != nil {
		return "", err
	}
	prune(sdir, exe)
	return exe, nil
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
	sdir, key          string
	stderr             io.Writer
}

// build runs go build (and go list for the embed manifest alongside it),
// then moves the executable and its manifest into the cache.
func build(ctx context.Context, s buildSpec) (string, error) {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(s.sdir, fmt.Sprintf(".tmp-%d-%s%s", os.Getpid(), hex.EncodeToString(rnd[:]), exeSuffix()))
	defer os.Remove(tmp) // a no-op once renamed

	start := time.Now()
	listCtx, cancelList := context.WithCancel(ctx)
	defer cancelList()
	type listResult struct {
		pkgs []embedPkg
		err  error
	}
	listed := make(chan listResult, 1)
	go func() {
		pkgs, err := listEmbeds(listCtx, s.goBin, s.dir, s.file, s.env)
		listed <- listResult{pkgs, err}
	}()

	cmd := exec.CommandContext(ctx, s.goBin, "build", "-o", tmp, s.file)
	cmd.Dir = s.dir
	cmd.Env = s.env
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		cancelList()
		<-listed
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return "", fmt.Errorf("run go build: %w", err)
		}
		return "", newBuildError(s.display, s.dir, s.modRoot, out)
	}
	lr := <-listed
	if len(out) > 0 {
		s.stderr.Write(out) // warnings (cgo, toolchain downloads): never swallowed
	}
	fi, err := os.Stat(tmp)
	if err != nil {
		return "", fmt.Errorf("go build wrote no executable: %w", err)
	}
	manifest := makeManifest(fi.Size(), lr.pkgs, lr.err, start)
	exe := exePath(s.sdir, s.key, manifest)
	if err := os.Rename(tmp, exe); err != nil {
		// Windows cannot replace an executable that is running; an
		// identical one already being there is fine.
		if efi, serr := os.Stat(exe); serr != nil || efi.Size() != fi.Size() {
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
