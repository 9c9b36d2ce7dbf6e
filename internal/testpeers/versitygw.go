package testpeers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The real S3 peer: versitygw v1.8.0 (github.com/versity/versitygw, Apache
// 2.0), an S3 gateway, run with its posix backend (each directory of its
// root is a bucket, objects are files, metadata in xattrs). Unlike s3rver
// and gofakes3 it implements S3's conditional writes the way AWS does:
// PutObject with If-None-Match: * on an existing key and with a stale
// If-Match both fail with 412, and so do conditional GET and DELETE
// (TestVersitygwConditionalWrites proves it before the state tests trust it;
// TestOtherS3PeersIgnoreConditions records why s3rver and gofakes3 are not
// used for that).
//
// It is a tool of its own module, <repo>/testservers/versitygw, pinned by
// that go.mod/go.sum: its ~120 modules stay out of the SDK module and out of
// testservers/go.mod. The binary (84 MB) is built once per go.mod/go.sum and
// toolchain, about 2 min cold and under a second warm, into the user cache
// dir; ./scripts/test prebuilds it (go run ./internal/testpeers/prebuild).
//
// Quirks that matter to clients (shared/spec/test-peers.md): a key cannot be
// both an object and the "directory" of other keys (409
// ExistingObjectIsDirectory / ObjectParentIsFile), as on any posix store; the
// signing region must be the gateway's (us-east-1 here); ETags are the MD5
// of the body, so two writes of the same bytes have the same ETag; an
// unknown access key gets 404 XAdminUserNotFound (AWS: 403
// InvalidAccessKeyId), a malformed session token 400 InvalidToken.

// VersitygwRegion, VersitygwAccessKeyID and VersitygwSecretAccessKey are
// what the shared gateway is started with; clients must sign with them, for
// that region (it answers 403 SignatureDoesNotMatch to another secret, and
// 400 AuthorizationHeaderMalformed to another region).
const (
	VersitygwRegion          = "us-east-1"
	VersitygwAccessKeyID     = "alchemytest"
	VersitygwSecretAccessKey = "alchemy-test-secret-0123456789"
)

// VersityGW is the versitygw peer shared by the tests of one test binary.
type VersityGW struct {
	// URL is http://127.0.0.1:PORT; clients use it with path-style
	// addressing.
	URL string
	// Root is the posix backend's root: one subdirectory per bucket.
	Root string
	PID  int

	peer *Peer
	tmp  string
}

var (
	vgwOnce   sync.Once
	vgwShared *VersityGW
	vgwErr    error
	vgwSeq    atomic.Int64
)

// Versitygw returns the versitygw peer of this test binary, building and
// starting it on first use (a free 127.0.0.1 port, data in a temp dir). It is
// never stopped by a test: call StopVersitygw from TestMain after m.Run; if
// the test binary dies first, the kernel kills it (Pdeathsig). A failure to
// build or start it fails the test.
func Versitygw(t testing.TB) *VersityGW {
	t.Helper()
	vgwOnce.Do(func() { vgwShared, vgwErr = startVersitygw() })
	if vgwErr != nil {
		t.Fatalf("test peer versitygw: %v", vgwErr)
	}
	return vgwShared
}

// StopVersitygw stops the shared gateway, if it was started, by its pid, and
// removes its data. Call it from TestMain after m.Run.
func StopVersitygw() {
	if vgwShared == nil {
		return
	}
	vgwShared.peer.stop()
	os.RemoveAll(vgwShared.tmp)
}

// NewBucket makes a fresh, empty bucket for one test (a directory of Root,
// which the posix backend serves as a bucket) and returns its name. It is
// left in place: the whole root goes at StopVersitygw.
func (g *VersityGW) NewBucket(t testing.TB) string {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	name := fmt.Sprintf("t%04d-%s", vgwSeq.Add(1), hex.EncodeToString(b[:]))
	if err := os.Mkdir(filepath.Join(g.Root, name), 0o755); err != nil {
		t.Fatalf("versitygw: new bucket: %v", err)
	}
	return name
}

// Config is an aws.Config for the gateway: its region, static credentials
// and endpoint. Clients must still use path-style addressing
// (s3.Options.UsePathStyle).
func (g *VersityGW) Config() aws.Config {
	return aws.Config{
		Region:       VersitygwRegion,
		BaseEndpoint: aws.String(g.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: VersitygwAccessKeyID, SecretAccessKey: VersitygwSecretAccessKey, Source: "testpeers"}, nil
		}),
	}
}

