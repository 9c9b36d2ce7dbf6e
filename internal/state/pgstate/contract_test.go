package pgstate

import (
	"context"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/state"
	"github.com/alchemy-go/alchemy/internal/state/statetest"
	"github.com/alchemy-go/alchemy/internal/testpeers"
)

// open connects a new client to pg's database, as another process would,
// and closes it at the end of the test.
func open(t testing.TB, dsn string, opts Options) *Backend {
	t.Helper()
	b, err := Open(context.Background(), dsn, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestContract(t *testing.T) {
	statetest.Run(t, func(t *testing.T) statetest.Env {
		pg := testpeers.Postgres(t)
		return statetest.Env{
			Open: func(t *testing.T) state.Backend {
				b, err := Open(context.Background(), pg.DSN, Options{Warn: func(s string) { t.Log("warning: " + s) }})
				if err != nil {
					t.Fatal(err)
				}
				return b
			},
			TTL: 2 * time.Second,
		}
	})
}
