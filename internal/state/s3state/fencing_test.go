package s3state

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/alchemy-go/alchemy/internal/state"
	"github.com/alchemy-go/alchemy/internal/state/s3state/s3url"
	"github.com/alchemy-go/alchemy/internal/state/statetest"
	"github.com/alchemy-go/alchemy/internal/testpeers"
)

var ctx = context.Background()

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// waitExpired sleeps until a lease written now is expired by the server's
// clock (TTL plus up to two seconds of Last-Modified/Date resolution).
func waitExpired() { time.Sleep(testTTL + 1500*time.Millisecond) }

// A holder paused right after its own lease check (it believes the lease
// is still fresh) commits after another holder took the stage over: the
// segment (or snapshot) object it PUTs first lands, but under a key no head points at,
// and its head PUT fails; readers never see the write.
func TestStaleHolderWritesLandNowhere(t *testing.T) {
	isolate(t)
	loc, g := gwLocation(t)
	a := openAt(t, loc, g, Options{InlineLimit: 64}) // every commit writes a segment first
	var mu sync.Mutex
	var putKeys []string
	a.afterPut = func(key string) { mu.Lock(); putKeys = append(putKeys, key); mu.Unlock() }
	b, reader := openAt(t, loc, g, Options{}), openAt(t, loc, g, Options{})

	la, err := a.Acquire(ctx, "app", "prod", state.LeaseOptions{Identity: &statetest.Alice, TTL: testTTL, Heartbeat: time.Hour})
	must(t, err)
	must(t, la.Store().Set(ctx, "app", "prod", statetest.Row("BeforeLoss", state.Created)))
	waitExpired()
	lb, err := b.Acquire(ctx, "app", "prod", state.LeaseOptions{Identity: &statetest.Bob, Wait: 3 * testTTL})
	must(t, err)
	defer lb.Release()
	must(t, lb.Store().Set(ctx, "app", "prod", statetest.Row("NewHolder", state.Created)))

	// Alice resumes believing her lease is fresh: no local check stops
	// her, so only the store can.
	l := la.(*lease)
	l.leaseMu.Lock()
	l.renewedAt = time.Now()
	l.leaseMu.Unlock()
	mu.Lock()
	putKeys = nil
	mu.Unlock()
	err = la.Store().Set(ctx, "app", "prod", statetest.Row("Late", state.Created))
	var lost *state.LostError
	if !errors.As(err, &lost) || !strings.Contains(err.Error(), "another holder took the stage over") {
		t.Fatalf("the stale holder's Set = %v, want a LostError from the head's If-Match", err)
	}
	select {
	case <-la.Lost():
	default:
		t.Fatal("Lost is not closed after the rejected commit")
	}
	mu.Lock()
	late := slices.Clone(putKeys)
	mu.Unlock()
	p := loc.Prefix + "app/prod/"
	if len(late) != 1 || !(strings.HasPrefix(late[0], p+segDir+l.doc.token()) || strings.HasPrefix(late[0], p+snapDir+l.doc.token())) {
		t.Fatalf("the stale holder's PUTs after the loss = %q, want its segment or snapshot only (the head PUT failed)", late)
	}
	h, _, err := reader.readHead(ctx, p, "")
	must(t, err)
	if slices.Contains(h.refs(), strings.TrimPrefix(late[0], p)) || h.Token == l.doc.token() {
		t.Fatalf("the head points at the stale holder's object or is its own: %+v", h)
	}
	for _, s := range []state.Store{reader, lb.Store()} {
		if row, err := s.Get(ctx, "app", "prod", "Late"); err != nil || row != nil {
			t.Fatalf("the stale write is visible: %v, %v", row, err)
		}
		for _, f := range []string{"BeforeLoss", "NewHolder"} {
			if row, err := s.Get(ctx, "app", "prod", f); err != nil || row == nil {
				t.Fatalf("%s after the stale write: %v, %v", f, row, err)
			}
		}
	}
	// The loser deleted its orphan segment.
	if _, err := reader.get(ctx, late[0], ""); !errors.Is(err, errNotFound) {
		t.Errorf("the stale holder's orphan segment is still there: %v", err)
	}
}

