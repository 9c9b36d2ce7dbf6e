package engine

import (
	"encoding/json"
	"reflect"
	"sort"

	"github.com/alchemy-go/alchemy/internal/redact"
	"github.com/alchemy-go/alchemy/internal/secret"
)

// SecretValue is implemented by values whose content is secret: a literal
// made with alchemy.Secret, an Output marked .Secret(), and every value
// derived from one (Sprintf, Map, StringMap).
type SecretValue interface {
	IsSecret() bool
}

// IsSecret reports whether v is secret.
func IsSecret(v Value) bool {
	s, ok := v.(SecretValue)
	return ok && s.IsSecret()
}

// secretProps names the props of n whose values never reach state, plan
// output, progress or errors in clear: the ones tagged secret:"true" and
// the ones whose value is secret.
func secretProps(n *Node) map[string]bool {
	var out map[string]bool
	for k, v := range n.Props {
		if n.Secret[k] || (v != nil && IsSecret(v)) {
			if out == nil {
				out = map[string]bool{}
			}
			out[k] = true
		}
	}
	return out
}

// where is what a secret's keyed hash covers.
func (spec *Spec) where(fqn, prop string) secret.Where {
	return secret.Where{Stack: spec.Stack, Stage: spec.Stage, FQN: fqn, Prop: prop}
}

// sealProps is props as written to state: secret props sealed.
func sealProps(c *secret.Codec, spec *Spec, fqn string, props map[string]any, secrets map[string]bool) (json.RawMessage, error) {
	if len(secrets) == 0 {
		return json.Marshal(props)
	}
	out := make(map[string]any, len(props))
	for k, v := range props {
		if secrets[k] {
			sealed, err := c.Seal(spec.where(fqn, k), v)
			if err != nil {
				return nil, err
			}
			v = sealed
		}
		out[k] = v
	}
	return json.Marshal(out)
}

// diffProps lists the props whose value differs from the one last applied
// (old, as stored), comparing secrets through the codec. rewrite is set when
// a secret is stored in a form that should be written again (an old
// unsalted hash, in clear).
func diffProps(c *secret.Codec, spec *Spec, fqn string, old, news map[string]any, unknown, secrets map[string]bool) (changed []string, rewrite bool, err error) {
	keys := make([]string, 0, len(old)+len(unknown))
	for k := range old {
		keys = append(keys, k)
	}
	for k := range news {
		if _, ok := old[k]; !ok {
			keys = append(keys, k)
		}
	}
	for k := range unknown {
		_, inOld := old[k]
		if _, inNew := news[k]; !inOld && !inNew {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if unknown[k] {
			changed = append(changed, k)
			continue
		}
		o, hasOld := old[k]
		n, hasNew := news[k]
		if hasOld != hasNew {
			changed = append(changed, k)
			continue
		}
		if secrets[k] || secret.IsSealed(o) {
			match, rw, err := c.Matches(spec.where(fqn, k), o, n)
			if err != nil {
				return nil, false, err
			}
			if !match {
				changed = append(changed, k)
			} else if rw && secrets[k] {
				rewrite = true
			}
			continue
		}
		if !reflect.DeepEqual(o, n) {
			changed = append(changed, k)
		}
	}
	sort.Strings(changed)
	return changed, rewrite, nil
}

// scrubber feeds a run's secret values to the process's redaction
// registry (internal/redact), through which errors and notes pass before
// they are reported: providers' errors can quote what they were given.
type scrubber struct{}

// add registers the string leaves of a secret value.
func (s *scrubber) add(v any) {
	switch x := v.(type) {
	case string:
		redact.Add(x)
	case map[string]any:
		for _, e := range x {
			s.add(e)
		}
	case []any:
		for _, e := range x {
			s.add(e)
		}
	}
}

func (s *scrubber) scrub(text string) string { return redact.String(text) }

func (s *scrubber) err(err error) error { return redact.Error(err) }
