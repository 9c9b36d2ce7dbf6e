package alchemy

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"

	"github.com/alchemy-go/alchemy/auth"
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

// Reader is implemented by providers whose resources live outside the
// stack program (in a cloud, on disk). Read finds the resource r names (by
// r.Props and r.InstanceID, or r.OldAttrs when they are known) and returns
// nil, nil when there is none. Read reports facts; the engine alone decides
// from them whether an existing resource may be taken over (deploy) or
// deleted (destroy), with one policy for every resource type:
//
//   - it carries this resource's ownership tags, or its name was generated
//     from this resource's instance: it is ours;
//   - this resource's own row shows an interrupted create of that name: ours;
//   - otherwise only with --adopt, and never when Unadoptable says so.
//
// So Create never takes over anything: when the name is taken it returns an
// error wrapping ErrAlreadyExists.
type Reader[Args, Attrs any] interface {
	Read(ctx context.Context, r *Request[Args, Attrs]) (*Found[Args, Attrs], error)
}

// Found is what Read found.
type Found[Args, Attrs any] struct {
	// Attrs are its attributes, as Create would have returned them.
	Attrs Attrs
	// Props is its live configuration, for taking it over (Update gets it
	// as OldProps) and for drift (plan --refresh). Fields that cannot be
	// read are copied from r.Props. nil when nothing can be read.
	Props *Args
	// Name says what it is, for messages: "bucket photos-prod".
	Name string
	// Generated is set when its name was generated from r.InstanceID
	// (Request.PhysicalName): only this resource can have made it.
	Generated bool
	// Stamp is the ownership it carries (see StampFromTags), nil for none.
	Stamp *Stamp
	// Unadoptable, when set, says why it can never be taken over, even with
	// --adopt: "it belongs to another AWS account".
	Unadoptable string
	// StampedOnCreate says that Create writes the stamp in the same call
	// that makes the resource (a record's comment, tags in the create
	// request): then one without a stamp was never made by this resource,
	// even if its row shows an interrupted create.
	StampedOnCreate bool
}

// Stamp is the ownership a resource carries: the stack, stage and logical
// id that created it, as struct{ Stack, Stage, ID string } (its String is
// "stack/stage/id").
type Stamp = engine.Stamp

// Ownership tag keys, the TypeScript tool's: every resource that can carry
// tags or a marker is stamped with them.
const (
	TagStack = "alchemy::stack"
	TagStage = "alchemy::stage"
	TagID    = "alchemy::id"
)

// StampFromTags reads the ownership stamp from a resource's tags; nil when
// it has none of the ownership tags.
func StampFromTags(tags map[string]string) *Stamp {
	stack, ok1 := tags[TagStack]
	stage, ok2 := tags[TagStage]
	id, ok3 := tags[TagID]
	if !ok1 && !ok2 && !ok3 {
		return nil
	}
	return &Stamp{Stack: stack, Stage: stage, ID: id}
}

// Identified is implemented by providers whose resources have a name that
// is unique where they live.
type Identified[Args, Attrs any] interface {
	// Name is the name the resource gets with r.Props and r.InstanceID
	// ("" when names need not be unique). When a replacement's new
	// generation would get the current one's name, the engine deletes the
	// current one first.
	Name(r *Request[Args, Attrs]) string
	// Identity identifies a deployed resource by its attributes (id, ARN):
	// the engine never deletes an old generation with the new one's
	// identity.
	Identity(a Attrs) string
}

// Versioned is implemented by providers whose rows changed shape: Version
// is written to each row (providerVersion, default 0), and a row of a newer
// version is refused rather than misread.
type Versioned interface{ Version() int }

// ErrAlreadyExists is what Create wraps when the resource's name is taken:
// the engine then decides whether what is there may be taken over.
var ErrAlreadyExists = engine.ErrAlreadyExists

