package alchemy

import (
	"fmt"
	"sort"

	"github.com/alchemy-go/alchemy/internal/engine"
)

// Input is a prop value: a literal (V, String, Int, Bool) or an Output of
// another resource. A prop left nil is unset. An Input[T] accepts only an
// Output[T]: passing alchemy.Int(42) where a string is expected does not
// compile.
type Input[T any] interface {
	value() engine.Value
	// inputOf carries T in the method set, so that Output[U] is not an
	// Input[T] for U != T.
	inputOf(*T)
}

// Output is a value that may only be known once another resource has been
// deployed: a resource attribute, or something computed from attributes.
// Passing an Output into another resource's props makes that resource depend
// on the one it reads, and a plan shows it as (known after apply) until then.
type Output[T any] struct {
	v engine.Value
}

func (o Output[T]) value() engine.Value { return o.v }
func (Output[T]) inputOf(*T)            {}

// V is a literal input.
func V[T any](v T) Output[T] { return Output[T]{v: literal{v: v}} }

// Secret is a literal input whose value is secret: it never appears in plan
// output, progress, errors or --json, and state keeps it encrypted (with
// ALCHEMY_PASSWORD) or as a keyed hash. Everything derived from it
// (Sprintf, Map, StringMap) is secret too.
func Secret[T any](v T) Output[T] { return Output[T]{v: literal{v: v, secret: true}} }

// Secret marks the output's value secret, with everything derived from it.
func (o Output[T]) Secret() Output[T] {
	if o.v == nil {
		return o
	}
	return Output[T]{v: secretValue{o.v}}
}

// secretValue is a value marked secret.
type secretValue struct{ engine.Value }

func (secretValue) IsSecret() bool { return true }

// String, Int and Bool are literal inputs of the common types.
func String(s string) Output[string] { return V(s) }
func Int(i int) Output[int]          { return V(i) }
func Bool(b bool) Output[bool]       { return V(b) }

// Known returns an input's value when it is known at declaration (a literal,
// or computed from literals only), and false when it depends on another
// resource. Resource constructors use it to check what they can early: a
// file that cannot be read fails the plan, not a deploy halfway through.
func Known[T any](in Input[T]) (T, bool) {
	var zero T
	if in == nil {
		return zero, false
	}
	v := in.value()
	if v == nil || len(v.Deps()) > 0 {
		return zero, false
	}
	x, known, err := v.Eval(func(string) (map[string]any, bool) { return nil, false })
	if err != nil || !known {
		return zero, false
	}
	t, err := convert[T](x)
	return t, err == nil
}

// Map derives an output by applying fn to o's value once it is known.
//
// fn may be called more than once (each plan and deploy evaluates the
// props that read it) and from several goroutines at once (resources are
// planned and deployed concurrently): keep it a function of its argument,
// without side effects or unguarded shared state.
func Map[T, U any](o Output[T], fn func(T) U) Output[U] {
	return Output[U]{v: derived{deps: []engine.Value{o.v}, fn: func(vals []any) (any, error) {
		t, err := convert[T](vals[0])
		if err != nil {
			return nil, err
		}
		return fn(t), nil
	}}}
}

// Sprintf formats like fmt.Sprintf once every Output among args is known.
func Sprintf(format string, args ...any) Output[string] {
	deps := make([]engine.Value, len(args))
	for i, a := range args {
		if in, ok := a.(interface{ value() engine.Value }); ok {
			deps[i] = in.value()
		} else {
			deps[i] = literal{v: a}
		}
	}
	return Output[string]{v: derived{deps: deps, fn: func(vals []any) (any, error) {
		return fmt.Sprintf(format, vals...), nil
	}}}
}

// StringMap is an Output of a map whose values may be Outputs of other
// resources (or literals, alchemy.String): known once every value is, and a
// dependency on each resource it reads. For environment variables and
// bindings built from several resources.
func StringMap(m map[string]Output[string]) Output[map[string]string] {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	deps := make([]engine.Value, len(keys))
	for i, k := range keys {
		deps[i] = m[k].v
		if deps[i] == nil {
			deps[i] = literal{v: ""}
		}
	}
	return Output[map[string]string]{v: derived{deps: deps, fn: func(vals []any) (any, error) {
		out := make(map[string]string, len(keys))
		for i, k := range keys {
			s, err := convert[string](vals[i])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = s
		}
		return out, nil
	}}}
}

// attr is an attribute of a resource.
type attr struct {
	fqn, name string
	convert   func(any) (any, error)
}

func (a attr) Deps() []string { return []string{a.fqn} }

func (a attr) Eval(lookup engine.Lookup) (any, bool, error) {
	attrs, ok := lookup(a.fqn)
	if !ok {
		return nil, false, nil
	}
	v, ok := attrs[a.name]
	if !ok {
		return nil, false, fmt.Errorf("%s has no attribute %q", a.fqn, a.name)
	}
	if a.convert != nil {
		cv, err := a.convert(v)
		return cv, err == nil, err
	}
	return v, true, nil
}

type literal struct {
	v      any
	secret bool
}

func (literal) Deps() []string                          { return nil }
func (l literal) Eval(engine.Lookup) (any, bool, error) { return l.v, true, nil }
func (l literal) IsSecret() bool                        { return l.secret }

type derived struct {
	deps []engine.Value
	fn   func([]any) (any, error)
}

func (d derived) Deps() []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range d.deps {
		for _, f := range v.Deps() {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	sort.Strings(out)
	return out
}

// IsSecret: anything computed from a secret is secret.
func (d derived) IsSecret() bool {
	for _, v := range d.deps {
		if engine.IsSecret(v) {
			return true
		}
	}
	return false
}

func (d derived) Eval(lookup engine.Lookup) (any, bool, error) {
	vals := make([]any, len(d.deps))
	for i, v := range d.deps {
		val, known, err := v.Eval(lookup)
		if err != nil || !known {
			return nil, known, err
		}
		vals[i] = val
	}
	out, err := d.fn(vals)
	return out, err == nil, err
}

// Attr is the Output of a resource attribute; resource packages use it to
// expose typed outputs.
func Attr[T any](r *Resource, name string) Output[T] {
	return Output[T]{v: attr{fqn: r.fqn, name: name, convert: func(v any) (any, error) { return convert[T](v) }}}
}

// convert turns a JSON-decoded attribute (float64, map, ...) into T.
func convert[T any](v any) (T, error) {
	var zero T
	if t, ok := v.(T); ok {
		return t, nil
	}
	switch any(zero).(type) {
	case int:
		if f, ok := v.(float64); ok {
			return any(int(f)).(T), nil
		}
	case int64:
		if f, ok := v.(float64); ok {
			return any(int64(f)).(T), nil
		}
	}
	return zero, fmt.Errorf("attribute value %v is a %T, not a %T", v, v, zero)
}
