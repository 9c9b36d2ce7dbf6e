package s3state

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/alchemy-go/alchemy/internal/state"
	"github.com/alchemy-go/alchemy/internal/state/statetest"
	"github.com/alchemy-go/alchemy/internal/testpeers"
)

// Wrong credentials: every error names the bucket and what to check, never
// the key id or the secret; Describe shows neither.
func TestCredentialsNeverShown(t *testing.T) {
	isolate(t)
	loc, g := gwLocation(t)
	const akid, secret = "AKIAPROBEKEYID000042", "wrong-secret-Zx81k3jq0pLmN4vB7cT2"
	cfg := g.Config()
	cfg.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret, SessionToken: "session-token-Qw9"}, nil
	})
	b, err := Open(ctx, loc, cfg, Options{})
	must(t, err)
	if d := b.Describe(); d != "s3://"+loc.Bucket+"/state" {
		t.Errorf("Describe = %q", d)
	}
	var errs []error
	_, err = b.Get(ctx, "app", "dev", "R")
	errs = append(errs, err)
	_, err = b.Acquire(ctx, "app", "dev", state.LeaseOptions{})
	errs = append(errs, err)
	errs = append(errs, b.Set(ctx, "app", "dev", statetest.Row("R", state.Created)))
	_, err = b.Stacks(ctx)
	errs = append(errs, err)
	_, err = b.Leases(ctx)
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil {
			t.Fatalf("call %d with a wrong key succeeded", i)
		}
		msg := fmt.Sprintf("%v %+v", err, err)
		for _, s := range []string{akid, secret, "session-token-Qw9"} {
			if strings.Contains(msg, s) {
				t.Errorf("error %d shows a credential: %s", i, msg)
			}
		}
		if !strings.Contains(msg, "Check the credentials") || !strings.Contains(msg, loc.Bucket) {
			t.Errorf("error %d does not say what to check: %s", i, msg)
		}
	}
	// The right key id with a wrong secret: 403 SignatureDoesNotMatch.
	cfg.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: testpeers.VersitygwAccessKeyID, SecretAccessKey: secret}, nil
	})
	b2, err := Open(ctx, loc, cfg, Options{})
	must(t, err)
	_, err = b2.Acquire(ctx, "app", "dev", state.LeaseOptions{})
	if msg := fmt.Sprintf("%v", err); err == nil || !strings.Contains(msg, "403") || !strings.Contains(msg, "Check the credentials") ||
		strings.Contains(msg, testpeers.VersitygwAccessKeyID) || strings.Contains(msg, secret) {
		t.Errorf("a wrong secret: %v", err)
	}
	// A missing bucket says so.
	loc.Bucket = "no-such-bucket-here"
	_, err = openAt(t, loc, g, Options{}).Get(ctx, "app", "dev", "R")
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("a missing bucket: %v", err)
	}
}

// A write without a lease waits for the holder, then fails naming it.
func TestUnleasedWriteWaitsForTheHolder(t *testing.T) {
	isolate(t)
	loc, g := gwLocation(t)
	a := openAt(t, loc, g, Options{})
	b := openAt(t, loc, g, Options{UnleasedWait: 300 * time.Millisecond})
	la, err := a.Acquire(ctx, "app", "prod", state.LeaseOptions{Identity: &statetest.Alice, Command: "alchemy deploy"})
	must(t, err)
	err = b.Set(ctx, "app", "prod", statetest.Row("R", state.Created))
	var held *state.HeldError
	if !errors.As(err, &held) || held.Info.Host != statetest.Alice.Host {
		t.Fatalf("a write without a lease while leased = %v, want a HeldError", err)
	}
	time.AfterFunc(200*time.Millisecond, func() { la.Release() })
	b.opts.UnleasedWait = 10 * time.Second
	must(t, b.Set(ctx, "app", "prod", statetest.Row("R", state.Created)))
	if infos, err := a.Leases(ctx); err != nil || len(infos) != 0 {
		t.Fatalf("the write's own lease is still held: %+v, %v", infos, err)
	}
}

