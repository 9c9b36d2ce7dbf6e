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
	"errors"
	"fmt"
	"slices"

	"github.com/alchemy-go/alchemy/internal/auth"
)

// Spec is a stack as its program declares it for one stage.
type Spec struct {
	Stack string
	Stage string
	// Dir is the stack file's directory (relative paths resolve from it).
	Dir string
	// Nodes in declaration order.
	Nodes []*Node
	// Outputs are the stack outputs, evaluated after a successful deploy.
	Outputs []NamedValue
	// Auth lists the auth providers the stack uses, in declaration order.
	Auth []auth.Provider
}

// Auths are the auth providers the declared resources name
// (Provider.Auth), each once, in declaration order.
func (s *Spec) Auths() []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range s.Nodes {
		if a := n.Provider.Auth(); a != "" && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// DeclarationError reports what a stack's declarations found wrong before
// any plan (an unreadable file a resource needs). The spec is still
// returned with it, for commands that only need to know which providers the
// stack uses (login).
type DeclarationError struct {
	Stack string
	Errs  []error
}

func (e *DeclarationError) Error() string {
	return fmt.Sprintf("declaring stack %s: %v", e.Stack, errors.Join(e.Errs...))
}

func (e *DeclarationError) Unwrap() []error { return e.Errs }

// request is a provider request of the spec's stack and stage.
func (spec *Spec) request(fqn, logicalID, instanceID string, props json.RawMessage) *Request {
	return &Request{Stack: spec.Stack, Stage: spec.Stage, Dir: spec.Dir, FQN: fqn, LogicalID: logicalID,
		InstanceID: instanceID, Props: props}
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
	var out []string
	var seen map[string]bool // once out is long enough for a scan to cost more
	for _, v := range n.Props {
		if v == nil {
			continue
		}
		for _, d := range v.Deps() {
			if d == n.FQN {
				continue
			}
			if seen == nil && len(out) >= 8 {
				seen = make(map[string]bool, 2*len(out))
				for _, o := range out {
					seen[o] = true
				}
			}
			if seen != nil {
				if seen[d] {
					continue
				}
				seen[d] = true
			} else if slices.Contains(out, d) {
				continue
			}
			out = append(out, d)
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
	// Dir is the stack file's directory: relative paths in props resolve
	// from it, whatever the current directory.
	Dir string
	// Props are the resolved props (JSON object).
	Props json.RawMessage
	// OldProps and OldAttr are the last applied props and attributes
	// (update, delete), or what Read found (adoption, refresh).
	OldProps json.RawMessage
	OldAttr  json.RawMessage
	// Credentials of the provider's auth provider, nil when it needs none.
	Credentials auth.Credentials
	// Refresh resolves them again (they may expire during a long call, a
	// 15-minute table wait outliving SSO credentials): one per auth
	// provider and run, so clients can cache on it.
	Refresh *Refresher
	// Note reports progress text for this resource.
	Note func(string)
	// Wrote reports a file the call wrote, replaced or removed on this
	// machine (relative paths resolve from Dir); nil unless the apply
	// collects them (ApplyOptions.Writes) and the provider reports its
	// writes (WriteReporter).
	Wrote func(path string)
}

// Refresher resolves one auth provider's credentials, again once they
// expire (the resolver caches them until shortly before).
type Refresher struct {
	name string
	fn   CredentialsFunc
}

// NewRefresher returns a Refresher of the named auth provider's
// credentials from fn.
func NewRefresher(name string, fn CredentialsFunc) *Refresher { return &Refresher{name: name, fn: fn} }

// Retrieve returns current credentials.
func (r *Refresher) Retrieve(ctx context.Context) (auth.Credentials, error) {
	return r.fn(ctx, r.name)
}

// Provider implements one resource type in type-erased form.
type Provider interface {
	Type() string
	// Auth names the auth provider whose calls need credentials ("" for none).
	Auth() string
	// Version is the version of the rows this provider writes
	// (providerVersion); a row of a newer version is refused rather than
	// misread.
	Version() int
	// Diff decides between update and replace for changed props. changed
	// lists the top-level props that differ; news may hold unknown props.
	Diff(olds, news json.RawMessage, changed []string) (Change, error)
	// Create creates the resource. It must not take over an existing one:
	// when the name is taken it returns an error wrapping ErrAlreadyExists,
	// and the engine decides.
	Create(ctx context.Context, r *Request) (json.RawMessage, error)
	Update(ctx context.Context, r *Request) (json.RawMessage, error)
	// Delete must treat "already gone" as success.
	Delete(ctx context.Context, r *Request) error
}

// ErrAlreadyExists is what Create wraps when the resource's name is taken.
var ErrAlreadyExists = errors.New("already exists")

// ErrMaybeCreated is what Create wraps, together with ErrAlreadyExists,
// when the name was taken on a retry after an earlier attempt of this very
// call got no answer: that attempt may have created it. The engine then
// treats what it finds like the result of its own claimed create.
var ErrMaybeCreated = errors.New("an earlier attempt of this create got no answer and may have created it")

// Reader is implemented by providers whose resources exist outside alchemy
// (in a cloud, on disk): Read finds the resource r names (by r.Props and
// r.InstanceID, or r.OldAttr when known) and reports what it is and whose.
// It returns nil, nil when there is none. The engine, never the provider,
// decides from that whether the resource may be taken over or deleted.
type Reader interface {
	Read(ctx context.Context, r *Request) (*Found, error)
}

// Found is a resource Read found.
type Found struct {
	// Attr are its attributes, as Create would return them.
	Attr json.RawMessage
	// Props is its live configuration as far as it can be read (props the
	// provider cannot read are copied from the request), for adoption and
	// drift; nil when nothing can be read.
	Props json.RawMessage
	// Name says what it is, for messages: "bucket photos-prod".
	Name string
	// Generated is set when its name was derived from the request's
	// instance id: only this resource can have made it.
	Generated bool
	// Stamp is the ownership stamp it carries (tags, a marker), nil when
	// none.
	Stamp *Stamp
	// Unadoptable, when set, says why it can never be taken over, even with
	// --adopt ("it belongs to another AWS account").
	Unadoptable string
	// StampedOnCreate is set by providers whose Create writes the stamp in
	// the same call that makes the resource (a DNS record's comment, a
	// Worker's tags): an unstamped one was never created by this resource,
	// whatever its row claims.
	StampedOnCreate bool
}

// Stamp is the ownership a resource carries: the stack, stage and logical
// id that created it (tags alchemy::stack, alchemy::stage, alchemy::id).
type Stamp struct {
	Stack, Stage, ID string
}

func (s Stamp) String() string { return s.Stack + "/" + s.Stage + "/" + s.ID }

// Identifier is implemented by providers whose resources have a name that
// is unique where they live (a bucket name, a table name).
type Identifier interface {
	// Name is the name the resource gets with r.Props and r.InstanceID, ""
	// when two resources may share it. A replacement whose new generation
	// would have the old one's name cannot be created while the old one
	// exists: the engine deletes the old one first.
	Name(r *Request) string
	// Identity identifies a deployed resource from its attributes (an id,
	// an ARN, a name): two generations with the same identity are the same
	// cloud resource, and cleaning up the old one would delete the new one.
	Identity(attr json.RawMessage) string
}
