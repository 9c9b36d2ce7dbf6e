//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/alchemy-go/alchemy/internal/auth"
	awsauth "github.com/alchemy-go/alchemy/internal/auth/aws"
	"github.com/alchemy-go/alchemy/internal/state"
	"github.com/alchemy-go/alchemy/internal/state/backends"
	_ "github.com/alchemy-go/alchemy/internal/state/s3state/s3link" // the test opens the S3 store itself
	"github.com/alchemy-go/alchemy/internal/testpeers"
)

// sharedStore is a shared state store on a test peer, as the alchemy
// processes of a test reach it (env) and as the test itself reads it
// (backend).
type sharedStore struct {
	kind string
	env  []string
	// stateArgs point `alchemy state` at the store.
	stateArgs []string
	backend   state.Backend
	pg        *testpeers.PG // the postgres store's database
}

// The stoppable fixture's stage, as every test here deploys it.
const stoppableStack, stoppableStage = "stoppable", "dev_tester"

// newSharedStore gives w a fresh store of kind ("local", "postgres" or
// "s3"): the project's own .alchemy/state, its own database, or its own
// bucket with the gateway's keys stored in w's
// default profile by `alchemy login` (STS cannot vouch for them: saved
// unchecked).
func newSharedStore(t *testing.T, w *world, kind string) *sharedStore {
	t.Helper()
	ctx := context.Background()
	s := &sharedStore{kind: kind}
	var url string
	var opts backends.Options
	switch kind {
	case "local":
		// The default store at the project's module root; `alchemy state`
		// is pointed at it (it would otherwise run the stack file).
		s.stateArgs = []string{"--state", "."}
		url = ""
		opts.Root = w.dir
	case "postgres":
		s.pg = testpeers.Postgres(t)
		url = s.pg.DSNWithout()
		s.env = []string{"ALCHEMY_STATE=" + url, "PGPASSWORD=" + s.pg.Password}
		opts.Getenv = func(k string) string {
			if k == "PGPASSWORD" {
				return s.pg.Password
			}
			return ""
		}
		url = s.pg.DSN
	case "s3":
		g := testpeers.Versitygw(t)
		url = "s3://" + g.NewBucket(t) + "/team?region=" + testpeers.VersitygwRegion + "&endpoint=" + g.URL
		s.env = []string{"ALCHEMY_STATE=" + url}
		login := w.runEnv([]string{"AWS_ACCESS_KEY_ID=" + testpeers.VersitygwAccessKeyID, "AWS_SECRET_ACCESS_KEY=" + testpeers.VersitygwSecretAccessKey,
			"AWS_REGION=" + testpeers.VersitygwRegion}, "login", "--provider", "AWS", "--method", "stored")
		if login.code != 0 {
			t.Fatalf("storing the gateway's keys: %s", login)
		}
		opts.AWSCredentials = func(context.Context, string) (backends.Credentials, error) {
			return func(context.Context, string) (auth.Credentials, error) {
				return &awsauth.Credentials{AccessKeyID: testpeers.VersitygwAccessKeyID, SecretAccessKey: testpeers.VersitygwSecretAccessKey,
					Region: testpeers.VersitygwRegion}, nil
			}, nil
		}
	default:
		t.Fatalf("no store %q", kind)
	}
	b, err := backends.Open(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	s.backend = b
	return s
}

// rows reads the stoppable stage's rows from the store, each as JSON.
func (s *sharedStore) rows(t *testing.T) map[string]string {
	t.Helper()
	all, err := state.LoadAll(context.Background(), s.backend, stoppableStack, stoppableStage)
	if err != nil {
		t.Fatalf("reading the %s store: %v", s.kind, err)
	}
	out := map[string]string{}
	for fqn, r := range all {
		data, _ := json.Marshal(r)
		out[fqn] = string(data)
	}
	return out
}

// status is each row's status.
func (s *sharedStore) status(t *testing.T) map[string]state.Status {
	t.Helper()
	all, err := state.LoadAll(context.Background(), s.backend, stoppableStack, stoppableStage)
	if err != nil {
		t.Fatalf("reading the %s store: %v", s.kind, err)
	}
	out := map[string]state.Status{}
	for fqn, r := range all {
		out[fqn] = r.Status
	}
	return out
}

// startMidApplyShared starts `alchemy deploy` of the stoppable fixture on
// the store with extra environment and returns once it is mid-apply:
// First created, Nap under way, After not started.
func startMidApplyShared(t *testing.T, w *world, s *sharedStore, stack string, extra []string) (cmd *exec.Cmd, out *lockedBuffer, done chan error) {
	t.Helper()
	cmd, out, done = startDeployUntil(t, w, stack, append(append([]string(nil), s.env...), extra...), func() bool {
		st := s.status(t)
		return st["First"] == state.Created && st["Nap"] == state.Creating
	})
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGCONT) }) // a stopped one must die too
	return cmd, out, done
}