// ErrMaybeCreated is what Create wraps together with ErrAlreadyExists when
// the name was taken on a retry after an earlier attempt of the same call
// got no answer (a timeout, a 5xx): that attempt may have created it, and
// the engine judges it as its own interrupted create.
var ErrMaybeCreated = engine.ErrMaybeCreated

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
	// Credentials of the provider's auth provider, nil when it needs none;
	// read the built-in providers' with auth.Cloudflare, auth.AWS and
	// auth.GitHub.
	Credentials auth.Credentials
	// Refresh resolves the credentials again once they expire (long
	// calls); the same for every request of the run, so clients can cache
	// on it. nil when the provider needs none.
	Refresh *auth.Refresher
	// Dir is the stack file's directory.
	Dir   string
	note  func(string)
	wrote func(string)
}

// Path resolves a path from the stack's props: relative paths are relative
// to the stack file's directory, whatever directory alchemy runs in.
func (r *Request[Args, Attrs]) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || r.Dir == "" {
		return p
	}
	return filepath.Join(r.Dir, p)
}

// Stamp is this resource's ownership stamp.
func (r *Request[Args, Attrs]) Stamp() Stamp {
	return Stamp{Stack: r.Stack, Stage: r.Stage, ID: r.FQN}
}

// Note reports progress for this resource ("Uploading worker (14 KB)...").
func (r *Request[Args, Attrs]) Note(msg string) {
	if r.note != nil {
		r.note(msg)
	}
}

// Wrote reports that this call wrote, replaced or removed the file at
// path on this machine (a relative path is resolved like Path). A provider
// that implements WriteReporter calls it for every such file; `alchemy dev`
// then knows the change is the deploy's own and not a user's edit.
func (r *Request[Args, Attrs]) Wrote(path string) {
	if r.wrote != nil {
		r.wrote(path)
	}
}

// WriteReporter is implemented by providers whose calls report every file
// they write, replace or remove on this machine with Request.Wrote; a
// provider whose calls write no local file reports none and implements it
// too, returning true. While a deploy of `alchemy dev` runs, a file in the
// stack's module that changes is the deploy's own output when a call
// reported it; any other is a user's edit, and dev deploys it next, unless
// the deploy called a provider without this promise (whose calls may have
// written anything): dev then takes every change for the deploy's own.
type WriteReporter interface{ ReportsWrites() bool }

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

// Option changes how a resource is managed (Retain).
type Option struct{ apply func(*engine.Node) }

// Retain keeps the cloud resource when it is removed from the stack or the
// stage is destroyed; only its state is dropped.
func Retain() Option { return Option{func(n *engine.Node) { n.Retain = true }} }

// Declare registers a resource of provider p with the stack. props must be a
// struct whose fields are Inputs tagged with their JSON names; fields tagged
// `secret:"true"` never reach state or plan output in clear.
func Declare[Args, Attrs any](s *Stack, p Provider[Args, Attrs], id string, props any, opts ...Option) *Resource {
	rv := reflect.ValueOf(props)
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		panic(fmt.Sprintf("alchemy: props of %s must be a struct, not %T", id, props))
	}
	fields := propFieldsOf(rv.Type())
	n := &engine.Node{FQN: id, LogicalID: id, Type: p.Type(), Props: make(map[string]engine.Value, len(fields)),
		Provider: engineProvider(p)}
	for _, f := range fields {
		fv := rv.Field(f.index)
		if fv.Kind() == reflect.Interface && fv.IsNil() {
			continue
		}
		in, ok := fv.Interface().(interface{ value() engine.Value })
		if !ok {
			n.Props[f.name] = literal{v: fv.Interface()}
		} else if in.value() != nil {
			n.Props[f.name] = in.value()
		}
		if f.secret {
			if n.Secret == nil {
				n.Secret = map[string]bool{}
			}
			n.Secret[f.name] = true
		}
	}
	for _, o := range opts {
		if o.apply != nil {
			o.apply(n)
		}
	}
	s.nodes = append(s.nodes, n)
	return &Resource{fqn: id, typ: p.Type()}
}

// propField is a field of a props struct that becomes a prop: exported,
// named by its json tag.
type propField struct {
	index  int
	name   string
	secret bool
}

