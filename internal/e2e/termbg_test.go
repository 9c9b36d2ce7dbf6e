//go:build unix

package e2e

import (
	"strings"
	"testing"

	"github.com/alchemy-go/alchemy/internal/testpty"
)

// bgQuery is the query termenv writes to learn the terminal's background
// colour: a round trip to the terminal (over SSH, to the far end), and a
// five-second wait where nothing answers.
const bgQuery = "\x1b]11;?"

// No command asks the terminal anything as it starts: only a prompt about
// to be drawn asks its background (once), so `--version`, `--help` and a
// plan on a terminal never wait for an answer (bubbletea's package init
// asked it in every process; internal/prompt/tui/termbg).
func TestNoTerminalQueryUntilAPrompt(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	hello := w.project(example("hello"))
	for _, args := range [][]string{{"--version"}, {"--help"}, {"plan", hello}} {
		p := w.startPTY(nil, args...)
		p.RequireExit(0)
		if n := strings.Count(p.Raw(), bgQuery); n != 0 {
			t.Errorf("alchemy %s asked the terminal its background %d times:\n%q", strings.Join(args, " "), n, p.Raw())
		}
	}
	// A deploy asks, once, when its approval prompt is about to be drawn,
	// and the prompt still works.
	p := w.startPTY(nil, "deploy", hello)
	p.Expect("Plan: 2 to create")
	p.Expect("> Deploy")
	raw := p.Raw()
	i := strings.Index(raw, bgQuery)
	if n := strings.Count(raw, bgQuery); n != 1 || i < strings.Index(raw, "Plan: 2 to create") {
		t.Errorf("the deploy asked the terminal its background %d times (want once, after the plan, for its prompt):\n%q", n, raw)
	}
	p.Send(testpty.KeyDown, testpty.KeyEnter)
	p.Expect("Deploy aborted: plan declined.")
	p.RequireExit(1)
}
