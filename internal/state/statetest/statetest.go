// Package statetest is the contract every state backend passes: the same
// suite for local, postgres and s3 — rows, outputs, stacks and stages,
// leases (exclusion, waiting, takeover after the TTL, a dead holder on this
// host, breaking) and fencing (a holder that lost its lease cannot write).
package statetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/secret"
	"github.com/alchemy-go/alchemy/internal/state"
)

// Env is one store under test.
type Env struct {
	// Open returns a new client of the same store, as another process
	// would open it; the suite closes it.
	Open func(t *testing.T) state.Backend
	// TTL is a short lease TTL the backend honours, for the takeover
	// tests (a few seconds at most).
	TTL time.Duration
}

// Run runs the contract against fresh stores made by newEnv (one per
// subtest).
func Run(t *testing.T, newEnv func(t *testing.T) Env) {
	ctx := context.Background()
	open := func(t *testing.T, e Env) state.Backend {
		t.Helper()
		b := e.Open(t)
		t.Cleanup(func() { b.Close() })
		return b
	}

	t.Run("Rows", func(t *testing.T) {
		b := open(t, newEnv(t))
		if got := list(t, b, "app", "dev"); len(got) != 0 {
			t.Fatalf("a new store lists %v", got)
		}
		if row, err := b.Get(ctx, "app", "dev", "nope"); row != nil || err != nil {
			t.Fatalf("Get of a missing row = %v, %v", row, err)
		}
		fqns := []string{"Zeta", "Api/Bucket", "Api/my_bucket", `odd\name%`, "a/b_c%d\\e", "ünï cødé"}
		for _, f := range fqns {
			must(t, b.Set(ctx, "app", "dev", Row(f, state.Creating)))
		}
		if got, want := list(t, b, "app", "dev"), slices.Sorted(slices.Values(fqns)); !reflect.DeepEqual(got, want) {
			t.Fatalf("List = %q, want %q", got, want)
		}
		upd := Row("Api/my_bucket", state.Created)
		upd.Attr = json.RawMessage(`{"arn":"arn:aws:s3:::x"}`)
		upd.Downstream = []string{"Zeta"}
		upd.Extra = map[string]json.RawMessage{"namespace": json.RawMessage(`"ns"`), "bindings": json.RawMessage(`{"k":1}`)}
		must(t, b.Set(ctx, "app", "dev", upd))
		got, err := b.Get(ctx, "app", "dev", "Api/my_bucket")
		must(t, err)
		if got == nil || got.Status != state.Created || got.InstanceID != upd.InstanceID || !jsonEq(got.Attr, upd.Attr) ||
			!reflect.DeepEqual(got.Downstream, upd.Downstream) || !jsonEq(got.Extra["namespace"], upd.Extra["namespace"]) ||
			!jsonEq(got.Extra["bindings"], upd.Extra["bindings"]) || !jsonEq(got.Props, upd.Props) {
			t.Fatalf("Get after Set = %+v, want %+v", got, upd)
		}
		must(t, b.Delete(ctx, "app", "dev", "Zeta"))
		must(t, b.Delete(ctx, "app", "dev", "Zeta")) // missing: not an error
		if row, err := b.Get(ctx, "app", "dev", "Zeta"); row != nil || err != nil {
			t.Fatalf("Get after Delete = %v, %v", row, err)
		}
		if got := list(t, b, "app", "dev"); slices.Contains(got, "Zeta") || len(got) != len(fqns)-1 {
			t.Fatalf("List after Delete = %q", got)
		}
		must(t, state.Flush(ctx, b))
	})

	t.Run("SecondClientSeesWrites", func(t *testing.T) {
		e := newEnv(t)
		a, b := open(t, e), open(t, e)
		must(t, a.Set(ctx, "app", "dev", Row("R", state.Created)))
		must(t, a.SetOutput(ctx, "app", "dev", json.RawMessage(`{"url":"https://x"}`)))
		must(t, state.Flush(ctx, a))
		if row, err := b.Get(ctx, "app", "dev", "R"); err != nil || row == nil {
			t.Fatalf("the second client's Get = %v, %v", row, err)
		}
		if out, err := b.GetOutput(ctx, "app", "dev"); err != nil || !jsonEq(out, json.RawMessage(`{"url":"https://x"}`)) {
			t.Fatalf("the second client's GetOutput = %s, %v", out, err)
		}
	})

	t.Run("Outputs", func(t *testing.T) {
		b := open(t, newEnv(t))
		if out, err := b.GetOutput(ctx, "app", "dev"); out != nil || err != nil {
			t.Fatalf("GetOutput of none = %s, %v", out, err)
		}
		must(t, b.SetOutput(ctx, "app", "dev", json.RawMessage(`{"a":1,"s":{"__redacted__":"x"}}`)))
		must(t, b.SetOutput(ctx, "app", "dev", json.RawMessage(`{"a":2}`)))
		if out, err := b.GetOutput(ctx, "app", "dev"); err != nil || !jsonEq(out, json.RawMessage(`{"a":2}`)) {
			t.Fatalf("GetOutput = %s, %v", out, err)
		}
		if got := list(t, b, "app", "dev"); len(got) != 0 {
			t.Fatalf("the output record is listed as a row: %q", got)
		}
		must(t, b.SetOutput(ctx, "app", "dev", nil))
		if out, err := b.GetOutput(ctx, "app", "dev"); out != nil || err != nil {
			t.Fatalf("GetOutput after removing it = %s, %v", out, err)
		}
	})

	t.Run("StacksStagesAndIsolation", func(t *testing.T) {
		b := open(t, newEnv(t))
		for _, ss := range [][2]string{{"web", "prod"}, {"app", "prod"}, {"app", "dev"}, {"app", "dev_alice"}} {
			must(t, b.Set(ctx, ss[0], ss[1], Row("R-"+ss[1], state.Created)))
		}
		must(t, b.SetOutput(ctx, "web", "prod", json.RawMessage(`{}`)))
		must(t, state.Flush(ctx, b))
		if got, err := b.Stacks(ctx); err != nil || !reflect.DeepEqual(got, []string{"app", "web"}) {
			t.Fatalf("Stacks = %q, %v", got, err)
		}
		if got, err := b.Stages(ctx, "app"); err != nil || !reflect.DeepEqual(got, []string{"dev", "dev_alice", "prod"}) {
			t.Fatalf("Stages(app) = %q, %v", got, err)
		}
		if got := list(t, b, "app", "dev"); !reflect.DeepEqual(got, []string{"R-dev"}) {
			t.Fatalf("one stage lists another's rows: %q", got)
		}
		if row, _ := b.Get(ctx, "app", "prod", "R-dev"); row != nil {
			t.Fatal("one stage reads another's row")
		}
		// A stage name that is a prefix of another stays apart.
		must(t, b.DeleteStage(ctx, "app", "dev"))
		if got, err := b.Stages(ctx, "app"); err != nil || !reflect.DeepEqual(got, []string{"dev_alice", "prod"}) {
			t.Fatalf("Stages(app) after DeleteStage(dev) = %q, %v", got, err)
		}
		if got := list(t, b, "app", "dev_alice"); !reflect.DeepEqual(got, []string{"R-dev_alice"}) {
			t.Fatalf("DeleteStage(dev) touched dev_alice: %q", got)
		}
		must(t, b.DeleteStage(ctx, "web", "prod"))
		if out, _ := b.GetOutput(ctx, "web", "prod"); out != nil {
			t.Fatal("DeleteStage left the output record")
		}
		if got, err := b.Stacks(ctx); err != nil || !reflect.DeepEqual(got, []string{"app"}) {
			t.Fatalf("Stacks after deleting web's only stage = %q, %v", got, err)
		}
		if err := b.Set(ctx, "app", "../x", Row("R", state.Created)); err == nil {
			t.Fatal("a stage named ../x was accepted")
		}
	})

	t.Run("LeaseExcludes", func(t *testing.T) {
		e := newEnv(t)
		a, b := open(t, e), open(t, e)
		la, err := a.Acquire(ctx, "app", "prod", state.LeaseOptions{Command: "alchemy deploy --stage prod", Identity: &Alice})
		must(t, err)
		_, err = b.Acquire(ctx, "app", "prod", state.LeaseOptions{Command: "alchemy deploy --stage prod", Identity: &Bob})
		var held *state.HeldError
		if !errors.As(err, &held) {
			t.Fatalf("a second Acquire = %v, want a *HeldError", err)
		}
		if held.Info.Host != Alice.Host || held.Info.PID != Alice.PID || held.Info.Command != "alchemy deploy --stage prod" ||
			!strings.Contains(err.Error(), Alice.Host) {
			t.Fatalf("the HeldError does not name the holder: %+v (%v)", held.Info, err)
		}
		// Another stage is free.
		lo, err := b.Acquire(ctx, "app", "dev", state.LeaseOptions{Identity: &Bob})
		must(t, err)
		infos, err := b.Leases(ctx)
		must(t, err)
		if len(infos) != 2 || infos[0].Stage != "dev" || infos[1].Stage != "prod" || infos[1].Host != Alice.Host ||
			infos[1].Started.IsZero() || infos[1].Token == "" || infos[1].Stale {
			t.Fatalf("Leases = %+v", infos)
		}
		must(t, lo.Release())
		must(t, la.Release())
		if err := la.Store().Set(ctx, "app", "prod", Row("Late", state.Created)); err == nil {
			t.Fatal("a released lease still writes")
		}
		lb, err := b.Acquire(ctx, "app", "prod", state.LeaseOptions{Identity: &Bob})
		must(t, err)
		must(t, lb.Store().Set(ctx, "app", "prod", Row("B", state.Created)))
		must(t, state.Flush(ctx, lb.Store()))
		must(t, lb.Release())
		if infos, err := a.Leases(ctx); err != nil || len(infos) != 0 {
			t.Fatalf("Leases after every release = %+v, %v", infos, err)
		}
	})

	t.Run("LeaseWaits", func(t *testing.T) {
		e := newEnv(t)
		a, b := open(t, e), open(t, e)
		la, err := a.Acquire(ctx, "app", "prod", state.LeaseOptions{Command: "first", Identity: &Alice})
		must(t, err)
		time.AfterFunc(700*time.Millisecond, func() { la.Release() })
		var waitedOn []state.LeaseInfo
		start := time.Now()
		lb, err := b.Acquire(ctx, "app", "prod", state.LeaseOptions{Identity: &Bob, Wait: 20 * time.Second,
			OnWait: func(i state.LeaseInfo) { waitedOn = append(waitedOn, i) }})
		must(t, err)
		defer lb.Release()
		if d := time.Since(start); d < 500*time.Millisecond || d > 15*time.Second {
			t.Errorf("Acquire returned after %v, want soon after the release at 700ms", d)
		}
		if len(waitedOn) != 1 || waitedOn[0].Command != "first" {
			t.Errorf("OnWait was called with %+v, want once with the holder", waitedOn)
		}
		// Waiting gives up after Wait, naming the holder.
		_, err = a.Acquire(ctx, "app", "prod", state.LeaseOptions{Identity: &Alice, Wait: 300 * time.Millisecond})
		var held *state.HeldError
		if !errors.As(err, &held) || held.Info.Host != Bob.Host {
			t.Fatalf("Acquire with a short wait = %v", err)
		}
	})

	// A holder paused past the TTL (here: one that never renews) is taken
	// over by another host; from then on its writes are rejected by the
	// store, even though it has not looked at its lease since.
	t.Run("TakeoverAfterTTLFencesTheOldHolder", func(t *testing.T) {
		e := newEnv(t)
		a, b, reader := open(t, e), open(t, e), open(t, e)
		la, err := a.Acquire(ctx, "app", "prod", state.LeaseOptions{Identity: &Alice, TTL: e.TTL, Heartbeat: time.Hour})
		must(t, err)
		must(t, la.Store().Set(ctx, "app", "prod", Row("BeforeLoss", state.Created)))
		must(t, state.Flush(ctx, la.Store()))
		// Not before the TTL.
		if _, err := b.Acquire(ctx, "app", "prod", state.LeaseOptions{Identity: &Bob}); err == nil {
			t.Fatal("a live lease was taken over before its TTL")
		}
		time.Sleep(e.TTL + e.TTL/2)
		lb, err := b.Acquire(ctx, "app", "prod", state.LeaseOptions{Identity: &Bob, Wait: 2 * e.TTL})
		if err != nil {
			t.Fatalf("a lease expired for %v was not taken over: %v", e.TTL/2, err)
		}
		defer lb.Release()
		must(t, lb.Store().Set(ctx, "app", "prod", Row("NewHolder", state.Created)))
		must(t, state.Flush(ctx, lb.Store()))

		late := Row("NewHolder", state.Deleting)
		werr := la.Store().Set(ctx, "app", "prod", late)
		if werr == nil {
			werr = state.Flush(ctx, la.Store())
		}
		if werr == nil {
			t.Fatal("the old holder's write after the takeover succeeded")
		}
		if err := la.Check(); err == nil {
			t.Error("the old holder's Check passes after the takeover")
		}
		select {
		case <-la.Lost():
		case <-time.After(5 * time.Second):
			t.Error("the old holder's Lost is not closed after a rejected write and a Check")
		}
		for _, s := range []state.Store{reader, lb.Store()} {
			row, err := s.Get(ctx, "app", "prod", "NewHolder")
			if err != nil || row == nil || row.Status != state.Created || row.InstanceID == late.InstanceID {
				t.Fatalf("the new holder's row after the old holder's late write = %+v, %v", row, err)
			}
			if row, err := s.Get(ctx, "app", "prod", "BeforeLoss"); err != nil || row == nil {
				t.Fatalf("the old holder's write before the loss is gone: %v, %v", row, err)
			}
		}
		_ = la.Release() // releasing a lost lease must not free the new holder's
		if _, err := a.Acquire(ctx, "app", "prod", state.LeaseOptions{Identity: &Alice}); err == nil {
			t.Fatal("the old holder's Release freed the new holder's lease")
		}
	})

	t.Run("DeadHolderOnThisHostIsTakenAtOnce", func(t *testing.T) {
		e := newEnv(t)
		a, b := open(t, e), open(t, e)
		here := state.ThisProcess()
		dead := state.Identity{User: here.User, Host: here.Host, PID: DeadPID(t)}
		la, err := a.Acquire(ctx, "app", "prod", state.LeaseOptions{Identity: &dead, TTL: time.Hour, Heartbeat: time.Hour})
		must(t, err)
		start := time.Now()
		lb, err := b.Acquire(ctx, "app", "prod", state.LeaseOptions{Wait: 10 * time.Second})
		if err != nil {
			t.Fatalf("a lease held by dead pid %d on this host was not taken: %v", dead.PID, err)
		}
		defer lb.Release()
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("taking a dead holder's lease took %v", d)
		}
		if err := la.Store().Set(ctx, "app", "prod", Row("Late", state.Created)); err == nil {
			if err = state.Flush(ctx, la.Store()); err == nil {
				t.Error("the dead holder's lease still writes")
			}
		}
	})

	t.Run("BreakNeedsTheCurrentToken", func(t *testing.T) {
		e := newEnv(t)
		a, b := open(t, e), open(t, e)
		la, err := a.Acquire(ctx, "app", "prod", state.LeaseOptions{Identity: &Alice, Heartbeat: time.Hour})
		must(t, err)
		var held *state.HeldError
		if err := b.Break(ctx, "app", "prod", "not-the-token"); !errors.As(err, &held) || held.Info.Host != Alice.Host {
			t.Fatalf("Break with a stale token = %v, want a *HeldError naming the holder", err)
		}
		infos, err := b.Leases(ctx)
		must(t, err)
		if len(infos) != 1 {
			t.Fatalf("Leases = %+v", infos)
		}
		must(t, b.Break(ctx, "app", "prod", infos[0].Token))
		lb, err := b.Acquire(ctx, "app", "prod", state.LeaseOptions{Identity: &Bob})
		if err != nil {
			t.Fatalf("Acquire right after Break: %v", err)
		}
		defer lb.Release()
		if err := la.Store().Set(ctx, "app", "prod", Row("Late", state.Created)); err == nil {
			if err = state.Flush(ctx, la.Store()); err == nil {
				t.Error("a broken lease still writes")
			}
		}
		if row, _ := b.Get(ctx, "app", "prod", "Late"); row != nil {
			t.Error("a broken lease's write landed")
		}
		must(t, b.Break(ctx, "app", "other", "x")) // no lease: not an error
	})

	// Two clients taking turns, each writing and releasing without a
	// flush: a holder writes again after the other one wrote in between.
	t.Run("TurnsWithoutFlush", func(t *testing.T) {
		e := newEnv(t)
		a, b := open(t, e), open(t, e)
		for i, c := range []state.Backend{a, b, a, b, a} {
			l, err := c.Acquire(ctx, "app", "prod", state.LeaseOptions{Identity: &Alice})
			if err != nil {
				t.Fatalf("turn %d: %v", i, err)
			}
			if err := l.Store().Set(ctx, "app", "prod", Row(fmt.Sprintf("T%d", i), state.Created)); err != nil {
				t.Fatalf("turn %d: %v", i, err)
			}
			must(t, l.Release())
		}
		rows, err := state.LoadAll(ctx, open(t, e), "app", "prod")
		must(t, err)
		for i := range 5 {
			if r := rows[fmt.Sprintf("T%d", i)]; r == nil || r.Status != state.Created {
				t.Errorf("row T%d after the turns: %+v", i, r)
			}
		}
	})

	// Many clients racing for one stage: never two holders at once.
	t.Run("OneHolderAtATime", func(t *testing.T) {
		e := newEnv(t)
		var holders, maxHolders, turns atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			c := open(t, e)
			id := state.Identity{User: "racer", Host: fmt.Sprintf("host-%d", i), PID: 1000 + i}
			wg.Go(func() {
				for range 3 {
					l, err := c.Acquire(ctx, "app", "prod", state.LeaseOptions{Identity: &id, Wait: time.Minute})
					if err != nil {
						t.Error(err)
						return
					}
					n := holders.Add(1)
					for {
						m := maxHolders.Load()
						if n <= m || maxHolders.CompareAndSwap(m, n) {
							break
						}
					}
					if err := l.Store().Set(ctx, "app", "prod", Row(fmt.Sprintf("R%d", i), state.Created)); err != nil {
						t.Error(err)
					}
					time.Sleep(10 * time.Millisecond)
					holders.Add(-1)
					turns.Add(1)
					if err := l.Release(); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		if maxHolders.Load() != 1 || turns.Load() != 24 {
			t.Fatalf("max holders at once %d (want 1), turns %d (want 24)", maxHolders.Load(), turns.Load())
		}
	})
}

// Alice and Bob are lease holders on two other hosts.
var (
	Alice = state.Identity{User: "alice", Host: "alice-laptop.test", PID: 4242}
	Bob   = state.Identity{User: "bob", Host: "ci-runner-7.test", PID: 777}
)

// Row is a resource row for tests.
func Row(fqn string, status state.Status) *state.Row {
	return &state.Row{
		Kind:         "resource",
		ResourceType: "Test.Thing",
		FQN:          fqn,
		LogicalID:    fqn[strings.LastIndex(fqn, "/")+1:],
		InstanceID:   state.NewInstanceID(),
		Status:       status,
		Downstream:   []string{},
		Props:        json.RawMessage(`{"name":"x","n":1}`),
	}
}

// DeadPID is the pid of a process that ran and exited.
func DeadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func list(t *testing.T, s state.Store, stack, stage string) []string {
	t.Helper()
	fqns, err := s.List(context.Background(), stack, stage)
	must(t, err)
	return fqns
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func jsonEq(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// Guarded checks a shared store opened behind backends' secret guard, for
// a run without ALCHEMY_PASSWORD: a hashed secret is refused in outputs,
// written directly or through a lease (refused tells the guard's error),
// while leased rows and the one-read stage load go through. what names
// the store in messages.
func Guarded(t *testing.T, b state.Backend, what string, refused func(error) bool) {
	t.Helper()
	ctx := context.Background()
	hashed, _ := secret.New("", t.TempDir()).Seal(secret.Where{}, "s3cr3t-value")
	out, _ := json.Marshal(map[string]any{"token": hashed})
	if err := b.SetOutput(ctx, "app", "dev", out); !refused(err) {
		t.Errorf("a hashed secret written to %s without a password: %v", what, err)
	}
	l, err := b.Acquire(ctx, "app", "dev", state.LeaseOptions{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if err := l.Store().Set(ctx, "app", "dev", Row("R", state.Created)); err != nil {
		t.Fatal(err)
	}
	if err := state.Flush(ctx, l.Store()); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.(state.BulkReader); !ok {
		t.Errorf("the guard hides %s's one-read stage load", what)
	}
	if rows, err := state.LoadAll(ctx, b, "app", "dev"); err != nil || len(rows) != 1 {
		t.Errorf("LoadAll = %v, %v", rows, err)
	}
	if err := l.Store().SetOutput(ctx, "app", "dev", out); !refused(err) {
		t.Errorf("a hashed secret written through a %s lease without a password: %v", what, err)
	}
}