// propFields caches each props type's fields: a stack declares thousands
// of resources of a few types.
var propFields sync.Map // reflect.Type → []propField

func propFieldsOf(rt reflect.Type) []propField {
	if v, ok := propFields.Load(rt); ok {
		return v.([]propField)
	}
	var fields []propField
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		fields = append(fields, propField{index: i, name: name, secret: f.Tag.Get("secret") == "true"})
	}
	propFields.Store(rt, fields)
	return fields
}

// Register makes a resource type known even to stacks that no longer
// declare it, so its leftovers in state can be deleted. Resource packages
// call it from init for each of their providers.
func Register[Args, Attrs any](p Provider[Args, Attrs]) {
	engine.RegisterProvider(engineProvider(p))
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

func (e erased[Args, Attrs]) Version() int {
	if v, ok := e.p.(Versioned); ok {
		return v.Version()
	}
	return 0
}

// ReportsWrites is the typed provider's promise (WriteReporter), false
// without one.
func (e erased[Args, Attrs]) ReportsWrites() bool {
	w, ok := e.p.(WriteReporter)
	return ok && w.ReportsWrites()
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
		InstanceID: r.InstanceID, Credentials: r.Credentials, Refresh: r.Refresh, Dir: r.Dir, note: r.Note, wrote: r.Wrote}
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

// readable and identified are erased providers with the optional
// capabilities of their typed provider; Register and Declare pick the one
// that matches, so the engine sees exactly what the provider implements.
type readable[Args, Attrs any] struct{ erased[Args, Attrs] }

func (e readable[Args, Attrs]) Read(ctx context.Context, r *engine.Request) (*engine.Found, error) {
	req, err := e.request(r)
	if err != nil {
		return nil, err
	}
	f, err := e.p.(Reader[Args, Attrs]).Read(ctx, req)
	if err != nil || f == nil {
		return nil, err
	}
	out := &engine.Found{Name: f.Name, Generated: f.Generated, Stamp: f.Stamp, Unadoptable: f.Unadoptable, StampedOnCreate: f.StampedOnCreate}
	if out.Attr, err = json.Marshal(f.Attrs); err != nil {
		return nil, err
	}
	if f.Props != nil {
		if out.Props, err = json.Marshal(f.Props); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type identified[Args, Attrs any] struct{ erased[Args, Attrs] }

func (e identified[Args, Attrs]) Name(r *engine.Request) string { return name(e.erased, r) }
func (e identified[Args, Attrs]) Identity(attr json.RawMessage) string {
	return identity(e.erased, attr)
}

type readableIdentified[Args, Attrs any] struct{ readable[Args, Attrs] }

func (e readableIdentified[Args, Attrs]) Name(r *engine.Request) string { return name(e.erased, r) }
func (e readableIdentified[Args, Attrs]) Identity(attr json.RawMessage) string {
	return identity(e.erased, attr)
}

func name[Args, Attrs any](e erased[Args, Attrs], r *engine.Request) string {
	req, err := e.request(r)
	if err != nil {
		return ""
	}
	return e.p.(Identified[Args, Attrs]).Name(req)
}

func identity[Args, Attrs any](e erased[Args, Attrs], attr json.RawMessage) string {
	var a Attrs
	if len(attr) == 0 || json.Unmarshal(attr, &a) != nil {
		return ""
	}
	return e.p.(Identified[Args, Attrs]).Identity(a)
}

// engineProvider wraps a typed provider for the engine.
func engineProvider[Args, Attrs any](p Provider[Args, Attrs]) engine.Provider {
	e := erased[Args, Attrs]{p}
	_, reads := p.(Reader[Args, Attrs])
	_, ids := p.(Identified[Args, Attrs])
	switch {
	case reads && ids:
		return readableIdentified[Args, Attrs]{readable[Args, Attrs]{e}}
	case reads:
		return readable[Args, Attrs]{e}
	case ids:
		return identified[Args, Attrs]{e}
	}
	return e
}
