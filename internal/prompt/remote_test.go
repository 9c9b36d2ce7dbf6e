package prompt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/redact"
)

// scripted stands in for the person at the alchemy command's terminal: it
// records each question and answers from its script.
type scripted struct {
	mu    sync.Mutex
	asked []string
	// typed are what the person types into an input, in turn; the last
	// one that passes Validate is the answer (as the form would submit it).
	typed   []string
	checks  []string // Validate's verdict on each typed value ("" valid)
	err     error    // returned by every prompt when set
	block   chan struct{}
	blocked chan struct{}
	ctxErr  error // the context error a blocked prompt ended with
}

func (s *scripted) note(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, fmt.Sprintf(format, args...))
}

func (s *scripted) wait(ctx context.Context) error {
	s.mu.Lock()
	block, blocked := s.block, s.blocked
	s.block, s.blocked = nil, nil // only the first prompt blocks
	s.mu.Unlock()
	if block == nil {
		return s.err
	}
	close(blocked)
	select {
	case <-ctx.Done():
		s.mu.Lock()
		s.ctxErr = ctx.Err()
		s.mu.Unlock()
		return ErrCancelled
	case <-block:
		return s.err
	}
}

func (s *scripted) Select(ctx context.Context, title string, options []Option, initial string) (string, error) {
	s.note("select %q %v initial=%q", title, options, initial)
	if err := s.wait(ctx); err != nil {
		return "", err
	}
	return options[len(options)-1].Value, nil
}

func (s *scripted) MultiSelect(ctx context.Context, title string, options []Option, initial []string) ([]string, error) {
	s.note("multiselect %q %v initial=%v", title, options, initial)
	return append(initial, options[0].Value), s.wait(ctx)
}

func (s *scripted) Input(ctx context.Context, in Input) (string, error) {
	s.note("input %q placeholder=%q default=%q secret=%v required=%v validate=%v", in.Title, in.Placeholder, in.Default, in.Secret, in.Required, in.Validate != nil)
	if err := s.wait(ctx); err != nil {
		return "", err
	}
	var last string
	for _, v := range s.typed {
		verdict := ""
		if in.Validate != nil {
			if err := in.Validate(v); err != nil {
				verdict = err.Error()
			}
		}
		s.checks = append(s.checks, verdict)
		if verdict == "" {
			last = v
		}
	}
	return last, nil
}

func (s *scripted) Confirm(ctx context.Context, title string, initial bool) (bool, error) {
	s.note("confirm %q initial=%v", title, initial)
	return !initial, s.wait(ctx)
}

// conversation is Serve with a prompter on one end of two pipes and a
// Remote on the other.
type conversation struct {
	r      *Remote
	out    *os.File      // the program's end that Serve reads
	served chan struct{} // closed when Serve has returned, with err
	err    error
}

// connect starts a conversation answered by p; stop closes the program's
// end and returns what Serve returned.
func connect(t *testing.T, p Prompter) (r *Remote, stop func() error) {
	c := converse(t, p)
	return c.r, c.stop
}

func converse(t *testing.T, p Prompter) *conversation {
	t.Helper()
	childIn, toChild, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fromChild, childOut, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &conversation{r: NewRemote(childIn, childOut), out: childOut, served: make(chan struct{})}
	go func() {
		c.err = Serve(fromChild, toChild, p) // closes toChild
		close(c.served)
	}()
	t.Cleanup(func() {
		c.stop()
		childIn.Close()
		fromChild.Close()
	})
	return c
}

func (c *conversation) stop() error {
	c.out.Close()
	<-c.served
	return c.err
}

