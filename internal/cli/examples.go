package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// examples are the Example sections of --help, by command path without
// "alchemy ". They live in one table rather than in each NewCmdX so that
// the help text can be reviewed (and kept consistent) in one place; a
// command that sets its own Example keeps it. Entries for commands this
// build does not have are ignored: the help-walk test checks the tree, not
// the table.
var examples = map[string]string{
	"": `  alchemy init hello && cd hello
  alchemy deploy --stage prod
  alchemy profile list`,
	"init": `  alchemy init
  alchemy init hello`,
	"plan": `  alchemy plan
  alchemy plan --stage prod --detailed
  alchemy plan --json | jq .changes`,
	"deploy": `  alchemy deploy
  alchemy deploy --stage prod --profile prod
  alchemy deploy --stage ci --yes --json | jq .outputs`,
	"destroy": `  alchemy destroy --stage pr-123
  alchemy destroy --stage pr-123 --yes`,
	"dev": `  alchemy dev
  alchemy dev --stage dev_alice path/to/alchemy.run.go`,
	"outputs": `  alchemy outputs
  alchemy outputs --stage prod url
  alchemy outputs --stage prod --json | jq -r .url`,
	"state": `  alchemy state list
  alchemy state get hello/prod/Greeting`,
	"state list": `  alchemy state list
  alchemy state list hello
  alchemy state list hello/prod`,
	"state get": `  alchemy state get hello/prod/Greeting
  alchemy state get hello/prod/Greeting | jq .props`,
	"state delete": `  alchemy state delete hello/prod/Greeting
  alchemy state delete hello/pr-123 --yes`,
	"state lease": `  alchemy state lease
  alchemy state lease --state "$ALCHEMY_STATE" --json`,
	"state unlock": `  alchemy state unlock hello/prod
  alchemy state unlock hello/prod --yes`,
	"state migrate": `  alchemy state migrate --to postgres://alchemy@db.internal:5432/state
  alchemy state migrate --to s3://team-state/alchemy?region=eu-west-1 hello/prod
  alchemy state migrate --state postgres://alchemy@db.internal/state --to ./backup`,
	"logout": `  alchemy logout
  alchemy logout --profile prod --provider Cloudflare
  alchemy logout --provider AWS --sso`,
	"profile": `  alchemy profile list
  alchemy profile show --profile prod`,
	"profile show": `  alchemy profile show
  alchemy profile show --profile prod --json
  alchemy profile show --explain`,
	"profile list": `  alchemy profile list
  alchemy profile list --json`,
	"profile clear": `  alchemy profile clear --profile old`,
	"version": `  alchemy version
  alchemy --version
  alchemy version --json`,
	"completion": `  alchemy completion bash > /etc/bash_completion.d/alchemy
  alchemy completion zsh > "${fpath[1]}/_alchemy"`,
	"completion bash": `  source <(alchemy completion bash)
  alchemy completion bash > /etc/bash_completion.d/alchemy`,
	"completion zsh": `  source <(alchemy completion zsh)
  alchemy completion zsh > "${fpath[1]}/_alchemy"`,
	"completion fish": `  alchemy completion fish | source
  alchemy completion fish > ~/.config/fish/completions/alchemy.fish`,
	"completion powershell": `  alchemy completion powershell | Out-String | Invoke-Expression`,
	"help": `  alchemy help deploy
  alchemy help profile show`,
}

// applyExamples fills in the Example of every command in the tree from
// the table.
func applyExamples(c *cobra.Command) {
	if c.Example == "" {
		c.Example = examples[commandKey(c)]
	}
	for _, sub := range c.Commands() {
		applyExamples(sub)
	}
}

// commandKey is c's path without the root's name: "profile show".
func commandKey(c *cobra.Command) string {
	return strings.TrimPrefix(strings.TrimPrefix(c.CommandPath(), c.Root().Name()), " ")
}

// finishTree is the last step of NewRoot, once every command is added:
// the built-in help and completion commands join the tree now (cobra adds
// them only when executing) so that they too reject unknown subcommands and
// get examples, and every command then gets its flags' completion (when
// the shell asks for one) and usage errors as exit 2.
func finishTree(f *Factory, root *cobra.Command) {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	versionFlag(root)
	rejectUnknownSubcommands(root)
	strictHelp(root)
	applyExamples(root)
	completeFlagsOnRequest(f, root)
	usageErrors(root)
}
