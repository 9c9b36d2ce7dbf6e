package cli_test

import (
	"os"
	"path/filepath"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/aws"
	"github.com/alchemy-go/alchemy/cloudflare"
	"github.com/alchemy-go/alchemy/internal/cli"
	"github.com/alchemy-go/alchemy/internal/stacktest"
)

// scriptStack is the stack program of the testscripts' `alchemy-stack`
// command: what `alchemy deploy` would build from an alchemy.run.go in the
// script's current directory (its state goes there too), run in-process. It
// declares a Cloudflare KV namespace, and an SQS queue with STACK_AWS=1.
func scriptStack() *cli.StackProgram {
	p := stacktest.Program("app", func(s *alchemy.Stack) {
		cloudflare.NewKVNamespace(s, "Cache", cloudflare.KVNamespaceProps{Title: alchemy.String("app-cache")})
		if os.Getenv("STACK_AWS") == "1" {
			aws.NewSQSQueue(s, "Jobs", aws.SQSQueueProps{})
		}
	})
	wd, _ := os.Getwd()
	p.File = filepath.Join(wd, "alchemy.run.go")
	return p
}