func TestRemoteAsksThroughTheCommand(t *testing.T) {
	t.Cleanup(redact.Reset)
	s := &scripted{typed: []string{"short", "hunter2-long-enough"}}
	r, stop := connect(t, s)
	ctx := context.Background()

	opts := []Option{{Value: "a", Label: "Alpha", Hint: "first"}, {Value: "b"}}
	if v, err := r.Select(ctx, "Pick one", opts, "a"); err != nil || v != "b" {
		t.Fatalf("Select = %q, %v", v, err)
	}
	if v, err := r.MultiSelect(ctx, "Pick some", opts, []string{"b"}); err != nil || strings.Join(v, ",") != "b,a" {
		t.Fatalf("MultiSelect = %v, %v", v, err)
	}
	if v, err := r.Confirm(ctx, "Sure?", true); err != nil || v {
		t.Fatalf("Confirm = %v, %v", v, err)
	}
	// Validate is the program's: the command asks it back for each value
	// typed, and shows its verdict.
	var validated []string
	in := Input{Title: "Token", Placeholder: "tok_…", Default: "none", Secret: true, Required: true,
		Validate: func(v string) error {
			validated = append(validated, v)
			if len(v) < 8 {
				return errors.New("at least 8 characters")
			}
			return nil
		}}
	if v, err := r.Input(ctx, in); err != nil || v != "hunter2-long-enough" {
		t.Fatalf("Input = %q, %v", v, err)
	}
	if got := strings.Join(validated, "|"); got != "short|hunter2-long-enough" {
		t.Errorf("the program validated %q, want both typed values", got)
	}
	if got := strings.Join(s.checks, "|"); got != "at least 8 characters|" {
		t.Errorf("the command saw the verdicts %q", got)
	}
	// The secret answer is registered for redaction in the command too.
	if got := redact.String("token hunter2-long-enough"); strings.Contains(got, "hunter2") {
		t.Errorf("the command would print the secret answer: %q", got)
	}
	want := []string{
		`select "Pick one" [{a Alpha first} {b  }] initial="a"`,
		`multiselect "Pick some" [{a Alpha first} {b  }] initial=[b]`,
		`confirm "Sure?" initial=true`,
		`input "Token" placeholder="tok_…" default="none" secret=true required=true validate=true`,
	}
	if got := strings.Join(s.asked, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("the command was asked:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if err := stop(); err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func TestRemoteErrors(t *testing.T) {
	for _, c := range []struct {
		err  error
		want error
	}{
		{ErrCancelled, ErrCancelled},
		{ErrNonInteractive, ErrNonInteractive},
		{fmt.Errorf("open /dev/tty: %w", ErrCancelled), ErrCancelled},
	} {
		r, _ := connect(t, &scripted{err: c.err})
		if _, err := r.Confirm(context.Background(), "Sure?", false); !errors.Is(err, c.want) {
			t.Errorf("the command's %v reached the program as %v, want %v", c.err, err, c.want)
		}
	}
	r, _ := connect(t, &scripted{err: errors.New("the terminal went away")})
	if _, err := r.Confirm(context.Background(), "Sure?", false); err == nil || err.Error() != "the terminal went away" {
		t.Errorf("got %v", err)
	}
}

// A program that stops waiting (its context ends: a signal) takes the
// prompt off the command's screen, and its next question gets its own
// answer, not the late one.
func TestRemoteCancelTakesThePromptDown(t *testing.T) {
	blocked := make(chan struct{})
	s := &scripted{block: make(chan struct{}), blocked: blocked}
	r, _ := connect(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-blocked; cancel() }()
	if _, err := r.Select(ctx, "Pick", []Option{{Value: "a"}}, ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("Select after cancel = %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		e := s.ctxErr
		s.mu.Unlock()
		if e != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the command's prompt was not cancelled")
		}
		time.Sleep(time.Millisecond)
	}
	if v, err := r.Confirm(context.Background(), "Again?", false); err != nil || !v {
		t.Fatalf("the next question got %v, %v", v, err)
	}
}

// A program that writes what is not a question (a stray write to its
// descriptor) ends the conversation: its next question fails at once,
// rather than waiting for an answer that never comes.
func TestServeEndsOnGarbage(t *testing.T) {
	c := converse(t, &scripted{})
	r := c.r
	if _, err := c.out.WriteString("not a question\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.served:
		if c.err == nil {
			t.Error("Serve took garbage for a question")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve is still reading after garbage")
	}
	done := make(chan error, 1)
	go func() { _, err := r.Confirm(context.Background(), "Sure?", false); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, errParentGone) {
			t.Errorf("the question after it got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the program's question waits forever for a command that stopped answering")
	}
}

// When the command is gone the program's question fails at once, saying
// so, rather than waiting forever.
func TestRemoteCommandGone(t *testing.T) {
	pr, pw := io.Pipe()
	r := NewRemote(pr, io.Discard)
	pw.Close()
	if _, err := r.Confirm(context.Background(), "Sure?", false); !errors.Is(err, errParentGone) {
		t.Fatalf("got %v", err)
	}
}

// Serve ends when the program's end closes, cancelling a prompt still on
// the screen and waiting for it to go.
func TestServeEndsWithTheProgram(t *testing.T) {
	blocked := make(chan struct{})
	s := &scripted{block: make(chan struct{}), blocked: blocked}
	r, stop := connect(t, s)
	go r.Confirm(context.Background(), "Sure?", false)
	<-blocked
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctxErr == nil {
		t.Fatal("Serve returned with the prompt still up")
	}
}