// waitExit waits for a deploy started in the background and returns its
// exit code.
func waitExit(t *testing.T, done chan error, out *lockedBuffer) int {
	t.Helper()
	select {
	case err := <-done:
		code, killed := exitCode(t, err)
		if killed {
			t.Fatalf("the deploy was killed:\n%s", out.String())
		}
		return code
	case <-time.After(runTimeout):
		t.Fatalf("the deploy did not finish:\n%s", out.String())
		return -1
	}
}

// requireResumed checks the stage after a deploy that finished another's:
// three rows created, First's and After's files once each, nothing to do.
func requireResumed(t *testing.T, w *world, s *sharedStore, stack string) {
	t.Helper()
	st := s.status(t)
	if len(st) != 3 || st["First"] != state.Created || st["Nap"] != state.Created || st["After"] != state.Created {
		t.Errorf("rows after the resumed deploy: %v, want First, Nap and After created", st)
	}
	if files := listDir(t, w.path(".alchemy", "files")); len(files) != 2 {
		t.Errorf(".alchemy/files holds %v, want First's and After's: a resource created twice?", files)
	}
	requireContains(t, "plan", w.runEnv(s.env, "plan", stack).stdout, "Plan: no changes")
}

var sharedKinds = []string{"postgres", "s3"}

// sharedWorld is a world deploying the stoppable fixture to a fresh store
// of kind, built once outside any timing.
func sharedWorld(t *testing.T, kind string) (w *world, s *sharedStore, stack string) {
	t.Helper()
	w = newWorld(t)
	s = newSharedStore(t, w, kind)
	stack = w.project(fixture("stoppable"))
	w.ok("plan", stack)
	return w, s, stack
}

