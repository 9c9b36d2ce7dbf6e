// Package prompt is the one place alchemy asks a person something. Commands
// and auth providers depend on the Prompter interface; the terminal
// implementation uses charmbracelet/huh (arrow-key selects, masked secrets),
// and when nobody can answer every prompt fails with ErrNonInteractive
// instead of blocking.
package prompt

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"

	"github.com/charmbracelet/huh"

	"github.com/alchemy-go/alchemy/internal/iostreams"
	"github.com/alchemy-go/alchemy/internal/redact"
)

// ErrCancelled is returned when the person cancels a prompt (Ctrl-C, Esc).
var ErrCancelled = errors.New("User cancelled prompt")

// ErrNonInteractive is returned by every prompt when nobody can answer.
var ErrNonInteractive = errors.New("cannot prompt: this process is non-interactive")

// Option is one choice of a select.
type Option struct {
	Value string
	Label string
	Hint  string
}

// Input describes a free-text question.
type Input struct {
	Title       string
	Placeholder string
	// Default is returned when the answer is empty.
	Default string
	// Secret masks the answer as it is typed.
	Secret bool
	// Required refuses an empty answer (after Default) with "Required".
	Required bool
	Validate func(string) error
}

// Prompter asks questions.
type Prompter interface {
	Select(ctx context.Context, title string, options []Option, initial string) (string, error)
	MultiSelect(ctx context.Context, title string, options []Option, initial []string) ([]string, error)
	Input(ctx context.Context, in Input) (string, error)
	Confirm(ctx context.Context, title string, initial bool) (bool, error)
}

// interactive serialises whole prompt flows across goroutines, so two
// providers configuring at once never interleave their questions.
var interactive sync.Mutex

// Exclusive runs fn holding the process-wide interactive mutex.
func Exclusive(fn func() error) error {
	interactive.Lock()
	defer interactive.Unlock()
	return fn()
}

// New returns the terminal prompter when a person can answer, else one that
// fails every prompt with ErrNonInteractive.
func New(io *iostreams.IOStreams) Prompter {
	if !io.CanPrompt() {
		return NonInteractive{}
	}
	// The terminal itself, not the redacting writer: the form library
	// sizes and colours itself from the file, and what it draws is our
	// questions and the person's own (masked) answers.
	out, _ := io.Disclosed()
	return &terminal{in: io.In, out: out}
}

// NonInteractive fails every prompt.
type NonInteractive struct{}

func (NonInteractive) Select(context.Context, string, []Option, string) (string, error) {
	return "", ErrNonInteractive
}
func (NonInteractive) MultiSelect(context.Context, string, []Option, []string) ([]string, error) {
	return nil, ErrNonInteractive
}
func (NonInteractive) Input(context.Context, Input) (string, error) { return "", ErrNonInteractive }
func (NonInteractive) Confirm(context.Context, string, bool) (bool, error) {
	return false, ErrNonInteractive
}

type terminal struct {
	in  io.Reader
	out io.Writer
}

func (t *terminal) run(ctx context.Context, f huh.Field) error {
	err := huh.NewForm(huh.NewGroup(f)).
		WithInput(t.in).WithOutput(t.out).WithShowHelp(false).
		RunWithContext(ctx)
	if errors.Is(err, huh.ErrUserAborted) {
		return ErrCancelled
	}
	return err
}

func label(o Option) string {
	if o.Label == "" {
		o.Label = o.Value
	}
	if o.Hint == "" {
		return o.Label
	}
	return o.Label + " (" + o.Hint + ")"
}

func (t *terminal) Select(ctx context.Context, title string, options []Option, initial string) (string, error) {
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

func (t *terminal) MultiSelect(ctx context.Context, title string, options []Option, initial []string) ([]string, error) {
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

func (t *terminal) Input(ctx context.Context, in Input) (string, error) {
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

func answer(in Input, v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return in.Default
	}
	return v
}

// check applies Required and Validate to the answer as it will be returned.
func check(in Input, raw string) error {
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

// Registering returns p with every answer to a secret input registered
// with the redaction registry the moment it is typed, before anything (a
// failed check, an error message) could show it.
func Registering(p Prompter) Prompter {
	if _, ok := p.(NonInteractive); ok {
		return p
	}
	return registering{p}
}

type registering struct{ Prompter }

func (r registering) Input(ctx context.Context, in Input) (string, error) {
	v, err := r.Prompter.Input(ctx, in)
	if in.Secret {
		redact.Add(v)
	}
	return v, err
}
