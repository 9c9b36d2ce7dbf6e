package cli_test

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/alchemy-go/alchemy/internal/auth/bundled"
	"github.com/alchemy-go/alchemy/internal/cli"
	"github.com/alchemy-go/alchemy/internal/iostreams"
)

// TestHelpEveryCommand walks the whole tree: every command a person can
// see has a one-line summary and at least one example, and its --help
// shows both with its flags.
func TestHelpEveryCommand(t *testing.T) {
	newTestHome(t)
	io, _, _, _ := iostreams.Test()
	var visible []*cobra.Command
	walk(cli.NewRoot(&cli.Factory{IO: io, Registry: bundled.Registry}), func(c *cobra.Command) {
		if !c.Hidden {
			visible = append(visible, c)
		}
	})
	for _, c := range visible {
		path := c.CommandPath()
		if c.Short == "" || strings.Contains(c.Short, "\n") {
			t.Errorf("%s: Short %q is not a one-line summary", path, c.Short)
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s: no Example (add one to the table in examples.go)", path)
			continue
		}
		for _, line := range strings.Split(c.Example, "\n") {
			if !strings.HasPrefix(line, "  ") || !strings.Contains(line, "alchemy ") {
				t.Errorf("%s: example line %q does not run alchemy", path, line)
			}
		}
		args := append(strings.Fields(strings.TrimPrefix(path, "alchemy")), "--help")
		r := runCLI(t, args...)
		for _, want := range []string{"Usage:", "Flags:", "Examples:", strings.SplitN(c.Example, "\n", 2)[0]} {
			if r.code != 0 || !strings.Contains(r.out, want) {
				t.Errorf("%s --help: exit %d, no %q in:\n%s", path, r.code, want, r.out)
			}
		}
	}
}