// Two deploys of one stage, on each kind of store, from two processes that
// present two hosts (ALCHEMY_TEST_LEASE_IDENTITY): while alice's runs,
// bob's fails at once naming her and changes nothing; bob's with
// --lock-timeout waits, says so once, and runs after hers, finding nothing
// to do. Never two creates of one resource.
func TestLeaseBetweenTwoHosts(t *testing.T) {
	for _, kind := range append([]string{"local"}, sharedKinds...) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			w, s, stack := sharedWorld(t, kind)
			alice := []string{"ALCHEMY_TEST_LEASE_IDENTITY=alice@alice-laptop.test:4242"}
			bob := append([]string{"ALCHEMY_TEST_LEASE_IDENTITY=bob@ci-runner-7.test:777"}, s.env...)

			_, outA, doneA := startMidApplyShared(t, w, s, stack, alice)
			before, filesBefore := s.rows(t), readFile(t, w.path(".alchemy", "files"))
			l := w.runEnv(s.env, append([]string{"state", "lease"}, s.stateArgs...)...)
			requireContains(t, "state lease", l.stdout, "stoppable/dev_tester: alice@alice-laptop.test (pid 4242) running `alchemy deploy --stage dev_tester` since ")

			b := w.runEnv(bob, "deploy", stack, "--yes")
			if b.code != 1 {
				t.Fatalf("bob's deploy while alice's runs: %s", b)
			}
			requireContains(t, "bob's deploy", b.stderr,
				"Another alchemy run holds stoppable/dev_tester: alice@alice-laptop.test (pid 4242) running `alchemy deploy --stage dev_tester` since ",
				"Nothing was changed.", "`alchemy state unlock stoppable/dev_tester`")
			if after := s.rows(t); !sameRows(before, after) {
				t.Errorf("the refused deploy changed the store:\nbefore %v\nafter  %v", before, after)
			}
			if files := readFile(t, w.path(".alchemy", "files")); files != filesBefore {
				t.Errorf("the refused deploy changed the files:\nbefore %s\nafter  %s", filesBefore, files)
			}

			c := w.runEnv(bob, "deploy", stack, "--yes", "--lock-timeout", "2m")
			if c.code != 0 {
				t.Fatalf("bob's waiting deploy: %s", c)
			}
			if n := strings.Count(c.stderr, "Waiting for the lease of stoppable/dev_tester, held by alice@alice-laptop.test (pid 4242)"); n != 1 {
				t.Errorf("the waiting deploy said it waits %d times, want once:\n%s", n, c.stderr)
			}
			requireContains(t, "bob's waiting deploy", c.stdout, "Plan: no changes")
			if code := waitExit(t, doneA, outA); code != 0 {
				t.Fatalf("alice's deploy exited %d:\n%s", code, outA.String())
			}
			requireContains(t, "alice's deploy", outA.String(), "Done: 3 succeeded, 0 failed, 0 skipped")
			requireResumed(t, w, s, stack)
			if d := w.runEnv(s.env, "destroy", stack, "--yes"); d.code != 0 {
				t.Fatalf("destroy: %s", d)
			}
		})
	}
}

// kill -9 of the holder mid-deploy: on PostgreSQL its session ends and
// with it the advisory lock, so the next deploy, from another host, takes
// the lease at once; on S3 the lease stays until its TTL (3 s here) has
// passed without a heartbeat, and the next deploy waits for that, then
// takes it over. Both resume: nothing created twice.
func TestSharedStoreKilledHolder(t *testing.T) {
	for _, kind := range sharedKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			w, s, stack := sharedWorld(t, kind)
			ttl := "ALCHEMY_TEST_LEASE_TTL=3s"
			a, _, doneA := startMidApplyShared(t, w, s, stack, []string{ttl, "ALCHEMY_TEST_LEASE_IDENTITY=alice@alice-laptop.test:4242"})
			killGroup(a)
			if _, killed := exitCode(t, <-doneA); !killed {
				t.Fatal("the deploy was not killed")
			}
			killedAt := time.Now()

			r := w.runEnv(append([]string{ttl, "ALCHEMY_TEST_LEASE_IDENTITY=bob@ci-runner-7.test:777"}, s.env...), "deploy", stack, "--yes", "--lock-timeout", "1m")
			if r.code != 0 {
				t.Fatalf("the deploy after the kill: %s", r)
			}
			waited := strings.Contains(r.stderr, "Waiting for the lease of stoppable/dev_tester, held by alice@alice-laptop.test (pid 4242)")
			switch kind {
			case "postgres":
				if waited {
					t.Errorf("on PostgreSQL the killed holder's lease went with its session, yet the next deploy waited:\n%s", r.stderr)
				}
			case "s3":
				if !waited {
					t.Errorf("on S3 the next deploy took a lease younger than its TTL without waiting:\n%s", r.stderr)
				}
				if since := time.Since(killedAt); since < 3*time.Second {
					t.Errorf("the lease was taken over %v after the kill, before its TTL", since)
				}
			}
			requireResumed(t, w, s, stack)
			if l := w.runEnv(s.env, "state", "lease"); !strings.Contains(l.stdout, "No stage is leased") {
				t.Errorf("a lease is left after the resumed deploy:\n%s", l)
			}
		})
	}
}

