package prompt

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// A stack program that the alchemy command runs does not draw prompts: it
// asks the command, over two pipes the command passes it (claimParent),
// and the command asks the person with its own prompter (Serve). The
// program then links no form library (the alchemy command builds it with
// -tags=alchemy_child), and the questions look exactly as they would
// in-process: validation of a free-text answer is asked back of the
// program as the person types (Input.Validate is a function of the
// program's).
//
// The conversation is JSON, one message per line. Each question has an id;
// a message about another question than the one in flight is dropped (the
// answer to a question the program stopped waiting for).

// message is one line of the conversation.
type message struct {
	ID int `json:"id"`
	// From the program.
	Ask     *question `json:"ask,omitempty"`
	Cancel  bool      `json:"cancel,omitempty"`  // it stopped waiting (its context ended)
	Checked *string   `json:"checked,omitempty"` // Validate's error for Check, "" when valid
	// From the command.
	Check  *string `json:"check,omitempty"` // an answer as typed so far, to validate
	Answer *reply  `json:"answer,omitempty"`
}

type question struct {
	Kind        string   `json:"kind"` // select, multiselect, input or confirm
	Title       string   `json:"title,omitempty"`
	Options     []Option `json:"options,omitempty"`
	Initial     string   `json:"initial,omitempty"`
	Initials    []string `json:"initials,omitempty"`
	InitialYes  bool     `json:"initialYes,omitempty"`
	Placeholder string   `json:"placeholder,omitempty"`
	Default     string   `json:"default,omitempty"`
	Secret      bool     `json:"secret,omitempty"`
	Required    bool     `json:"required,omitempty"`
	Validate    bool     `json:"validate,omitempty"`
}

type reply struct {
	Value  string   `json:"value,omitempty"`
	Values []string `json:"values,omitempty"`
	Yes    bool     `json:"yes,omitempty"`
	// Err is "cancelled", "noninteractive", or the text of another error.
	Err string `json:"err,omitempty"`
}

const (
	errCancelled      = "cancelled"
	errNonInteractive = "noninteractive"
)

// errParentGone is returned when the alchemy command stopped answering.
var errParentGone = errors.New("cannot prompt: the alchemy command that runs this stack program stopped answering")

// parent is this process's way to ask the alchemy command that runs it, or
// nil (claimParent).
var parent *Remote

// Remote asks the alchemy command that runs this program (package doc
// above). Questions are asked one at a time.
type Remote struct {
	mu   sync.Mutex // one question at a time
	next int

	wmu sync.Mutex
	enc *json.Encoder

	in   chan message // what the command said, in order
	gone chan struct{}
}

// NewRemote asks over r (from the command) and w (to it).
func NewRemote(r io.Reader, w io.Writer) *Remote {
	p := &Remote{enc: json.NewEncoder(w), in: make(chan message), gone: make(chan struct{})}
	go func() {
		defer close(p.gone)
		dec := json.NewDecoder(bufio.NewReader(r))
		for {
			var m message
			if err := dec.Decode(&m); err != nil {
				return
			}
			p.in <- m
		}
	}()
	return p
}

func (p *Remote) send(m message) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	return p.enc.Encode(m)
}

func (p *Remote) ask(ctx context.Context, q question, validate func(string) error) (reply, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return reply{}, err
	}
	p.next++
	id := p.next
	if err := p.send(message{ID: id, Ask: &q}); err != nil {
		return reply{}, errParentGone
	}
	for {
		select {
		case <-ctx.Done():
			_ = p.send(message{ID: id, Cancel: true})
			return reply{}, ctx.Err()
		case <-p.gone:
			return reply{}, errParentGone
		case m := <-p.in:
			switch {
			case m.ID != id:
			case m.Check != nil:
				text := ""
				if validate != nil {
					if err := validate(*m.Check); err != nil {
						text = err.Error()
					}
				}
				if err := p.send(message{ID: id, Checked: &text}); err != nil {
					return reply{}, errParentGone
				}
			case m.Answer != nil:
				switch m.Answer.Err {
				case "":
					return *m.Answer, nil
				case errCancelled:
					return reply{}, ErrCancelled
				case errNonInteractive:
					return reply{}, ErrNonInteractive
				default:
					return reply{}, errors.New(m.Answer.Err)
				}
			}
		}
	}
}

