package stackrun

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
)

// keyVersion changes whenever the key's inputs or the cache layout change.
const keyVersion = "alchemy-stackrun-key v1"

// keyEnv is the environment that can change what `go build` produces.
var keyEnv = []string{
	"GOOS", "GOARCH", "GO386", "GOAMD64", "GOARM", "GOARM64", "GOMIPS", "GOMIPS64",
	"GOPPC64", "GORISCV64", "GOWASM", "GOEXPERIMENT", "GOFIPS140", "GODEBUG",
	"CGO_ENABLED", "CGO_CFLAGS", "CGO_CPPFLAGS", "CGO_CXXFLAGS", "CGO_FFLAGS", "CGO_LDFLAGS",
	"CC", "CXX", "PKG_CONFIG",
	"GOFLAGS", "GOTOOLCHAIN", "GOWORK", "GO111MODULE", "GOROOT", "GOPATH", "GOENV",
}

// keyInput is what computeKey needs; Build fills it from the stack file.
type keyInput struct {
	stackAbs string            // absolute path of the stack file
	content  []byte            // its content
	modRoot  string            // directory holding the go.mod that applies
	goBin    string            // the go command that will build it
	env      map[string]string // the build environment
	flags    []string          // alchemy's own go build flags (buildFlags)
	skip     string            // a file left out of the module's walk (depsKey: the stack file)
}

