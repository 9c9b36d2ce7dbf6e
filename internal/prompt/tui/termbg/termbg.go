// Package termbg keeps a program from asking the terminal its background
// colour as it starts.
//
// bubbletea's package init asks it (lipgloss.HasDarkBackground: a query
// written to the terminal and a wait for the answer, a network round trip
// over SSH and five seconds where nothing answers) in every program that
// links it, before any prompt is drawn: every alchemy command on a terminal
// paid it, `--version` included. This package imports lipgloss but not
// bubbletea and its import path sorts before bubbletea's, so it is
// initialised first (the spec's initialisation order) and gives lipgloss an
// explicit background, which bubbletea's init then reads without asking.
// Detect asks the terminal once, when a prompt is about to be drawn.
package termbg

import (
	"io"
	"sync"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

func init() { lipgloss.SetHasDarkBackground(true) }

var detect sync.Once

// Detect asks out's terminal for its background once per process (before
// the first prompt: once a form runs it reads the terminal's input, where
// the answer would land) and gives lipgloss the answer. Where out is no
// terminal nothing is asked and the background stays dark.
func Detect(out io.Writer) {
	detect.Do(func() {
		lipgloss.SetHasDarkBackground(termenv.NewOutput(out).HasDarkBackground())
	})
}
