package cli

import (
	"container/list"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/alchemy-go/alchemy/internal/engine"
	"github.com/alchemy-go/alchemy/internal/iostreams"
)

// progress reports a deploy: one plain line per event when output is not a
// terminal (or CI is set); on a terminal, a line per finished resource and a
// live counter on stderr.
type progress struct {
	io    *iostreams.IOStreams
	w     io.Writer // stdout, or stderr when stdout carries --json
	plain bool
	live  bool
	verb  string

	mu       sync.Mutex
	total    int
	finished int
	drawn    time.Time
	// inFlight is what the counter names: each resource's current status
	// ("creating"), in the order they started; byFQN finds one in it.
	inFlight list.List
	byFQN    map[string]*list.Element
	// out gathers plain lines, written at most flushEvery after the first
	// of them: a deploy of 10,000 resources prints 20,000 lines.
	out   batched
	timer *time.Timer
}

type flight struct{ fqn, status string }

// maxNamed bounds the resources the counter names; the rest are counted.
const maxNamed = 3

// flushEvery is how long a plain line may wait to be written with others.
const flushEvery = 100 * time.Millisecond

func newProgress(ios *iostreams.IOStreams, total int, verb string) *progress {
	p := &progress{io: ios, w: ios.Out, plain: ios.Plain(), total: total, verb: verb, byFQN: map[string]*list.Element{}}
	p.live = !p.plain && ios.IsStderrTTY()
	return p
}

var terminal = map[string]string{
	"created": "✓", "updated": "✓", "replaced": "✓", "deleted": "✓", "retained": "✓", "cleaned up": "✓",
	"fail": "✗", "skipped": "⊘",
}

func (p *progress) Status(fqn, typ, status string, elapsed time.Duration, detail string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	glyph, done := terminal[status]
	if status != "note" {
		p.track(fqn, status, done || status == "no change")
	}
	if status == "no change" {
		p.finished++
		p.draw(false)
		return
	}
	if done {
		p.finished++
	}
	took := ""
	if elapsed > 0 {
		took = " (" + elapsed.Round(100*time.Microsecond).String() + ")"
	}
	if detail != "" {
		detail = " — " + detail
	}
	p.clear()
	w := p.lines()
	switch {
	case p.plain && status == "note":
		fmt.Fprintf(w, "[%s] %s\n", fqn, strings.TrimPrefix(detail, " — "))
	case p.plain:
		fmt.Fprintf(w, "[%s] %s%s%s\n", fqn, status, detail, took)
	case status == "note":
		fmt.Fprintf(w, "  • %s%s\n", fqn, detail)
	case done:
		fmt.Fprintf(w, "%s %s (%s) %s%s%s\n", glyph, fqn, typ, status, detail, took)
	}
	p.draw(true)
}

// lines is where a line goes: on a terminal straight out, as the counter
// on stderr is drawn around it; otherwise gathered with the lines that
// follow within flushEvery.
func (p *progress) lines() io.Writer {
	if p.live {
		return p.w
	}
	p.out.w = p.w
	if p.timer == nil {
		p.timer = time.AfterFunc(flushEvery, func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.flush()
		})
	}
	return &p.out
}

// flush writes the gathered lines. Called with mu held.
func (p *progress) flush() {
	p.out.flush()
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
}

func (p *progress) clear() {
	if p.live && !p.drawn.IsZero() {
		p.io.Errorf("\r\033[K")
	}
}

// track records a resource entering status: in flight until it ends.
func (p *progress) track(fqn, status string, ended bool) {
	if e := p.byFQN[fqn]; e != nil {
		p.inFlight.Remove(e)
		delete(p.byFQN, fqn)
	}
	if !ended {
		p.byFQN[fqn] = p.inFlight.PushBack(flight{fqn, status})
	}
}

// counter is the live line: "Deploying… 1/3 · creating Bucket, updating Worker".
func (p *progress) counter() string {
	line := fmt.Sprintf("%s… %d/%d", p.verb, p.finished, p.total)
	var named []string
	for e := p.inFlight.Front(); e != nil; e = e.Next() {
		if len(named) == maxNamed {
			named = append(named, fmt.Sprintf("%d more", p.inFlight.Len()-maxNamed))
			break
		}
		f := e.Value.(flight)
		named = append(named, f.status+" "+f.fqn)
	}
	if len(named) > 0 {
		line += " · " + strings.Join(named, ", ")
	}
	return line
}

// draw redraws the counter at most every 50 ms.
func (p *progress) draw(force bool) {
	if !p.live || (!force && time.Since(p.drawn) < 50*time.Millisecond) {
		return
	}
	p.io.Errorf("\r\033[K%s", p.counter())
	p.drawn = time.Now()
}

// done writes what is gathered and removes the counter.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flush()
	p.clear()
}

func summaryLine(r *engine.Result, took time.Duration) string {
	word, skipped := "Done", "skipped"
	switch {
	case r.Interrupted:
		word, skipped = "Interrupted", "not started"
	case r.Failed > 0 || r.Skipped > 0:
		word = "Failed"
	}
	return fmt.Sprintf("%s: %d succeeded, %d failed, %d %s (%s)", word, r.Succeeded, r.Failed, r.Skipped, skipped, took.Round(time.Millisecond))
}
