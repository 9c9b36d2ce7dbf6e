package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/alchemy-go/alchemy/internal/engine"
	"github.com/alchemy-go/alchemy/internal/secret"
)

var glyphs = map[engine.Action]string{engine.Create: "+", engine.Update: "~", engine.Replace: "-/+", engine.Delete: "-", engine.Noop: "•"}

// glyphColors are the ANSI colours of the glyphs on a terminal: green
// create, yellow update, magenta replace, red delete (as Terraform and
// Pulumi colour them, so the eye finds the deletes).
var glyphColors = map[engine.Action]string{engine.Create: "32", engine.Update: "33", engine.Replace: "35", engine.Delete: "31"}

// glyph is the action's glyph, coloured when color is set.
func glyph(a engine.Action, color bool) string {
	g := glyphs[a]
	if c, ok := glyphColors[a]; ok && color {
		return "\033[" + c + "m" + g + "\033[0m"
	}
	return g
}

// planSummary is the "Plan: ..." line.
func planSummary(p *engine.Plan) string {
	if len(p.Steps) == 0 && len(p.OutputChanges) == 0 {
		return "Plan: no resources"
	}
	c := p.Counts()
	var parts []string
	for _, a := range []struct {
		action engine.Action
		word   string
	}{{engine.Create, "create"}, {engine.Update, "update"}, {engine.Replace, "replace"}, {engine.Delete, "delete"}} {
		if n := c[a.action]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d to %s", n, a.word))
		}
	}
	if n := len(p.OutputChanges); n > 0 {
		parts = append(parts, fmt.Sprintf("%d output%s to change", n, map[bool]string{true: "s", false: ""}[n > 1]))
	}
	if len(parts) == 0 {
		return "Plan: no changes"
	}
	return "Plan: " + strings.Join(parts, ", ")
}

// printPlan writes the plan: glyph rows sorted by logical id on a terminal
// (coloured when color), "[FQN] action" lines otherwise; --detailed adds the
// props.
func printPlan(out io.Writer, p *engine.Plan, plain, color, detailed bool) {
	w := &batched{w: out}
	defer w.flush()
	fmt.Fprintln(w, planSummary(p))
	steps := append([]*engine.Step(nil), p.Steps...)
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].LogicalID < steps[j].LogicalID })
	if len(steps) > 0 {
		fmt.Fprintln(w)
	}
	for _, s := range steps {
		if plain {
			fmt.Fprintf(w, "[%s] %s\n", s.FQN, s.Action)
		} else {
			fmt.Fprintf(w, "%s %s (%s)\n", glyph(s.Action, color), s.LogicalID, s.Type)
		}
		printFindings(w, s)
		if detailed {
			printDetail(w, s)
		}
	}
}

// printFindings says what a refresh found and how a replace goes.
func printFindings(w io.Writer, s *engine.Step) {
	switch {
	case s.Gone && s.Action == engine.Delete:
		fmt.Fprintln(w, "    ! already deleted outside alchemy: only its state is removed")
	case s.Gone:
		fmt.Fprintln(w, "    ! deleted outside alchemy: it is created again")
	}
	for _, d := range s.Drift {
		fmt.Fprintf(w, "    ! changed outside alchemy: %s %s → %s\n", d.Prop, showValue(d.Stored), showValue(d.Live))
	}
	if s.Exists != "" {
		fmt.Fprintf(w, "    ! %s\n", s.Exists)
	}
	if s.Action == engine.Replace && s.DeleteFirst {
		fmt.Fprintln(w, "    ! its replacement needs the same name: the current one is deleted first")
	}
}

