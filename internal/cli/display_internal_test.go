package cli

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/engine"
	"github.com/alchemy-go/alchemy/internal/iostreams"
)

// The plan's glyphs are coloured on a terminal (create green +, update
// yellow ~, replace magenta -/+, delete red -) and never otherwise: not
// without a terminal, not under CI, not with NO_COLOR.
func TestPlanColour(t *testing.T) {
	plan := &engine.Plan{Stack: "hello", Stage: "prod", Steps: []*engine.Step{
		{FQN: "A", LogicalID: "A", Type: "T", Action: engine.Create},
		{FQN: "B", LogicalID: "B", Type: "T", Action: engine.Update},
		{FQN: "C", LogicalID: "C", Type: "T", Action: engine.Replace},
		{FQN: "D", LogicalID: "D", Type: "T", Action: engine.Delete},
		{FQN: "E", LogicalID: "E", Type: "T", Action: engine.Noop},
	}}
	var coloured bytes.Buffer
	printPlan(&coloured, plan, false, true, false)
	for _, want := range []string{"\x1b[32m+\x1b[0m A (T)\n", "\x1b[33m~\x1b[0m B (T)\n", "\x1b[35m-/+\x1b[0m C (T)\n", "\x1b[31m-\x1b[0m D (T)\n", "\n• E (T)\n"} {
		if !strings.Contains(coloured.String(), want) {
			t.Errorf("coloured plan lacks %q:\n%q", want, coloured.String())
		}
	}
	var plain bytes.Buffer
	printPlan(&plain, plan, false, false, false)
	if strings.Contains(plain.String(), "\x1b") || !strings.Contains(plain.String(), "\n-/+ C (T)\n") {
		t.Errorf("uncoloured plan: %q", plain.String())
	}

	for _, c := range []struct {
		name           string
		outTTY, errTTY bool
		env            map[string]string
		stdout, stderr bool
	}{
		{"terminal", true, true, nil, true, true},
		{"stdout piped", false, true, nil, false, true},
		{"stderr piped", true, false, nil, true, false},
		{"CI", true, true, map[string]string{"CI": "true"}, false, false},
		{"NO_COLOR", true, true, map[string]string{"NO_COLOR": "1"}, false, false},
	} {
		ios, _, _, _ := iostreams.Test()
		ios.SetTTY(true, c.outTTY, c.errTTY)
		ios.SetGetenv(func(k string) string { return c.env[k] })
		if got := ios.Color(false); got != c.stdout {
			t.Errorf("%s: colour on stdout = %v, want %v", c.name, got, c.stdout)
		}
		if got := ios.Color(true); got != c.stderr {
			t.Errorf("%s: colour on stderr = %v, want %v", c.name, got, c.stderr)
		}
	}
}

// The live counter names what is in flight: "Deploying… 1/3 · creating
// Bucket, updating Worker", at most maxNamed of them.
func TestProgressNamesWhatIsInFlight(t *testing.T) {
	ios, _, _, errOut := iostreams.Test()
	ios.SetTTY(true, true, true)
	p := newProgress(ios, 6, "Deploying")
	p.w = &bytes.Buffer{}
	last := func() string {
		s := errOut.String()
		return s[strings.LastIndex(s, "\r\x1b[K")+len("\r\x1b[K"):]
	}
	p.Status("Bucket", "S3.Bucket", "creating", 0, "")
	p.Status("Worker", "Cloudflare.Worker", "updating", 0, "")
	if got, want := last(), "Deploying… 0/6 · creating Bucket, updating Worker"; got != want {
		t.Errorf("counter %q, want %q", got, want)
	}
	p.Status("Bucket", "S3.Bucket", "created", time.Millisecond, "")
	if got, want := last(), "Deploying… 1/6 · updating Worker"; got != want {
		t.Errorf("counter %q, want %q", got, want)
	}
	for _, id := range []string{"Q1", "Q2", "Q3"} {
		p.Status(id, "SQS.Queue", "deleting", 0, "")
	}
	if got, want := last(), "Deploying… 1/6 · updating Worker, deleting Q1, deleting Q2, 1 more"; got != want {
		t.Errorf("counter %q, want %q", got, want)
	}
	p.Status("Worker", "Cloudflare.Worker", "fail", time.Millisecond, "boom")
	p.Status("Q1", "SQS.Queue", "no change", 0, "") // redrawn at most every 50 ms
	p.Status("Q2", "SQS.Queue", "deleted", time.Millisecond, "")
	if got, want := last(), "Deploying… 4/6 · deleting Q3"; got != want {
		t.Errorf("counter %q, want %q", got, want)
	}
}

// Off a terminal, progress lines are written together: soon after the first
// of them without waiting for the end, all of them at the end, in order.
func TestPlainProgressWritesLinesInBatches(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	p := newProgress(ios, 3000, "Deploying")
	var mu sync.Mutex // the flush runs on a timer
	p.w = writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return out.Write(b)
	})
	written := func() string {
		mu.Lock()
		defer mu.Unlock()
		return out.String()
	}
	p.Status("R0", "Local.RandomString", "creating", 0, "")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(written(), "[R0] creating") {
		if time.Now().After(deadline) {
			t.Fatal("a line waited more than 5 s to be written")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := 1; i < 3000; i++ {
		p.Status(fmt.Sprintf("R%d", i), "Local.RandomString", "created", time.Millisecond, "")
	}
	p.done()
	lines := strings.Split(strings.TrimSuffix(written(), "\n"), "\n")
	if len(lines) != 3000 || lines[2999] != "[R2999] created (1ms)" {
		t.Fatalf("%d lines, the last %q", len(lines), lines[len(lines)-1])
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
