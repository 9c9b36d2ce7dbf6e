package cli

import (
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
	// ("creating"), in the order they started.
	inFlight []flight
}

type flight struct{ fqn, status string }

// maxNamed bounds the resources the counter names; the rest are counted.
const maxNamed = 3

func newProgress(ios *iostreams.IOStreams, total int, verb string) *progress {
	p := &progress{io: ios, w: ios.Out, plain: ios.Plain(), total: total, verb: verb}
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
	switch {
	case p.plain && status == "note":
		fmt.Fprintf(p.w, "[%s] %s\n", fqn, strings.TrimPrefix(detail, " — "))
	case p.plain:
		fmt.Fprintf(p.w, "[%s] %s%s%s\n", fqn, status, detail, took)
	case status == "note":
		fmt.Fprintf(p.w, "  • %s%s\n", fqn, detail)
	case done:
		fmt.Fprintf(p.w, "%s %s (%s) %s%s%s\n", glyph, fqn, typ, status, detail, took)
	}
	p.draw(true)
}

func (p *progress) clear() {
	if p.live && !p.drawn.IsZero() {
		p.io.Errorf("\r\033[K")
	}
}

// track records a resource entering status: in flight until it ends.
func (p *progress) track(fqn, status string, ended bool) {
	for i, f := range p.inFlight {
		if f.fqn == fqn {
			p.inFlight = append(p.inFlight[:i], p.inFlight[i+1:]...)
			break
		}
	}
	if !ended {
		p.inFlight = append(p.inFlight, flight{fqn, status})
	}
}

// counter is the live line: "Deploying… 1/3 · creating Bucket, updating Worker".
func (p *progress) counter() string {
	line := fmt.Sprintf("%s… %d/%d", p.verb, p.finished, p.total)
	var named []string
	for i, f := range p.inFlight {
		if i == maxNamed {
			named = append(named, fmt.Sprintf("%d more", len(p.inFlight)-maxNamed))
			break
		}
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

// done removes the counter.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
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