// Many rows through segments and snapshots, read back by another client;
// Flush folds them into one snapshot and deletes the rest; DeleteStage
// leaves nothing behind.
func TestSegmentsSnapshotsAndCleanup(t *testing.T) {
	isolate(t)
	loc, g := gwLocation(t)
	a, reader := openAt(t, loc, g, Options{InlineLimit: 4 << 10}), openAt(t, loc, g, Options{})
	l, err := a.Acquire(ctx, "app", "prod", state.LeaseOptions{})
	must(t, err)
	s := l.Store()
	want := map[string]*state.Row{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 40 {
				r := statetest.Row(fmt.Sprintf("Api/R%d-%d", w, i), state.Creating)
				if err := s.Set(ctx, "app", "prod", r); err != nil {
					t.Error(err)
					return
				}
				r.Status = state.Created
				if err := s.Set(ctx, "app", "prod", r); err != nil {
					t.Error(err)
					return
				}
				if i%10 == 9 {
					if err := s.Delete(ctx, "app", "prod", r.FQN); err != nil {
						t.Error(err)
					}
					continue
				}
				mu.Lock()
				want[r.FQN] = r
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	must(t, s.SetOutput(ctx, "app", "prod", []byte(`{"url":"https://x"}`)))
	p := loc.Prefix + "app/prod/"
	h, _, err := reader.readHead(ctx, p, "")
	must(t, err)
	if len(h.Segments) == 0 && h.Snapshot == nil {
		t.Errorf("320 rows with a 4 KiB inline limit made no segment or snapshot: %+v", h)
	}
	check := func(st state.Store) {
		t.Helper()
		got, err := state.LoadAll(ctx, st, "app", "prod")
		must(t, err)
		if len(got) != len(want) {
			t.Fatalf("LoadAll: %d rows, want %d", len(got), len(want))
		}
		for fqn, r := range want {
			if g := got[fqn]; g == nil || g.Status != state.Created || g.InstanceID != r.InstanceID {
				t.Fatalf("row %s = %+v", fqn, g)
			}
		}
		fqns, err := st.List(ctx, "app", "prod")
		must(t, err)
		if !reflect.DeepEqual(fqns, slices.Sorted(mapsKeys(want))) {
			t.Fatalf("List = %d rows", len(fqns))
		}
	}
	check(reader)
	check(s)
	must(t, state.Flush(ctx, s))
	keys, err := reader.listKeys(ctx, p)
	must(t, err)
	h, _, err = reader.readHead(ctx, p, "")
	must(t, err)
	if len(keys) != 3 || h.Snapshot == nil || len(h.Segments) != 0 || h.Rows != len(want) || !h.HasOutput {
		t.Fatalf("after Flush: keys %q, head %+v; want head, lease and one snapshot", keys, h)
	}
	check(reader)
	must(t, l.Release())

	// Reopened by another process: the same rows.
	check(openAt(t, loc, g, Options{}))
	must(t, reader.DeleteStage(ctx, "app", "prod"))
	if keys, err := reader.listKeys(ctx, loc.Prefix); err != nil || len(keys) != 0 {
		t.Fatalf("after DeleteStage: %q, %v; want nothing", keys, err)
	}
	if stacks, err := reader.Stacks(ctx); err != nil || len(stacks) != 0 {
		t.Fatalf("Stacks after DeleteStage: %q, %v", stacks, err)
	}
}

// A lease object this package cannot read is an error, never "free".
func TestUnreadableLeaseIsAnError(t *testing.T) {
	isolate(t)
	loc, g := gwLocation(t)
	b := openAt(t, loc, g, Options{})
	_, err := b.put(ctx, loc.Prefix+"app/prod/lease.json", []byte(`{"v":99}`), cond{})
	must(t, err)
	if _, err := b.Acquire(ctx, "app", "prod", state.LeaseOptions{}); err == nil || !strings.Contains(err.Error(), "newer than this alchemy") {
		t.Fatalf("Acquire over a newer lease format = %v", err)
	}
}

// Flush sweeps objects a dead holder left (written, but never pointed at by
// a head), and never the segment of a commit whose head is in flight: the
// sweep here runs exactly between a commit's segment PUT and its head PUT.
func TestFlushSweepsOrphansNotCommitsInFlight(t *testing.T) {
	isolate(t)
	loc, g := gwLocation(t)
	a, reader := openAt(t, loc, g, Options{InlineLimit: 256}), openAt(t, loc, g, Options{})
	p := loc.Prefix + "app/prod/"
	orphan := p + segDir + "000000000007-deadbeef0000-000000000003.json"
	_, err := a.put(ctx, orphan, []byte(`{"v":1}`), cond{})
	must(t, err)
	l, err := a.Acquire(ctx, "app", "prod", state.LeaseOptions{})
	must(t, err)
	defer l.Release()
	ll := l.(*lease)
	var once sync.Once
	swept := false
	a.afterPut = func(key string) {
		if strings.Contains(key, ll.doc.token()) && !strings.HasSuffix(key, headName) {
			once.Do(func() {
				ll.leaseMu.Lock()
				defer ll.leaseMu.Unlock()
				must(t, ll.sweep(ctx, false))
				swept = true
			})
		}
	}
	s := l.Store()
	for i := 0; !swept; i++ {
		if i == 20 {
			t.Fatal("no commit wrote a segment or snapshot")
		}
		must(t, s.Set(ctx, "app", "prod", statetest.Row(fmt.Sprintf("R%03d", i), state.Created)))
		if swept {
			if rows, err := state.LoadAll(ctx, reader, "app", "prod"); err != nil || len(rows) != i+1 {
				t.Fatalf("after a sweep in the middle of a commit: %d rows, %v", len(rows), err)
			}
		}
	}
	for i := 20; i < 40; i++ {
		must(t, s.Set(ctx, "app", "prod", statetest.Row(fmt.Sprintf("R%03d", i), state.Created)))
	}
	if _, err := reader.get(ctx, orphan, ""); !errors.Is(err, errNotFound) {
		t.Errorf("the dead holder's orphan is still there: %v", err)
	}
	must(t, state.Flush(ctx, s))
	if rows, err := state.LoadAll(ctx, reader, "app", "prod"); err != nil || len(rows) < 20 {
		t.Fatalf("after Flush: %d rows, %v", len(rows), err)
	}
}
