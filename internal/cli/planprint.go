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

var glyphs = map[engine.Action]string{engine.Create: "+", engine.Update: "~", engine.Replace: "±", engine.Delete: "-", engine.Noop: "•"}

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

// printPlan writes the plan: glyph rows sorted by logical id on a terminal,
// "[FQN] action" lines otherwise; --detailed adds the props.
func printPlan(w io.Writer, p *engine.Plan, plain, detailed bool) {
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
			fmt.Fprintf(w, "%s %s (%s)\n", glyphs[s.Action], s.LogicalID, s.Type)
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

// planJSON is `plan --json` / `deploy --json`: the same facts, secrets redacted.
type planJSON struct {
	Stack     string           `json:"stack"`
	Stage     string           `json:"stage"`
	Binding   *bindingJSON     `json:"binding,omitempty"`
	Summary   map[string]int   `json:"summary"`
	Resources []planJSONStep   `json:"resources"`
	Outputs   map[string]any   `json:"outputs,omitempty"`
	Failures  []map[string]any `json:"failures,omitempty"`
}

type planJSONStep struct {
	ID          string         `json:"id"`
	Type        string         `json:"type"`
	Action      string         `json:"action"`
	Props       map[string]any `json:"props,omitempty"`
	Unknown     []string       `json:"unknown,omitempty"`
	Changed     []string       `json:"changed,omitempty"`
	DeleteFirst bool           `json:"deleteFirst,omitempty"`
	// From --refresh.
	Drift  []engine.Drift `json:"drift,omitempty"`
	Gone   bool           `json:"gone,omitempty"`
	Exists string         `json:"exists,omitempty"`
}

// planJSON is the plan as JSON, with the stage's binding.
func (env *stackEnv) planJSON(p *engine.Plan) planJSON {
	j := toPlanJSON(p)
	j.Binding = env.binding.json()
	return j
}

func toPlanJSON(p *engine.Plan) planJSON {
	out := planJSON{Stack: p.Stack, Stage: p.Stage, Summary: map[string]int{}, Resources: []planJSONStep{}}
	for a, n := range p.Counts() {
		out.Summary[string(a)] = n
	}
	for _, s := range p.Steps {
		j := planJSONStep{ID: s.FQN, Type: s.Type, Action: string(s.Action), Changed: s.Changed,
			DeleteFirst: s.DeleteFirst, Drift: s.Drift, Gone: s.Gone, Exists: s.Exists}
		if len(s.Props) > 0 {
			j.Props = map[string]any{}
			for k, v := range s.Props {
				if s.Secret[k] {
					v = "(secret)"
				}
				j.Props[k] = v
			}
		}
		for k := range s.Unknown {
			j.Unknown = append(j.Unknown, k)
		}
		sort.Strings(j.Unknown)
		out.Resources = append(out.Resources, j)
	}
	return out
}