// computeKey returns the cache key: a hex SHA-256 over everything that can
// change the executable, using only file metadata (no process is started).
func computeKey(in keyInput) (string, error) {
	h := sha256.New()
	w := &keyWriter{h: h, skip: in.skip}
	w.field("version", keyVersion)
	w.field("self", selfIdentity())
	w.field("platform", runtime.GOOS+"/"+runtime.GOARCH)

	// The go command: its identity stands in for GOVERSION and GOROOT.
	w.field("go", in.goBin)
	if real, err := filepath.EvalSymlinks(in.goBin); err == nil {
		w.field("go-real", real)
	}
	w.stat("go-bin", in.goBin)

	w.field("build-flags", strings.Join(in.flags, "\x00"))
	for _, k := range keyEnv {
		if v, ok := in.env[k]; ok {
			w.field("env "+k, v)
		}
	}
	if f := goEnvFile(in.env); f != "" {
		w.stat("goenv", f)
	}

	w.field("stack", in.stackAbs)
	w.bytes("stack-content", in.content)

	// The main module: go.mod's content (parsed for replace directives), then
	// every relevant file's metadata.
	w.field("modroot", in.modRoot)
	gomod, err := os.ReadFile(filepath.Join(in.modRoot, "go.mod"))
	if err != nil {
		return "", err
	}
	w.bytes("go.mod", gomod)
	if err := walkModule(w, "mod", in.modRoot); err != nil {
		return "", err
	}
	seen := map[string]bool{filepath.Clean(in.modRoot): true}
	walkDirs := func(label, base string, dirs []string) {
		for _, d := range dirs {
			if !filepath.IsAbs(d) {
				d = filepath.Join(base, d)
			}
			d = filepath.Clean(d)
			if seen[d] {
				continue
			}
			seen[d] = true
			if err := walkModule(w, label+" "+d, d); err != nil {
				// A missing replacement makes go build fail; record it and
				// let the build report the error.
				w.field(label+" missing", d)
			}
		}
	}
	walkDirs("replace", in.modRoot, localDirs(gomod, "replace"))

	// A workspace, when one applies, adds its go.work, go.work.sum and the
	// modules it uses.
	if work := findWork(filepath.Dir(in.stackAbs), in.env); work != "" {
		data, err := os.ReadFile(work)
		if err == nil {
			w.field("go.work", work)
			w.bytes("go.work-content", data)
			w.stat("go.work.sum", work+".sum")
			wdir := filepath.Dir(work)
			walkDirs("use", wdir, localDirs(data, "use"))
			walkDirs("work-replace", wdir, localDirs(data, "replace"))
		} else {
			w.field("go.work missing", work)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// keyWriter feeds length-delimited records into the hash.
type keyWriter struct {
	h    hash.Hash
	buf  []byte
	skip string // a path walkEntries leaves out
}

func (w *keyWriter) field(name, value string) {
	w.buf = append(w.buf[:0], name...)
	w.buf = append(w.buf, 0)
	w.buf = strconv.AppendInt(w.buf, int64(len(value)), 10)
	w.buf = append(w.buf, 0)
	w.buf = append(w.buf, value...)
	w.buf = append(w.buf, '\n')
	w.h.Write(w.buf)
}

func (w *keyWriter) bytes(name string, value []byte) {
	w.buf = append(w.buf[:0], name...)
	w.buf = append(w.buf, 0)
	w.buf = strconv.AppendInt(w.buf, int64(len(value)), 10)
	w.buf = append(w.buf, 0)
	w.h.Write(w.buf)
	w.h.Write(value)
	w.h.Write([]byte{'\n'})
}

// file records a file's name, size and mtime.
func (w *keyWriter) file(name string, fi os.FileInfo) {
	w.buf = append(w.buf[:0], name...)
	w.buf = append(w.buf, 0)
	w.buf = strconv.AppendInt(w.buf, fi.Size(), 10)
	w.buf = append(w.buf, 0)
	w.buf = strconv.AppendInt(w.buf, fi.ModTime().UnixNano(), 10)
	w.buf = append(w.buf, '\n')
	w.h.Write(w.buf)
}

// stat records path's size and mtime, or its absence.
func (w *keyWriter) stat(name, path string) {
	fi, err := os.Stat(path)
	if err != nil {
		w.field(name+" missing", path)
		return
	}
	w.file(name, fi)
}

// walkModule records every file under root that can change a build: the
// directories the go command skips (names starting with . or _, testdata,
// nested modules) are skipped, and so is node_modules.
func walkModule(w *keyWriter, label, root string) error {
	ents, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	w.field("tree", label)
	walkEntries(w, root, "", ents)
	return nil
}

func walkEntries(w *keyWriter, dir, rel string, ents []os.DirEntry) {
	for _, e := range ents {
		name := e.Name()
		if name == "" || name[0] == '.' || name[0] == '_' {
			continue
		}
		typ := e.Type()
		if typ.IsDir() {
			if name == "testdata" || name == "node_modules" {
				continue
			}
			sub := filepath.Join(dir, name)
			subEnts, err := os.ReadDir(sub)
			if err != nil {
				w.field("unreadable", rel+name)
				continue
			}
			if hasGoMod(subEnts) {
				// A nested module is not part of this one. (Adding or
				// removing its go.mod still changes the key: its files
				// leave or join this module's.)
				continue
			}
			walkEntries(w, sub, rel+name+"/", subEnts)
			continue
		}
		if !relevantFile(name) || (w.skip != "" && filepath.Join(dir, name) == w.skip) {
			continue
		}
		var fi os.FileInfo
		var err error
		if typ&os.ModeSymlink != 0 {
			fi, err = os.Stat(filepath.Join(dir, name))
		} else {
			fi, err = e.Info()
		}
		if err != nil {
			w.field("gone", rel+name)
			continue
		}
		if fi.IsDir() {
			continue // a symlink to a directory: the go command does not follow those either
		}
		w.file(rel+name, fi)
	}
}

func hasGoMod(ents []os.DirEntry) bool {
	for _, e := range ents {
		if e.Name() == "go.mod" && !e.IsDir() {
			return true
		}
	}
	return false
}

// relevantFile reports whether a file with this name can take part in a
// build: Go, cgo and assembly sources, syso objects, and the module files.
func relevantFile(name string) bool {
	switch name {
	case "go.mod", "go.sum", "modules.txt":
		return true
	}
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return false
	}
	switch name[i+1:] {
	case "go", "s", "S", "sx", "c", "h", "cc", "cpp", "cxx", "hh", "hpp", "hxx",
		"m", "f", "F", "for", "f90", "syso", "swig", "swigcxx":
		return true
	}
	return false
}

// findUp returns the first directory from dir upwards that holds a regular
// file named name.
func findUp(dir, name string) (string, bool) {
	for {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && !fi.IsDir() {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// findWork returns the go.work file that go build in dir would use, or "".
func findWork(dir string, env map[string]string) string {
	switch v := env["GOWORK"]; v {
	case "off":
		return ""
	case "":
		if d, ok := findUp(dir, "go.work"); ok {
			return filepath.Join(d, "go.work")
		}
		return ""
	default:
		if !filepath.IsAbs(v) {
			v = filepath.Join(dir, v)
		}
		return v
	}
}

// goEnvFile returns the go env file (`go env -w` settings) that applies.
func goEnvFile(env map[string]string) string {
	if v, ok := env["GOENV"]; ok {
		if v == "off" {
			return ""
		}
		return v
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "go", "env")
}

// goSettings returns env with, for each of keys the environment leaves
// unset, the value the go env file (`go env -w`) gives it, if any: the file
// is read once.
func goSettings(env map[string]string, keys ...string) map[string]string {
	out := maps.Clone(env)
	var data []byte
	for _, k := range keys {
		if _, ok := env[k]; ok {
			continue
		}
		if data == nil {
			file := goEnvFile(env)
			if file == "" {
				break
			}
			var err error
			if data, err = os.ReadFile(file); err != nil {
				break
			}
		}
		value := ""
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), k+"="); ok {
				value = v // the last one wins, as for go
			}
		}
		if value != "" {
			out[k] = value
		}
	}
	return out
}

// localDirs returns the local directories named by a go.mod or go.work:
// the targets of `replace X => ./dir` (verb "replace") or the `use`
// directories (verb "use"), in single-line and block form.
func localDirs(data []byte, verb string) []string {
	var dirs []string
	inBlock := false
	for _, line := range bytes.Split(data, []byte("\n")) {
		s := string(line)
		if i := strings.Index(s, "//"); i >= 0 {
			s = s[:i]
		}
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if inBlock {
			if s == ")" {
				inBlock = false
				continue
			}
		} else {
			f := strings.Fields(s)
			if len(f) == 0 || f[0] != verb {
				continue
			}
			s = strings.TrimSpace(s[len(verb):])
			if s == "(" {
				inBlock = true
				continue
			}
		}
		var target string
		if verb == "replace" {
			i := strings.Index(s, "=>")
			if i < 0 {
				continue
			}
			f := strings.Fields(s[i+2:])
			if len(f) != 1 { // "=> path version" is a module, not a directory
				continue
			}
			target = f[0]
		} else {
			f := strings.Fields(s)
			if len(f) != 1 {
				continue
			}
			target = f[0]
		}
		if uq, err := strconv.Unquote(target); err == nil {
			target = uq
		}
		if isLocalPath(target) {
			dirs = append(dirs, target)
		}
	}
	return dirs
}

// isLocalPath mirrors modfile.IsDirectoryPath.
func isLocalPath(p string) bool {
	return p == "." || p == ".." ||
		strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../") ||
		strings.HasPrefix(p, `.\`) || strings.HasPrefix(p, `..\`) ||
		strings.HasPrefix(p, "/") || filepath.IsAbs(p)
}

// selfIdentity identifies the running alchemy binary: its build info and
// the executable's size and mtime.
var selfIdentity = sync.OnceValue(func() string {
	var b strings.Builder
	if bi, ok := debug.ReadBuildInfo(); ok {
		b.WriteString(bi.GoVersion + " " + bi.Main.Path + " " + bi.Main.Version + " " + bi.Main.Sum)
		for _, s := range bi.Settings {
			if strings.HasPrefix(s.Key, "vcs.") {
				b.WriteString(" " + s.Key + "=" + s.Value)
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		if fi, err := os.Stat(exe); err == nil {
			b.WriteString(" " + exe + " " + strconv.FormatInt(fi.Size(), 10) + " " + strconv.FormatInt(fi.ModTime().UnixNano(), 10))
		}
	}
	return b.String()
})

// lookGo finds the go command on the PATH of env.
func lookGo(env map[string]string) (string, error) {
	for _, dir := range filepath.SplitList(env["PATH"]) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue // like exec.LookPath, never run a go found relative to the current directory
		}
		if p, err := exec.LookPath(filepath.Join(dir, "go")); err == nil {
			return p, nil
		}
	}
	return "", &NoGoError{}
}

// envMap turns an environment list into a map; later entries win, as in
// os/exec.
func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if i := strings.IndexByte(kv, '='); i > 0 {
			k := kv[:i]
			if runtime.GOOS == "windows" {
				k = strings.ToUpper(k)
			}
			m[k] = kv[i+1:]
		}
	}
	return m
}
