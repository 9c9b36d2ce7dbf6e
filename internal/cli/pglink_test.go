package cli

// The alchemy binary links the PostgreSQL state store (cmd/alchemy); so do
// this package's tests, which run its commands in-process.
import _ "github.com/alchemy-go/alchemy/internal/state/pgstate/pglink"
