// Command alchemy is the alchemy CLI.
package main

import (
	"os"

	"github.com/alchemy-go/alchemy/internal/cli"
	_ "github.com/alchemy-go/alchemy/internal/state/pgstate/pglink" // every state store: `alchemy state` opens any
)

func main() { os.Exit(cli.Main()) }
