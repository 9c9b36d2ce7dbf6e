package testpeers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gofrs/flock"
)

// The Go test servers (OAuth on fosite, S3 on gofakes3, a chromedp browser
// driver) are programs of the nested module <repo>/testservers, so that
// their dependencies are not requirements of the SDK module and never reach
// a user's go.sum. Tests run them as peers, like the npm ones. They are
// built once per content: the binaries are cached under the user cache
// directory, keyed by a hash of the module's files and the toolchain, and
// concurrent test binaries (go test runs packages in parallel) build them
// once under a file lock.

// testserversDir is <repo>/testservers, found from this source file: the
// tests run with the repository at hand, whatever the working directory.
func testserversDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("testpeers: cannot locate the source tree")
	}
	dir := filepath.Join(filepath.Dir(file), "..", "..", "testservers")
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return "", fmt.Errorf("testpeers: the test servers' module: %w", err)
	}
	return dir, nil
}

var builtServers = sync.OnceValues(buildServers)

// Tests move HOME (IsolateAWS), which would move the user cache dir and the
// Go build and module caches with it: a cold build of every test server in
// a temp dir. Builds use the environment and cache dir the test binary
// started with, captured before any test runs.
var (
	startEnv                     = os.Environ()
	startCacheDir, startCacheErr = os.UserCacheDir()
)

// cacheRoot is where built test servers are kept.
func cacheRoot() string {
	if startCacheErr != nil {
		return filepath.Join(os.TempDir(), "alchemy-testservers")
	}
	return filepath.Join(startCacheDir, "alchemy-testservers")
}

// ServerBinary returns the path of the test server program name (a
// directory of <repo>/testservers: oauthserver, fakes3, browse), building
// them all on first use. A build failure fails the test.
func ServerBinary(t testing.TB, name string) string {
	t.Helper()
	dir, err := builtServers()
	if err != nil {
		t.Fatalf("test servers: %v", err)
	}
	exe := filepath.Join(dir, name)
	if _, err := os.Stat(exe); err != nil {
		t.Fatalf("test servers: no program %s: %v", name, err)
	}
	return exe
}

func buildServers() (string, error) {
	src, err := testserversDir()
	if err != nil {
		return "", err
	}
	key, err := serversKey(src)
	if err != nil {
		return "", err
	}
	return buildCached(key, src, "./...")
}

// buildCached builds the packages of the module in src with `go build -o
// DIR/` into the cache directory named key, unless it is there already; a
// file lock makes concurrent test binaries build it once. It returns DIR.
func buildCached(key, src string, pkgs ...string) (string, error) {
	root := cacheRoot()
	out := filepath.Join(root, key)
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	lk := flock.New(filepath.Join(root, key+".lock"))
	if err := lk.Lock(); err != nil {
		return "", err
	}
	defer lk.Unlock()
	if _, err := os.Stat(out); err == nil { // another test binary built it meanwhile
		return out, nil
	}
	tmp, err := os.MkdirTemp(root, ".build-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("go", append([]string{"build", "-o", tmp + string(filepath.Separator)}, pkgs...)...)
	cmd.Dir = src
	// The nested module alone: a go.work would pull the SDK in.
	cmd.Env = append(slices.Clip(startEnv), "GOWORK=off", "GOFLAGS=-mod=readonly -buildvcs=false")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s in %s: %v\n%s", strings.Join(pkgs, " "), src, err, b)
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", err
	}
	return out, nil
}

// serversKey hashes what the binaries are made of: every file of the
// module (paths and contents, nested modules left out) and the toolchain
// building them.
func serversKey(src string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// A nested module (testservers/versitygw) is not part of
			// `go build ./...` here: it has its own build and key.
			if _, serr := os.Stat(filepath.Join(path, "go.mod")); serr == nil && path != src {
				return filepath.SkipDir
			}
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		fmt.Fprintf(h, "%s %d\n", filepath.ToSlash(rel), len(data))
		h.Write(data)
		return nil
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)[:12]), nil
}

// StartServer runs the test server program name on a free port of
// 127.0.0.1 (its -addr flag) with args, and waits until it answers
// readyPath. It is stopped in t.Cleanup.
func StartServer(t testing.TB, name, readyPath string, args ...string) *Peer {
	t.Helper()
	exe := ServerBinary(t, name)
	return startOnFreePort(t, name, func(port string) []string {
		return append([]string{exe, "-addr", "127.0.0.1:" + port}, args...)
	}, readyPath)
}
