// Command alchemy is the alchemy CLI.
package main

import (
	"os"

	"github.com/alchemy-go/alchemy/internal/cli"
)

func main() { os.Exit(cli.Main()) }