func showValue(v any) string {
	if v == nil {
		return "(unset)"
	}
	if str, ok := v.(string); ok {
		if str == engine.SecretPlaceholder {
			return str
		}
		return fmt.Sprintf("%q", str)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func printDetail(w io.Writer, s *engine.Step) {
	show := func(k string, v any) string {
		if s.Secret[k] {
			return "(secret)"
		}
		if s.Unknown[k] {
			return "(known after apply)"
		}
		if str, ok := v.(string); ok {
			return fmt.Sprintf("%q", str)
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	showOld := func(k string, v any) string {
		if s.Secret[k] || secret.IsSealed(v) {
			return "(secret)"
		}
		if v == nil {
			return "(unset)"
		}
		if str, ok := v.(string); ok {
			return fmt.Sprintf("%q", str)
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	switch s.Action {
	case engine.Create:
		keys := propKeys(s.Props, s.Unknown)
		for _, k := range keys {
			fmt.Fprintf(w, "    + %s: %s\n", k, show(k, s.Props[k]))
		}
	case engine.Update, engine.Replace:
		if len(s.Changed) == 0 {
			fmt.Fprintln(w, "    no declared property changes")
		}
		for _, k := range s.Changed {
			newV := show(k, s.Props[k])
			if _, ok := s.Props[k]; !ok && !s.Unknown[k] {
				newV = "(unset)"
			}
			fmt.Fprintf(w, "    ~ %s: %s → %s\n", k, showOld(k, s.OldProps[k]), newV)
		}
	}
}

func propKeys(props map[string]any, unknown map[string]bool) []string {
	var keys []string
	for k := range props {
		keys = append(keys, k)
	}
	for k := range unknown {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// stackJSON is the one document `plan|deploy|destroy --json` writes to
// stdout (progress and warnings go to stderr). It always has "command",
// "ok", "stack" and "stage"; once the plan is known, "summary" and
// "resources" (an apply adds each resource's "status": created, updated,
// replaced, deleted, fail, skipped, ...); deploy adds "outputs", destroy
// "deleted" (the ids deleted). When the command fails, "ok" is false and
// "error" says why, beside what was known by then ("failures" lists the
// resources that failed). Secret props and outputs read "(secret)".
type stackJSON struct {
	Command  string            `json:"command"`
	OK       bool              `json:"ok"`
	Error    string            `json:"error,omitempty"`
	Stack    string            `json:"stack"`
	Stage    string            `json:"stage"`
	Profile  string            `json:"profile,omitempty"`
	Accounts map[string]string `json:"accounts,omitempty"`
	Binding  *bindingJSON      `json:"binding,omitempty"`
	// State names the store: "local .alchemy/state", "postgres://…".
	State     string         `json:"state,omitempty"`
	Summary   map[string]int `json:"summary"`
	Resources []planJSONStep `json:"resources"`
	// Outputs is a map once a deploy applied: {} when the stack has none.
	Outputs  any           `json:"outputs,omitempty"`
	Deleted  []string      `json:"deleted,omitempty"`
	Failures []failureJSON `json:"failures,omitempty"`
}

type failureJSON struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Error   string `json:"error"`
	Skipped bool   `json:"skipped,omitempty"`
}

type planJSONStep struct {
	ID          string         `json:"id"`
	Type        string         `json:"type"`
	Action      string         `json:"action"`
	Status      string         `json:"status,omitempty"`
	Props       map[string]any `json:"props,omitempty"`
	Unknown     []string       `json:"unknown,omitempty"`
	Changed     []string       `json:"changed,omitempty"`
	DeleteFirst bool           `json:"deleteFirst,omitempty"`
	// From --refresh.
	Drift  []engine.Drift `json:"drift,omitempty"`
	Gone   bool           `json:"gone,omitempty"`
	Exists string         `json:"exists,omitempty"`
}

// addPlan fills in the plan: its summary and resources, secrets redacted.
func (j *stackJSON) addPlan(p *engine.Plan) {
	for a, n := range p.Counts() {
		j.Summary[string(a)] = n
	}
	for _, s := range p.Steps {
		r := planJSONStep{ID: s.FQN, Type: s.Type, Action: string(s.Action), Changed: s.Changed,
			DeleteFirst: s.DeleteFirst, Drift: s.Drift, Gone: s.Gone, Exists: s.Exists}
		if len(s.Props) > 0 {
			r.Props = map[string]any{}
			for k, v := range s.Props {
				if s.Secret[k] {
					v = engine.SecretPlaceholder
				}
				r.Props[k] = v
			}
		}
		for k := range s.Unknown {
			r.Unknown = append(r.Unknown, k)
		}
		sort.Strings(r.Unknown)
		j.Resources = append(j.Resources, r)
	}
}

// addResult records what an apply did: each resource's last status, the
// outputs of a deploy, what a destroy deleted, the failures.
func (j *stackJSON) addResult(res *engine.Result, statuses map[string]string) {
	for i := range j.Resources {
		r := &j.Resources[i]
		r.Status = statuses[r.ID]
		if r.Status == "deleted" {
			j.Deleted = append(j.Deleted, r.ID)
		}
	}
	sort.Strings(j.Deleted)
	if j.Command == "deploy" {
		out := map[string]any{}
		for k, v := range res.Outputs {
			out[k] = v
		}
		j.Outputs = out
	}
	for _, f := range res.Failures {
		j.Failures = append(j.Failures, failureJSON{ID: f.FQN, Type: f.Type, Error: f.Err.Error(), Skipped: f.Skipped})
	}
}

// batched passes whole writes on together, a few system calls for a plan of
// thousands of lines. It never splits a write: the writer below redacts, and
// must see each line (each write) entire, as when they came one by one.
type batched struct {
	w   io.Writer
	buf []byte
	err error
}

const batchSize = 32 << 10

func (b *batched) Write(p []byte) (int, error) {
	if len(b.buf) > 0 && len(b.buf)+len(p) > batchSize {
		b.flush()
	}
	b.buf = append(b.buf, p...)
	if b.err != nil {
		return 0, b.err
	}
	return len(p), nil
}

func (b *batched) flush() {
	if len(b.buf) > 0 && b.err == nil {
		_, b.err = b.w.Write(b.buf)
	}
	b.buf = b.buf[:0]
}
