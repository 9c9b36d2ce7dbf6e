// Package pglink links the PostgreSQL state store into a program: importing
// it sets backends.OpenPostgres. The alchemy binary imports it; so does a
// stack program built with the SDK's default tags (go run), and one alchemy
// builds for a stack whose state is on PostgreSQL (internal/stackrun's
// features).
package pglink

import (
	"github.com/alchemy-go/alchemy/internal/state/backends"
	"github.com/alchemy-go/alchemy/internal/state/pgstate"
)

func init() { backends.OpenPostgres = pgstate.OpenBackend }
