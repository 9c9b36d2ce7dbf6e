package engine

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
)

var (
	typesMu sync.RWMutex
	types   = map[string]Provider{}
)

// RegisterProvider makes a resource type known to the engine, so that a
// resource of that type left in state can still be deleted after the stack
// stops declaring any resource of it. Resource packages call it from init.
func RegisterProvider(p Provider) {
	typesMu.Lock()
	defer typesMu.Unlock()
	types[p.Type()] = p
}

// providers finds the provider of a resource type: the stack's own
// declarations first, then the registered types. It indexes the
// declarations once, so finding the providers of every row of a stage is
// linear in the stage.
func providers(spec *Spec) func(typ string) (Provider, error) {
	declared := map[string]Provider{}
	for _, n := range spec.Nodes {
		if _, ok := declared[n.Type]; !ok {
			declared[n.Type] = n.Provider
		}
	}
	return func(typ string) (Provider, error) {
		if p, ok := declared[typ]; ok {
			return p, nil
		}
		typesMu.RLock()
		defer typesMu.RUnlock()
		if p, ok := types[typ]; ok {
			return p, nil
		}
		known := make([]string, 0, len(types))
		for t := range types {
			known = append(known, t)
		}
		sort.Strings(known)
		return nil, fmt.Errorf("no provider for resource type %s: the stack no longer imports the package that implements it, so its resources left in state cannot be deleted. Import that package again (known types: %v)", typ, known)
	}
}

// RegisteredAuths are the auth providers the registered resource types
// name (Provider.Auth), each once: the credentials a stage's leftovers may
// need to be deleted.
func RegisteredAuths() []string {
	typesMu.RLock()
	defer typesMu.RUnlock()
	var out []string
	for _, p := range types {
		if a := p.Auth(); a != "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

// Registered are the providers of the registered resource types, sorted
// by type.
func Registered() []Provider {
	typesMu.RLock()
	defer typesMu.RUnlock()
	out := make([]Provider, 0, len(types))
	for _, p := range types {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Provider) int { return strings.Compare(a.Type(), b.Type()) })
	return out
}
