// Package engine plans, deploys and destroys a stack: it compares the
// resources a stack program declares with the state of one stage, decides per
// resource whether to create, update, replace, delete or leave it, and
// applies that plan in dependency order, committing state before every
// provider call so that an interrupted run is resumed by the next one.
//
// The engine works on a type-erased Spec; the public SDK (package alchemy at
// the module root) builds it from typed resource declarations.
package engine

import (
	"context"
	"encoding/json"

	"github.com/alchemy-go/alchemy/internal/auth"
)

// Spec is a stack as its program declares it for one stage.
type Spec struct {
	Stack string
	Stage string
	// Nodes in declaration order.
	Nodes []*Node
	// Outputs are the stack outputs, evaluated after a successful deploy.
	Outputs []NamedValue
	// Auth lists the auth providers the stack uses, in declaration order.
	Auth []auth.Provider
}

// NamedValue is one stack output.
type NamedValue struct {
	Name  string
	Value Value
}

// Lookup returns the attributes a resource has published, and false while
// they are not known.
type Lookup func(fqn string) (map[string]any, bool)

// Value is a possibly-unknown value: a literal, or something computed from
// other resources' attributes.
type Value interface {
	// Deps are the FQNs whose attributes the value reads.
	Deps() []string
	// Eval computes the value; known is false when an attribute it needs is
	// not known yet ("(known after apply)").
	Eval(lookup Lookup) (v any, known bool, err error)
}

// Node is one declared resource.
type Node struct {
	FQN       string
	LogicalID string
	Type      string
	// Props maps each prop (by its JSON name) to its value. Props whose value
	// is nil are unset.
	Props map[string]Value
	// Secret names props whose values never reach state or output in clear.
	Secret   map[string]bool
	Provider Provider
	// Retain keeps the cloud resource when it is deleted from the stack.
	Retain bool
}

// Deps returns the FQNs the node's props read, deduplicated.
func (n *Node) Deps() []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range n.Props {
		if v == nil {
			continue
		}
		for _, d := range v.Deps() {
			if !seen[d] && d != n.FQN {
				seen[d] = true
				out = append(out, d)
			}
		}
	}
	return out
}

// Change is a provider's verdict on new props.
type Change int

const (
	ChangeNone Change = iota
	ChangeUpdate
	ChangeReplace
)

// Request is what a provider call gets.
type Request struct {
	Stack, Stage string
	FQN          string
	LogicalID    string
	InstanceID   string
	// Props are the resolved props (JSON object).
	Props json.RawMessage
	// OldProps and OldAttr are the last applied props and attributes
	// (update, delete).
	OldProps json.RawMessage
	OldAttr  json.RawMessage
	// Credentials of the provider's auth provider, nil when it needs none.
	Credentials auth.Credentials
	// Adopt allows taking over an existing cloud resource that this
	// stack/stage/id does not own (deploy --adopt).
	Adopt bool
	// Note reports progress text for this resource.
	Note func(string)
}

// Provider implements one resource type in type-erased form.
type Provider interface {
	Type() string
	// Auth names the auth provider whose credentials calls need ("" for none).
	Auth() string
	// Diff decides between update and replace for changed props. changed
	// lists the top-level props that differ; news may hold unknown props.
	Diff(olds, news json.RawMessage, changed []string) (Change, error)
	Create(ctx context.Context, r *Request) (json.RawMessage, error)
	Update(ctx context.Context, r *Request) (json.RawMessage, error)
	// Delete must treat "already gone" as success.
	Delete(ctx context.Context, r *Request) error
}
