//go:build unix

package cli_test

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/alchemy-go/alchemy/internal/state"
	"github.com/alchemy-go/alchemy/internal/state/statetest"
	"github.com/alchemy-go/alchemy/internal/testpty"
)

// `alchemy state unlock` in a terminal shows the holder and asks, No by
// default; yes breaks that lease and only that one: a lease granted to
// another run while the question was up is left alone.
func TestPTYStateUnlockAsks(t *testing.T) {
	w := newPTYWorld(t, nil, "")
	dir := t.TempDir() // the project: no stack file, no go.mod
	ctx := context.Background()
	store := state.NewLocalBackend(dir)
	unlock := func() *testpty.Proc {
		cmd := exec.Command(os.Args[0], "state", "unlock", "app/prod")
		cmd.Env = append(append([]string(nil), w.env...), "ALCHEMY_STATE=")
		cmd.Dir = dir
		p := testpty.Start(t, cmd, 120, 40)
		p.Name = "alchemy"
		return p
	}
	hold := func(id state.Identity) state.Lease {
		l, err := store.Acquire(ctx, "app", "prod", state.LeaseOptions{Identity: &id})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Release() })
		return l
	}
	holder := func() string {
		infos, err := store.Leases(ctx)
		if err != nil || len(infos) > 1 {
			t.Fatalf("Leases = %+v, %v", infos, err)
		}
		if len(infos) == 0 {
			return ""
		}
		return infos[0].Host
	}

	alice := hold(statetest.Alice)
	t.Run("NoByDefault", func(t *testing.T) {
		p := unlock()
		p.Expect("app/prod is leased by alice@alice-laptop.test (pid 4242)")
		p.Expect("Break the lease of app/prod held by alice@alice-laptop.test (pid 4242)")
		p.Send(testpty.KeyEnter)
		p.Expect("The lease of app/prod was left alone.")
		p.RequireExit(1)
		if h := holder(); h != statetest.Alice.Host {
			t.Fatalf("after No, the lease is held by %q", h)
		}
	})

	t.Run("ChangedHandsMeanwhile", func(t *testing.T) {
		p := unlock()
		p.Expect("Break the lease of app/prod held by alice@alice-laptop.test (pid 4242)")
		// While the question is up, alice lets go and bob takes the stage.
		if err := alice.Release(); err != nil {
			t.Fatal(err)
		}
		bob := hold(statetest.Bob)
		p.Send("y")
		p.Expect("changed hands since it was shown: it is now held by bob@ci-runner-7.test (pid 777)")
		p.RequireExit(1)
		if h := holder(); h != statetest.Bob.Host {
			t.Fatalf("bob's lease was broken: held by %q", h)
		}
		alice = bob
	})

	t.Run("Yes", func(t *testing.T) {
		p := unlock()
		p.Expect("Break the lease of app/prod held by bob@ci-runner-7.test (pid 777)")
		p.Send("y")
		p.Expect("Broke the lease of app/prod, held by bob@ci-runner-7.test (pid 777)")
		p.RequireExit(0)
		if h := holder(); h != "" {
			t.Fatalf("after yes, the lease is held by %q", h)
		}
		if err := alice.Store().Set(ctx, "app", "prod", statetest.Row("Late", state.Created)); err == nil {
			t.Fatal("the broken holder still writes")
		}
	})
}