// pg_terminate_backend on the holder's connection mid-deploy: the holder
// stops, saying it lost the lease; nothing it did after the loss lands
// (Nap is never recorded created, After never created); the next deploy
// resumes cleanly.
func TestPostgresTerminatedHolderStops(t *testing.T) {
	t.Parallel()
	w, s, stack := sharedWorld(t, "postgres")
	_, outA, doneA := startMidApplyShared(t, w, s, stack, nil)

	ctx := context.Background()
	c, err := pgx.Connect(ctx, s.pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var pid int32
	if err := c.QueryRow(ctx, "select backend_pid from alchemy_lease where stack = $1 and stage = $2", stoppableStack, stoppableStage).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	var ok bool
	if err := c.QueryRow(ctx, "select pg_terminate_backend($1)", pid).Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
	}
	if code := waitExit(t, doneA, outA); code == 0 {
		t.Fatalf("the holder whose session was terminated finished as if nothing happened:\n%s", outA.String())
	}
	requireContains(t, "the terminated holder", outA.String(), "the lease of stoppable/dev_tester was lost: its connection to PostgreSQL failed",
		"This run stopped and committed nothing more")
	st := s.status(t)
	if st["Nap"] == state.Created || st["After"] != "" {
		t.Errorf("writes landed after the lease was lost: %v", st)
	}
	if exists(t, w.path(".alchemy", "files", "After")) || len(listDir(t, w.path(".alchemy", "files"))) != 1 {
		t.Errorf("after the loss, .alchemy/files holds %v, want First's only", listDir(t, w.path(".alchemy", "files")))
	}
	r := w.runEnv(s.env, "deploy", stack, "--yes")
	if r.code != 0 {
		t.Fatalf("the deploy after the termination: %s", r)
	}
	requireResumed(t, w, s, stack)
}

// A holder on S3 stopped (SIGSTOP) past its TTL: another host takes the
// lease over and deploys; when the first resumes, its late writes are
// refused by the store (fencing), it stops saying it lost the lease, and
// the state is the second's, unchanged.
func TestS3StoppedHolderIsFenced(t *testing.T) {
	t.Parallel()
	w, s, stack := sharedWorld(t, "s3")
	ttl := "ALCHEMY_TEST_LEASE_TTL=2s"
	a, outA, doneA := startMidApplyShared(t, w, s, stack, []string{ttl, "ALCHEMY_TEST_LEASE_IDENTITY=alice@alice-laptop.test:4242"})
	if err := syscall.Kill(-a.Process.Pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	r := w.runEnv(append([]string{ttl, "ALCHEMY_TEST_LEASE_IDENTITY=bob@ci-runner-7.test:777"}, s.env...), "deploy", stack, "--yes", "--lock-timeout", "1m")
	if r.code != 0 {
		t.Fatalf("bob's deploy while alice is stopped: %s", r)
	}
	requireContains(t, "bob's deploy", r.stderr, "Waiting for the lease of stoppable/dev_tester, held by alice@alice-laptop.test (pid 4242)")
	requireContains(t, "bob's deploy", r.stdout, "Done: ")
	settled := s.rows(t)
	afterFile := readFile(t, w.path(".alchemy", "files"))

	if err := syscall.Kill(-a.Process.Pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, doneA, outA); code == 0 {
		t.Fatalf("alice's deploy, resumed after losing its lease, finished as if nothing happened:\n%s", outA.String())
	}
	requireContains(t, "alice's resumed deploy", outA.String(),
		"the lease of stoppable/dev_tester was lost: it expired (no heartbeat for its TTL of 2s) and was taken over by bob@ci-runner-7.test (pid 777)",
		"This run stopped and committed nothing more")
	if now := s.rows(t); !sameRows(settled, now) {
		t.Errorf("alice's late writes landed:\nbob's %v\nnow   %v", settled, now)
	}
	if now := readFile(t, w.path(".alchemy", "files")); now != afterFile {
		t.Errorf("alice's resumed deploy changed the files:\nbob's %s\nnow   %s", afterFile, now)
	}
	requireResumed(t, w, s, stack)
}

func sameRows(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// readFile is the names and contents of the files of dir, for comparing.
func readFile(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	for _, name := range listDir(t, dir) {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(name + "=" + string(data) + ";")
	}
	return b.String()
}
