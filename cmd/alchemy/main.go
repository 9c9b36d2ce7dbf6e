// Command alchemy is the alchemy CLI.
package main

import (
	"os"

	"github.com/alchemy-go/alchemy/internal/cli"
	_ "github.com/alchemy-go/alchemy/internal/state/pgstate/pglink" // every state store: `alchemy state` opens any
	_ "github.com/alchemy-go/alchemy/internal/state/s3state/s3link"
)

func main() { os.Exit(cli.Main()) }
