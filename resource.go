package alchemy

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/engine"
)

// Provider implements one resource type. Args is the resolved props (plain
// values, JSON-tagged like the Props struct the stack author fills in) and
// Attrs the attributes the resource publishes.
type Provider[Args, Attrs any] interface {
	// Type is the resource type, e.g. "Local.File".
	Type() string
	// Create creates the resource. It must be idempotent for the same
	// instance: a create interrupted after the cloud call is retried.
	Create(ctx context.Context, r *Request[Args, Attrs]) (Attrs, error)
	// Update changes the resource in place to r.Props.
	Update(ctx context.Context, r *Request[Args, Attrs]) (Attrs, error)
	// Delete removes the resource; "already gone" is success.
	Delete(ctx context.Context, r *Request[Args, Attrs]) error
	// ReplaceOn lists the props whose change needs a new resource instead of
	// an update.
	ReplaceOn() []string
}

// AuthProvider is implemented by providers whose calls need credentials:
// it names the auth provider ("Cloudflare", "AWS", ...).
type AuthProvider interface{ Auth() string }

// Request is what a provider call receives.
type Request[Args, Attrs any] struct {
	Stack, Stage string
	FQN          string
	LogicalID    string
	// InstanceID changes only when the resource is replaced; it seeds
	// physical names.
	InstanceID string
	// Props are the desired props (create, update).
	Props Args
	// OldProps and OldAttrs are the last applied ones (update, delete).
	OldProps Args
	OldAttrs Attrs
	// Credentials of the provider's auth provider, nil when it needs none.
	Credentials auth.Credentials
	// Adopt is deploy --adopt: an existing resource this stack does not own
	// may be taken over.
	Adopt bool
	note  func(string)
}

// MayAdopt decides whether Create may take over a resource it found
// already existing: always when it carries this resource's ownership (its
// generated name embeds stack, id, stage and instance, or its tags say so:
// an interrupted create being resumed), otherwise only with --adopt. The
// error says how to take it over.
func (r *Request[Args, Attrs]) MayAdopt(typ, what string, owned bool) error {
	if owned || r.Adopt {
		return nil
	}
	return fmt.Errorf("Cannot adopt resource '%s' (%s): %s exists in the cloud but is not owned by this stack/stage/logical-id. Re-run with `--adopt` to take it over, or choose another name.", r.FQN, typ, what)
}

// Note reports progress for this resource ("Uploading worker (14 KB)...").
func (r *Request[Args, Attrs]) Note(msg string) {
	if r.note != nil {
		r.note(msg)
	}
}

// PhysicalName is a name unique to this stack, logical id, stage and
// instance (see physical.go).
func (r *Request[Args, Attrs]) PhysicalName(maxLength int, lowercase bool) string {
	return PhysicalName(r.Stack, r.LogicalID, r.Stage, r.InstanceID, maxLength, lowercase)
}

// Resource is a declared resource.
type Resource struct {
	fqn, typ string
}

// ID is the resource's logical id (its key in state).
func (r *Resource) ID() string { return r.fqn }

// Option changes how a resource is managed.
type Option func(*engine.Node)

// Retain keeps the cloud resource when it is removed from the stack or the
// stage is destroyed; only its state is dropped.
func Retain() Option { return func(n *engine.Node) { n.Retain = true } }

// Declare registers a resource of provider p with the stack. props must be a
// struct whose fields are Inputs tagged with their JSON names; fields tagged
// `secret:"true"` never reach state or plan output in clear.
func Declare[Args, Attrs any](s *Stack, p Provider[Args, Attrs], id string, props any, opts ...Option) *Resource {
	n := &engine.Node{FQN: id, LogicalID: id, Type: p.Type(), Props: map[string]engine.Value{}, Secret: map[string]bool{},
		Provider: erased[Args, Attrs]{p}}
	rv := reflect.ValueOf(props)
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		panic(fmt.Sprintf("alchemy: props of %s must be a struct, not %T", id, props))
	}
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		name := strings.Split(f.Tag.Get("json"), ",")[0]
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		fv := rv.Field(i)
		if fv.Kind() == reflect.Interface && fv.IsNil() {
			continue
		}
		in, ok := fv.Interface().(interface{ value() engine.Value })
		if !ok {
			n.Props[name] = literal{fv.Interface()}
		} else if in.value() != nil {
			n.Props[name] = in.value()
		}
		if f.Tag.Get("secret") == "true" {
			n.Secret[name] = true
		}
	}
	for _, o := range opts {
		o(n)
	}
	s.nodes = append(s.nodes, n)
	return &Resource{fqn: id, typ: p.Type()}
}

// Register makes a resource type known even to stacks that no longer
// declare it, so its leftovers in state can be deleted. Resource packages
// call it from init for each of their providers.
func Register[Args, Attrs any](p Provider[Args, Attrs]) {
	engine.RegisterProvider(erased[Args, Attrs]{p})
}

// erased adapts a typed provider to the engine's JSON form.
type erased[Args, Attrs any] struct{ p Provider[Args, Attrs] }

func (e erased[Args, Attrs]) Type() string { return e.p.Type() }

func (e erased[Args, Attrs]) Auth() string {
	if a, ok := e.p.(AuthProvider); ok {
		return a.Auth()
	}
	return ""
}

func (e erased[Args, Attrs]) Diff(olds, news json.RawMessage, changed []string) (engine.Change, error) {
	replace := map[string]bool{}
	for _, k := range e.p.ReplaceOn() {
		replace[k] = true
	}
	for _, k := range changed {
		if replace[k] {
			return engine.ChangeReplace, nil
		}
	}
	if len(changed) > 0 {
		return engine.ChangeUpdate, nil
	}
	return engine.ChangeNone, nil
}

func (e erased[Args, Attrs]) request(r *engine.Request) (*Request[Args, Attrs], error) {
	req := &Request[Args, Attrs]{Stack: r.Stack, Stage: r.Stage, FQN: r.FQN, LogicalID: r.LogicalID,
		InstanceID: r.InstanceID, Credentials: r.Credentials, Adopt: r.Adopt, note: r.Note}
	for _, x := range []struct {
		raw json.RawMessage
		dst any
	}{{r.Props, &req.Props}, {r.OldProps, &req.OldProps}, {r.OldAttr, &req.OldAttrs}} {
		if len(x.raw) > 0 {
			if err := json.Unmarshal(x.raw, x.dst); err != nil {
				return nil, fmt.Errorf("decoding state of %s: %w", r.FQN, err)
			}
		}
	}
	return req, nil
}

func (e erased[Args, Attrs]) Create(ctx context.Context, r *engine.Request) (json.RawMessage, error) {
	req, err := e.request(r)
	if err != nil {
		return nil, err
	}
	a, err := e.p.Create(ctx, req)
	if err != nil {
		return nil, err
	}
	return json.Marshal(a)
}

func (e erased[Args, Attrs]) Update(ctx context.Context, r *engine.Request) (json.RawMessage, error) {
	req, err := e.request(r)
	if err != nil {
		return nil, err
	}
	a, err := e.p.Update(ctx, req)
	if err != nil {
		return nil, err
	}
	return json.Marshal(a)
}

func (e erased[Args, Attrs]) Delete(ctx context.Context, r *engine.Request) error {
	req, err := e.request(r)
	if err != nil {
		return err
	}
	return e.p.Delete(ctx, req)
}
