package engine

import (
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"strings"
	"sync"

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
	keys := map[string]bool{}
	for k := range old {
		keys[k] = true
	}
	for k := range news {
		keys[k] = true
	}
	for k := range unknown {
		keys[k] = true
	}
	for k := range keys {
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

// scrubber replaces secret values in text: errors and notes from providers
// can quote what they were given.
type scrubber struct {
	mu   sync.Mutex
	vals map[string]bool
	r    *strings.Replacer
}

// minScrub is the shortest secret string replaced: shorter ones would
// mangle ordinary words.
const minScrub = 4

// add records the string leaves of a secret value.
func (s *scrubber) add(v any) {
	switch x := v.(type) {
	case string:
		if len(x) < minScrub {
			return
		}
		s.mu.Lock()
		if !s.vals[x] {
			if s.vals == nil {
				s.vals = map[string]bool{}
			}
			s.vals[x] = true
			s.r = nil
		}
		s.mu.Unlock()
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

func (s *scrubber) scrub(text string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.vals) == 0 {
		return text
	}
	if s.r == nil {
		vals := make([]string, 0, len(s.vals))
		for v := range s.vals {
			vals = append(vals, v)
		}
		// Longest first, so a secret containing another is replaced whole.
		sort.Slice(vals, func(i, j int) bool { return len(vals[i]) > len(vals[j]) })
		var args []string
		for _, v := range vals {
			args = append(args, v, "****")
		}
		s.r = strings.NewReplacer(args...)
	}
	return s.r.Replace(text)
}

// scrubbed is an error whose text had secrets replaced; errors.Is and As
// still see the original.
type scrubbed struct {
	text string
	err  error
}

func (e *scrubbed) Error() string { return e.text }
func (e *scrubbed) Unwrap() error { return e.err }

func (s *scrubber) err(err error) error {
	if err == nil {
		return nil
	}
	text := s.scrub(err.Error())
	if text == err.Error() {
		return err
	}
	var sc *scrubbed
	if errors.As(err, &sc) && sc.text == text {
		return err
	}
	return &scrubbed{text: text, err: err}
}
