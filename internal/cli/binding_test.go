package cli_test

import (
	"os"

	"github.com/alchemy-go/alchemy"
	cfres "github.com/alchemy-go/alchemy/cloudflare"
	"github.com/alchemy-go/alchemy/internal/cli"
	"github.com/alchemy-go/alchemy/internal/stacktest"
)

// awsProdAccount is the account STS (emulate behind the gate) answers for
// awsProdKey; every other key it lets through is in emulate's account,
// testpeers.AccountID.
const (
	awsProdAccount = "111122223333"
	awsProdKey     = "AKIAPRODEXAMPLE00001"
)

// boundStack is the `app` command of the scripts: a stack program with one
// Cloudflare KV namespace (its title from $APP_KV_TITLE, so a script can
// give a deploy something to change) whose stage prod is bound to profile
// prod, Cloudflare account cfAccount and AWS account awsProdAccount, and
// whose stage ci is bound to the Cloudflare account alone.
func boundStack() *cli.StackProgram {
	return stacktest.Program("app", func(s *alchemy.Stack) {
		props := cfres.KVNamespaceProps{}
		if t := os.Getenv("APP_KV_TITLE"); t != "" {
			props.Title = alchemy.String(t)
		}
		ns := cfres.NewKVNamespace(s, "Cache", props)
		s.Output("title", ns.Title)
	},
		alchemy.Stage("prod", alchemy.Profile("prod"),
			alchemy.Account("Cloudflare", cfAccount),
			alchemy.Account("AWS", awsProdAccount)),
		alchemy.Stage("ci", alchemy.Account("Cloudflare", cfAccount)),
	)
}

// badlyBoundStack is the `badapp` command: every declaration mistake a
// binding can make, at once.
func badlyBoundStack() *cli.StackProgram {
	return stacktest.Program("bad", func(*alchemy.Stack) {},
		alchemy.Stage("prod", alchemy.Profile("prod"), alchemy.Profile("other"),
			alchemy.Account("Cloudfare", cfAccount),
			alchemy.Account("GitHub", "octocat"),
			alchemy.Account("aws", ""),
			alchemy.Account("cloudflare", cfAccount),
			alchemy.Account("Cloudflare", cfOtherAccount)),
		alchemy.Stage("prod"),
		alchemy.Stage("Prod!"),
	)
}
