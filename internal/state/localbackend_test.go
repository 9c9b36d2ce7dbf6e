package state_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/lock"
	"github.com/alchemy-go/alchemy/internal/state"
	"github.com/alchemy-go/alchemy/internal/state/statetest"
)

func TestLocalBackendContract(t *testing.T) {
	statetest.Run(t, func(t *testing.T) statetest.Env {
		root := t.TempDir()
		return statetest.Env{
			TTL: 2 * time.Second,
			Open: func(t *testing.T) state.Backend {
				b := state.NewLocalBackend(root)
				b.TTL = 2 * time.Second
				b.Warn = func(msg string) { t.Log("warning: " + msg) }
				return b
			},
		}
	})
}

// A stage lock taken the way the TypeScript tool and earlier versions take
// it (the same key, no lease fields in its owner) is a lease: listed under
// the right stack even when the stack name has a '-', and breakable by its
// nonce.
func TestLocalBackendSeesPlainStageLocks(t *testing.T) {
	root := t.TempDir()
	b := state.NewLocalBackend(root)
	ctx := context.Background()
	if err := b.Set(ctx, "my-app", "prod", statetest.Row("R", state.Created)); err != nil {
		t.Fatal(err)
	}
	l, err := lock.Acquire(ctx, filepath.Join(root, ".alchemy", "lock"), "stage-my-app-prod", lock.Options{Command: "alchemy deploy --stage prod"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	infos, err := b.Leases(ctx)
	if err != nil || len(infos) != 1 {
		t.Fatalf("Leases = %+v, %v", infos, err)
	}
	if i := infos[0]; i.Stack != "my-app" || i.Stage != "prod" || i.PID != os.Getpid() || i.Token != l.Nonce() || i.Stale ||
		i.Command != "alchemy deploy --stage prod" {
		t.Fatalf("lease = %+v", i)
	}
	_, err = b.Acquire(ctx, "my-app", "prod", state.LeaseOptions{})
	var held *state.HeldError
	if !errors.As(err, &held) || held.Info.PID != os.Getpid() {
		t.Fatalf("Acquire over a plain stage lock = %v", err)
	}
	if err := b.Break(ctx, "my-app", "prod", infos[0].Token); err != nil {
		t.Fatal(err)
	}
	if err := l.Check(); err == nil {
		// Check trusts a recent look for a second; Verify does not.
		if err := l.Verify(); err == nil {
			t.Fatal("the broken lock still verifies")
		}
	}
}
