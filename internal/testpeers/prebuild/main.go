// Command prebuild builds the Go test peers that take long to build cold
// (versitygw: about 2 min), so that ./scripts/test pays for it once, up
// front, rather than inside the first test that starts the peer. It prints
// the binary's path.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/alchemy-go/alchemy/internal/testpeers"
)

func main() {
	start := time.Now()
	exe, err := testpeers.BuildVersitygw()
	if err != nil {
		fmt.Fprintln(os.Stderr, "prebuild:", err)
		os.Exit(1)
	}
	fmt.Printf("versitygw: %s (%v)\n", exe, time.Since(start).Round(time.Millisecond))
}