func (p *Remote) Select(ctx context.Context, title string, options []Option, initial string) (string, error) {
	r, err := p.ask(ctx, question{Kind: "select", Title: title, Options: options, Initial: initial}, nil)
	return r.Value, err
}

func (p *Remote) MultiSelect(ctx context.Context, title string, options []Option, initial []string) ([]string, error) {
	r, err := p.ask(ctx, question{Kind: "multiselect", Title: title, Options: options, Initials: initial}, nil)
	return r.Values, err
}

func (p *Remote) Input(ctx context.Context, in Input) (string, error) {
	r, err := p.ask(ctx, question{Kind: "input", Title: in.Title, Placeholder: in.Placeholder, Default: in.Default,
		Secret: in.Secret, Required: in.Required, Validate: in.Validate != nil}, in.Validate)
	return r.Value, err
}

func (p *Remote) Confirm(ctx context.Context, title string, initial bool) (bool, error) {
	r, err := p.ask(ctx, question{Kind: "confirm", Title: title, InitialYes: initial}, nil)
	return r.Yes, err
}

// Serve answers a stack program's questions (read from r, answered on w)
// with p, one at a time, until r ends or holds what is not a question; a
// question in flight then is cancelled, and Serve returns once its prompt
// is gone from the screen. It closes w as it returns, so that a question
// the program asks after that fails at once instead of waiting forever.
// Secret answers are registered for redaction here too (Registering).
func Serve(r io.Reader, w io.WriteCloser, p Prompter) error {
	defer w.Close()
	p = Registering(p)
	enc := json.NewEncoder(w)
	var wmu sync.Mutex
	send := func(m message) {
		wmu.Lock()
		defer wmu.Unlock()
		_ = enc.Encode(m) // a program that is gone reads nothing
	}
	type asking struct {
		id      int
		cancel  context.CancelFunc
		checked chan string
		done    chan struct{}
	}
	var cur *asking
	finish := func() {
		if cur != nil {
			cur.cancel()
			<-cur.done
			cur = nil
		}
	}
	defer finish()
	dec := json.NewDecoder(bufio.NewReader(r))
	for {
		var m message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading the stack program's question: %w", err)
		}
		switch {
		case m.Ask != nil:
			finish() // the program asks one question at a time
			ctx, cancel := context.WithCancel(context.Background())
			a := &asking{id: m.ID, cancel: cancel, checked: make(chan string, 1), done: make(chan struct{})}
			cur = a
			go func(q question) {
				defer close(a.done)
				var validate func(string) error
				if q.Validate {
					var one sync.Mutex
					validate = func(v string) error {
						one.Lock()
						defer one.Unlock()
						send(message{ID: a.id, Check: &v})
						select {
						case text := <-a.checked:
							if text != "" {
								return errors.New(text)
							}
							return nil
						case <-ctx.Done():
							return ctx.Err()
						}
					}
				}
				rep := answer(ctx, p, q, validate)
				send(message{ID: a.id, Answer: &rep})
			}(*m.Ask)
		case cur == nil || m.ID != cur.id:
		case m.Cancel:
			cur.cancel()
		case m.Checked != nil:
			select {
			case cur.checked <- *m.Checked:
			default:
			}
		}
	}
}

// answer asks p the question q.
func answer(ctx context.Context, p Prompter, q question, validate func(string) error) reply {
	var r reply
	var err error
	switch q.Kind {
	case "select":
		r.Value, err = p.Select(ctx, q.Title, q.Options, q.Initial)
	case "multiselect":
		r.Values, err = p.MultiSelect(ctx, q.Title, q.Options, q.Initials)
	case "input":
		r.Value, err = p.Input(ctx, Input{Title: q.Title, Placeholder: q.Placeholder, Default: q.Default,
			Secret: q.Secret, Required: q.Required, Validate: validate})
	case "confirm":
		r.Yes, err = p.Confirm(ctx, q.Title, q.InitialYes)
	default:
		err = fmt.Errorf("cannot prompt: the stack program asked a %q question, which this alchemy command does not know", q.Kind)
	}
	switch {
	case err == nil:
	case errors.Is(err, ErrCancelled), ctx.Err() != nil:
		r = reply{Err: errCancelled}
	case errors.Is(err, ErrNonInteractive):
		r = reply{Err: errNonInteractive}
	default:
		r = reply{Err: err.Error()}
	}
	return r
}