// The proof, with a real process: the holder is SIGSTOPped past
// the TTL, another takes over, and the resumed process's writes are
// rejected.
func TestSIGSTOPpedHolderIsFenced(t *testing.T) {
	isolate(t)
	loc, g := gwLocation(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "S3STATE_HELPER=hold", "S3STATE_URL="+loc.String(),
		"S3STATE_KEY="+testpeers.VersitygwAccessKeyID, "S3STATE_SECRET="+testpeers.VersitygwSecretAccessKey)
	stdin, err := cmd.StdinPipe()
	must(t, err)
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	cmd.Stderr = os.Stderr
	must(t, cmd.Start())
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		stdin.Close()
		_ = cmd.Wait()
	}()
	lines := bufio.NewScanner(stdout)
	next := func() string {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("the holder process said nothing: %v", lines.Err())
		}
		return lines.Text()
	}
	if got := next(); got != "ready" {
		t.Fatalf("holder: %q", got)
	}
	reader, b := openAt(t, loc, g, Options{}), openAt(t, loc, g, Options{})
	if row, err := reader.Get(ctx, "app", "prod", "BeforeLoss"); err != nil || row == nil {
		t.Fatalf("the holder's first write: %v, %v", row, err)
	}
	must(t, cmd.Process.Signal(syscall.SIGSTOP))
	if _, err := b.Acquire(ctx, "app", "prod", state.LeaseOptions{Identity: &statetest.Bob}); err == nil {
		t.Fatal("the stopped holder's lease was taken before its TTL")
	}
	waitExpired()
	lb, err := b.Acquire(ctx, "app", "prod", state.LeaseOptions{Identity: &statetest.Bob, Wait: 3 * testTTL})
	must(t, err)
	defer lb.Release()
	must(t, lb.Store().Set(ctx, "app", "prod", statetest.Row("NewHolder", state.Created)))
	must(t, cmd.Process.Signal(syscall.SIGCONT))
	fmt.Fprintln(stdin, "write Late")
	if got := next(); !strings.HasPrefix(got, "err ") || !strings.Contains(got, "was lost") {
		t.Fatalf("the resumed holder's write: %q, want a lost lease", got)
	}
	if row, err := reader.Get(ctx, "app", "prod", "Late"); err != nil || row != nil {
		t.Fatalf("the resumed holder's write is visible: %v, %v", row, err)
	}
	if row, err := reader.Get(ctx, "app", "prod", "NewHolder"); err != nil || row == nil {
		t.Fatalf("the new holder's write: %v, %v", row, err)
	}
}

// holdHelper is the SIGSTOP test's holder process: it takes the lease
// (TTL testTTL, heartbeat on), writes BeforeLoss, says "ready", then runs
// "write FQN" lines from stdin, answering "ok" or "err <error>".
func holdHelper() {
	loc, err := s3url.ParseURL(os.Getenv("S3STATE_URL"))
	if err != nil {
		panic(err)
	}
	cfg := aws.Config{Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: os.Getenv("S3STATE_KEY"), SecretAccessKey: os.Getenv("S3STATE_SECRET")}, nil
	})}
	b, err := Open(ctx, loc, cfg, Options{})
	if err != nil {
		panic(err)
	}
	l, err := b.Acquire(ctx, "app", "prod", state.LeaseOptions{Identity: &statetest.Alice, TTL: testTTL, Heartbeat: testTTL / 6})
	if err != nil {
		panic(err)
	}
	if err := l.Store().Set(ctx, "app", "prod", statetest.Row("BeforeLoss", state.Created)); err != nil {
		panic(err)
	}
	fmt.Println("ready")
	in := bufio.NewReader(os.Stdin)
	for {
		line, err := in.ReadString('\n')
		if err == io.EOF {
			_ = l.Release()
			return
		}
		fqn, _ := strings.CutPrefix(strings.TrimSpace(line), "write ")
		if err := l.Store().Set(ctx, "app", "prod", statetest.Row(fqn, state.Created)); err != nil {
			fmt.Println("err " + strings.ReplaceAll(err.Error(), "\n", " "))
		} else {
			fmt.Println("ok")
		}
	}
}

// s3rver accepts a second If-None-Match: * PUT of an existing key: the
// store refuses to lease state on it, saying why.
func TestRefusesServiceIgnoringConditionalWrites(t *testing.T) {
	isolate(t)
	p := testpeers.S3rver(t)
	cfg := aws.Config{Region: "us-east-1", Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: testpeers.S3rverAccessKeyID, SecretAccessKey: testpeers.S3rverSecretAccessKey}, nil
	})}
	loc := Location{Bucket: "state", Endpoint: p.URL, PathStyle: true}
	b, err := Open(ctx, loc, cfg, Options{})
	must(t, err)
	if err := b.client.CreateBucket(ctx, "state"); err != nil {
		t.Fatal(err)
	}
	_, err = b.Acquire(ctx, "app", "prod", state.LeaseOptions{})
	if err == nil || !strings.Contains(err.Error(), "ignores conditional writes (If-None-Match); alchemy cannot lease state on it safely") {
		t.Fatalf("Acquire on s3rver = %v, want a refusal", err)
	}
	if err := b.Set(ctx, "app", "prod", statetest.Row("R", state.Created)); err == nil || !strings.Contains(err.Error(), "ignores conditional writes") {
		t.Fatalf("a write without a lease on s3rver = %v, want the same refusal", err)
	}
	if row, err := b.Get(ctx, "app", "prod", "R"); err != nil || row != nil {
		t.Fatalf("a refused write landed: %v, %v", row, err)
	}
}
