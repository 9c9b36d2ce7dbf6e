package stackrun

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	gobuild "go/build"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The manifest sits next to each cached executable and lists what the key
// cannot see: the executable's size (a truncated binary is never run) and
// the files pulled in with //go:embed, with the listings of the directories
// they are in (so a file added to an embedded directory is noticed).
//
//	alchemy-stackrun-manifest 1
//	exe <size>
//	f <size> <mtime ns> <path>
//	d <hash of the names> <path>
//	untrusted            (something changed during the build: never a hit)
const manifestHeader = "alchemy-stackrun-manifest 1"

// mtimeSlack is how far before the build started a recorded mtime must lie
// for the file to be trusted not to have changed under the build.
const mtimeSlack = time.Second

// embedPkg is one package's embedded files.
type embedPkg struct {
	Dir        string
	EmbedFiles []string
}

// listEmbeds runs `go list -deps` on the stack file and returns the
// packages with embedded files that are not immutable module downloads,
// and, when cgo is given (the build has cgo off), the packages outside the
// standard library that build differently with cgo on: files go left out
// that cgo would have taken (see cgoContext).
//
// buildFlags are the build's: its -tags decide the packages and files as
// they do for the build (a file left out by a tag is no file cgo takes).
func listEmbeds(ctx context.Context, goCmd goTool, file string, buildFlags []string, cgo *gobuild.Context) ([]embedPkg, []string, error) {
	args := []string{"list", "-deps", "-e", "-json=ImportPath,Dir,Standard,EmbedFiles,IgnoredGoFiles,Module"}
	for _, f := range buildFlags {
		if strings.HasPrefix(f, "-tags=") {
			args = append(args, f)
		}
	}
	var stdout, stderr bytes.Buffer
	if err := goCmd.run(ctx, &stdout, &stderr, append(args, file)...); err != nil {
		return nil, nil, fmt.Errorf("go list: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	out := stdout.Bytes()
	type module struct {
		Version string
		Replace *struct{ Version string }
	}
	var pkgs []embedPkg
	var needCgo []string
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath     string
			Dir            string
			Standard       bool
			EmbedFiles     []string
			IgnoredGoFiles []string
			Module         *module
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, nil, fmt.Errorf("go list: %v", err)
		}
		if p.Standard {
			continue
		}
		if cgo != nil && takesWithCgo(cgo, p.Dir, p.IgnoredGoFiles) {
			needCgo = append(needCgo, p.ImportPath)
		}
		if len(p.EmbedFiles) == 0 {
			continue
		}
		if m := p.Module; m != nil && ((m.Replace == nil && m.Version != "") || (m.Replace != nil && m.Replace.Version != "")) {
			continue // a module download: immutable, named by go.sum
		}
		pkgs = append(pkgs, embedPkg{Dir: p.Dir, EmbedFiles: p.EmbedFiles})
	}
	return pkgs, needCgo, nil
}

// takesWithCgo reports whether a build with cgo on would take one of the
// files go left out of package dir with it off.
func takesWithCgo(cgo *gobuild.Context, dir string, ignored []string) bool {
	for _, f := range ignored {
		if ok, err := cgo.MatchFile(dir, f); ok || err != nil {
			return true // unreadable: as if it did (a build with cgo costs only time)
		}
	}
	return false
}

// makeManifest records the executable's size and the embedded files'
// metadata. A file or directory whose mtime is not well before buildStart
// may have changed while go build read it, so the manifest is then marked
// untrusted. listErr (go list failed) does the same.
func makeManifest(exeSize int64, pkgs []embedPkg, listErr error, buildStart time.Time) []byte {
	var b bytes.Buffer
	b.WriteString(manifestHeader + "\n")
	fmt.Fprintf(&b, "exe %d\n", exeSize)
	trusted := listErr == nil
	limit := buildStart.Add(-mtimeSlack)
	files := map[string]bool{}
	dirs := map[string]bool{}
	for _, p := range pkgs {
		pkgDir := filepath.Clean(p.Dir)
		for _, rel := range p.EmbedFiles {
			f := filepath.Join(pkgDir, filepath.FromSlash(rel))
			files[f] = true
			for d := filepath.Dir(f); len(d) >= len(pkgDir); d = filepath.Dir(d) {
				dirs[d] = true
				if d == pkgDir || d == filepath.Dir(d) {
					break
				}
			}
		}
	}
	for _, f := range sortedKeys(files) {
		fi, err := os.Stat(f)
		if err != nil {
			trusted = false
			continue
		}
		if !fi.ModTime().Before(limit) {
			trusted = false
		}
		fmt.Fprintf(&b, "f %d %d %s\n", fi.Size(), fi.ModTime().UnixNano(), f)
	}
	for _, d := range sortedKeys(dirs) {
		fi, err := os.Stat(d)
		if err != nil {
			trusted = false
			continue
		}
		if !fi.ModTime().Before(limit) {
			trusted = false
		}
		names, err := listingHash(d)
		if err != nil {
			trusted = false
			continue
		}
		fmt.Fprintf(&b, "d %s %s\n", names, d)
	}
	if !trusted {
		b.WriteString("untrusted\n")
	}
	return b.Bytes()
}

// verifyManifest reports whether everything the manifest recorded is
// unchanged, and returns the executable size it recorded.
func verifyManifest(data []byte) (exeSize int64, ok bool) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	if !sc.Scan() || sc.Text() != manifestHeader {
		return 0, false
	}
	exeSize = -1
	for sc.Scan() {
		line := sc.Text()
		kind, rest, _ := strings.Cut(line, " ")
		switch kind {
		case "exe":
			n, err := strconv.ParseInt(rest, 10, 64)
			if err != nil {
				return 0, false
			}
			exeSize = n
		case "f":
			size, rest, _ := strings.Cut(rest, " ")
			mtime, path, _ := strings.Cut(rest, " ")
			fi, err := os.Stat(path)
			if err != nil || strconv.FormatInt(fi.Size(), 10) != size ||
				strconv.FormatInt(fi.ModTime().UnixNano(), 10) != mtime {
				return 0, false
			}
		case "d":
			names, path, _ := strings.Cut(rest, " ")
			got, err := listingHash(path)
			if err != nil || got != names {
				return 0, false
			}
		default: // "untrusted" or anything unknown
			return 0, false
		}
	}
	if sc.Err() != nil || exeSize < 0 {
		return 0, false
	}
	return exeSize, true
}

// listingHash hashes the names in dir that an embed pattern can match
// without the all: prefix (names starting with . or _ are left out, so
// editor swap files do not count).
func listingHash(dir string) (string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return "", err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		if n == "" || n[0] == '.' || n[0] == '_' {
			continue
		}
		io.WriteString(h, n)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12]), nil
}

// manifestID names the executable that goes with a manifest.
func manifestID(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
