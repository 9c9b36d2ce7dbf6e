// Package tui is the terminal's prompter: charmbracelet/huh forms. It
// registers itself with package prompt when linked; the alchemy command
// links it, and so does a stack program run with `go run`. A stack program
// that the alchemy command builds does not (-tags=alchemy_child): its
// questions are drawn by the command (prompt.Serve).
package tui

import (
	"context"
	"errors"
	"io"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/huh"

	"github.com/alchemy-go/alchemy/internal/prompt"
	"github.com/alchemy-go/alchemy/internal/prompt/tui/termbg"
)

func init() { prompt.SetTerminal(New) }

// New returns the prompter that draws on out and reads keys from in.
func New(in io.Reader, out io.Writer) prompt.Prompter { return &terminal{in: in, out: out} }

type terminal struct {
	in  io.Reader
	out io.Writer
}

// run draws f until it is answered, the person cancels it (Ctrl-C, Esc:
// ErrCancelled) or ctx ends (ctx's error).
//
// bubbletea's own signal handler is off. With it, a SIGTERM ended the form
// as if it were submitted: the choice under the cursor ("Deploy"), or half
// a typed token, came back as the answer. And a SIGTERM that arrived as
// ctx ended left its handler blocked sending to a form that had stopped
// reading, so the program never returned (a stack program's prompt, which
// the command cancels when the program is signalled). Signals reach a
// prompt through ctx instead: the command's own handler cancels it.
func (t *terminal) run(ctx context.Context, f huh.Field) error {
	termbg.Detect(t.out)
	err := huh.NewForm(huh.NewGroup(f)).
		// Replaces the form's program options, so before WithInput and
		// WithOutput, which add to them; huh's focus reports are kept.
		WithProgramOptions(tea.WithReportFocus(), tea.WithoutSignalHandler()).
		WithInput(t.in).WithOutput(t.out).WithShowHelp(false).
		RunWithContext(ctx)
	switch {
	case errors.Is(err, huh.ErrUserAborted):
		return prompt.ErrCancelled
	case err != nil && ctx.Err() != nil:
		return ctx.Err() // huh says "timeout" for any end of ctx
	}
	return err
}

func label(o prompt.Option) string {
	if o.Label == "" {
		o.Label = o.Value
	}
	if o.Hint == "" {
		return o.Label
	}
	return o.Label + " (" + o.Hint + ")"
}

func (t *terminal) Select(ctx context.Context, title string, options []prompt.Option, initial string) (string, error) {
	opts := make([]huh.Option[string], len(options))
	for i, o := range options {
		// Not .Selected(...): in huh that scrolls the selected option to the
		// top, hiding the ones above it (the "not yet available" methods).
		// .Value(&v) alone puts the cursor on it.
		opts[i] = huh.NewOption(label(o), o.Value)
	}
	v := initial
	err := t.run(ctx, huh.NewSelect[string]().Title(title).Options(opts...).Value(&v))
	return v, err
}

func (t *terminal) MultiSelect(ctx context.Context, title string, options []prompt.Option, initial []string) ([]string, error) {
	selected := map[string]bool{}
	for _, v := range initial {
		selected[v] = true
	}
	opts := make([]huh.Option[string], len(options))
	for i, o := range options {
		opts[i] = huh.NewOption(label(o), o.Value).Selected(selected[o.Value])
	}
	v := append([]string(nil), initial...)
	// A multi-select is the one prompt whose keys are not obvious: enter
	// alone confirms nothing chosen. The keys are named under the title,
	// always: huh's help line gives way to the validation message, which
	// shows until something is chosen.
	err := t.run(ctx, huh.NewMultiSelect[string]().Title(title).Options(opts...).Value(&v).
		Description("space to toggle, enter to confirm").
		Validate(func(v []string) error {
			if len(v) == 0 {
				return errors.New("Select at least one")
			}
			return nil
		}))
	return v, err
}

func (t *terminal) Input(ctx context.Context, in prompt.Input) (string, error) {
	var v string
	field := huh.NewInput().Title(in.Title).Value(&v).Validate(func(s string) error {
		return check(in, s)
	})
	if in.Placeholder != "" {
		field = field.Placeholder(in.Placeholder)
	}
	if in.Secret {
		field = field.EchoMode(huh.EchoModePassword)
	}
	if err := t.run(ctx, field); err != nil {
		return "", err
	}
	return answer(in, v), nil
}

func (t *terminal) Confirm(ctx context.Context, title string, initial bool) (bool, error) {
	v := initial
	err := t.run(ctx, huh.NewConfirm().Title(title).Affirmative("Yes").Negative("No").Value(&v))
	return v, err
}

func answer(in prompt.Input, v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return in.Default
	}
	return v
}

// check applies Required and Validate to the answer as it will be returned.
func check(in prompt.Input, raw string) error {
	v := answer(in, raw)
	if v == "" {
		if in.Required {
			return errors.New("Required")
		}
		return nil
	}
	if in.Validate != nil {
		return in.Validate(v)
	}
	return nil
}