// Output is what the gateway printed so far.
func (g *VersityGW) Output() string { return g.peer.Output() }

func startVersitygw() (*VersityGW, error) {
	exe, err := BuildVersitygw()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "alchemy-versitygw-")
	if err != nil {
		return nil, err
	}
	root := filepath.Join(tmp, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		return nil, err
	}
	// Only what it needs: never the tests' AWS variables or credentials.
	env := []string{"PATH=/usr/bin:/bin", "HOME=" + tmp,
		"ROOT_ACCESS_KEY_ID=" + VersitygwAccessKeyID, "ROOT_SECRET_ACCESS_KEY=" + VersitygwSecretAccessKey,
		"VGW_REGION=" + VersitygwRegion}
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		// Global flags before the backend command. --keep-alive: like AWS,
		// so benchmarks do not pay a TCP handshake per request.
		argv := []string{exe, "--port", addr, "--quiet", "--keep-alive", "posix", root}
		p, err := startDetached("versitygw", argv, env, tmp, "http://"+addr+"/")
		if err == nil {
			return &VersityGW{URL: p.URL, Root: root, PID: p.PID, peer: p, tmp: tmp}, nil
		}
		if attempt == 3 || !errors.Is(err, errExitedEarly) || !strings.Contains(err.Error(), "address already in use") {
			os.RemoveAll(tmp)
			return nil, err
		}
	}
}

// startDetached starts a peer and waits until readyURL answers; the
// caller stops it with Peer.stop (start does so at the test's cleanup; a
// peer shared by a whole test binary outlives the test that started it). The fork happens
// on a locked OS thread that lives until the peer is reaped, so Pdeathsig
// kills the peer when the test binary dies.
func startDetached(name string, argv, env []string, dir, readyURL string) (*Peer, error) {
	base, err := baseURL(readyURL)
	if err != nil {
		return nil, fmt.Errorf("test peer %s: %v", name, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = dir
	out := &outputBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &Peer{URL: base, name: name, out: out, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Never unlocked: Pdeathsig fires when the thread that forked
		// exits, so it lives until the peer is reaped.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("test peer %s: start %q: %v", name, argv[0], err)
	}
	p.PID = cmd.Process.Pid
	client := &http.Client{Timeout: time.Second, Transport: loopbackTransport(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	deadline := time.Now().Add(readyTimeout)
	for {
		resp, err := client.Get(readyURL)
		if err == nil {
			resp.Body.Close()
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("test peer %s (%v) %w: %v\n--- output ---\n%s", name, argv, errExitedEarly, p.waitErr, out.String())
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("test peer %s (%v) did not answer %s within %v: %v\n--- output ---\n%s", name, argv, readyURL, readyTimeout, err, out.String())
		}
	}
}

var builtVersitygw = sync.OnceValues(buildVersitygw)

// BuildVersitygw returns the path of the versitygw binary, building it
// first when the cache has none for this go.mod/go.sum and toolchain.
func BuildVersitygw() (string, error) { return builtVersitygw() }

func buildVersitygw() (string, error) {
	src, err := testserversDir()
	if err != nil {
		return "", err
	}
	src = filepath.Join(src, "versitygw")
	h := sha256.New()
	fmt.Fprintf(h, "%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	for _, f := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return "", fmt.Errorf("the versitygw module: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", f, len(data))
		h.Write(data)
	}
	dir, err := buildCached("versitygw-"+hex.EncodeToString(h.Sum(nil)[:12]), src, "github.com/versity/versitygw/cmd/versitygw")
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "versitygw"), nil
}
