package cloudflare

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/internal/cloudflare/cfapi"
)

// Workers scripts API (developers.cloudflare.com/api/resources/workers/subresources/scripts):
//
//	PUT    /accounts/{account_id}/workers/scripts/{script_name}            multipart/form-data:
//	       "metadata" (JSON: main_module, compatibility_date, bindings) and
//	       the module part "worker.js" (application/javascript+module)
//	POST   /accounts/{account_id}/workers/scripts/{script_name}/subdomain  {"enabled": true}
//	GET    /accounts/{account_id}/workers/scripts/{script_name}/script-settings {"tags", "logpush", ...}
//	GET    /accounts/{account_id}/workers/subdomain                         {"subdomain"}
//	DELETE /accounts/{account_id}/workers/scripts/{script_name}?force=true
//
// A missing script is HTTP 404, code 10007 "workers.api.error.script_not_found"
// (cloudflare/workers-sdk#2218).
//
// Ownership: the upload's metadata "tags" (a list of strings) tags the
// script, and script-settings shows them (cloudflare-typescript
// src/resources/workers/scripts: ScriptUpdateParams.Metadata.tags,
// ScriptSetting.tags). Every upload tags it alchemy::stack=<stack>,
// alchemy::stage=<stage> and alchemy::id=<id> (3 of the 8 tags Workers for
// Platforms documents as the limit); Read reports them as its stamp, and the
// engine decides from it. An upload replaces a script whatever it was, so
// Create first checks that there is none.
const (
	codeWorkerNotFound       = 10007
	workerMainModule         = "worker.js"
	workerModuleType         = "application/javascript+module"
	defaultCompatibilityDate = "2026-01-01"
	workerNameMax            = 63
)

func init() {
	alchemy.Register[WorkerArgs, WorkerAttrs](workerProvider{})
}

var (
	_ alchemy.Reader[WorkerArgs, WorkerAttrs]     = workerProvider{}
	_ alchemy.Identified[WorkerArgs, WorkerAttrs] = workerProvider{}
)

// WorkerProps declares a Cloudflare Worker (an ES module script).
//
// Bindings are whole maps from binding name to value. A map may be a literal
// (alchemy.V(map[string]string{...})) or built from other resources'
// outputs with Bindings.
type WorkerProps struct {
	// Name of the script: at most 63 lowercase letters, digits, '-' and
	// '_'. Default: the lower-cased physical name. Changing it replaces the
	// Worker.
	Name alchemy.Input[string] `json:"name"`
	// Script is the ES module source. Exactly one of Script and ScriptPath.
	Script alchemy.Input[string] `json:"script"`
	// ScriptPath is a file holding the ES module source, relative to the
	// stack file's directory. It is read when the stack is declared (a
	// literal path; an Output path once its value is known): an unreadable
	// file fails the plan, naming it. Its SHA-256 (not its content) is part
	// of the props, so editing the file redeploys the Worker; the path stays
	// as written.
	ScriptPath alchemy.Input[string] `json:"scriptPath"`
	// CompatibilityDate of the Workers runtime. Default: "2026-01-01".
	CompatibilityDate alchemy.Input[string] `json:"compatibilityDate"`
	// KV binds KV namespaces: binding name → namespace ID.
	KV alchemy.Input[map[string]string] `json:"kv"`
	// R2 binds R2 buckets: binding name → bucket name.
	R2 alchemy.Input[map[string]string] `json:"r2"`
	// D1 binds D1 databases: binding name → database ID.
	D1 alchemy.Input[map[string]string] `json:"d1"`
	// Vars are plain-text environment variables.
	Vars alchemy.Input[map[string]string] `json:"vars"`
	// Secrets are secret-text bindings. They reach state and plans only as a
	// hash.
	Secrets alchemy.Input[map[string]string] `json:"secrets" secret:"true"`
}

// workerDecl is what Declare sees: the props plus the script file's hash.
type workerDecl struct {
	Name              alchemy.Input[string]            `json:"name"`
	Script            alchemy.Input[string]            `json:"script"`
	ScriptPath        alchemy.Input[string]            `json:"scriptPath"`
	ScriptHash        alchemy.Input[string]            `json:"scriptHash"`
	CompatibilityDate alchemy.Input[string]            `json:"compatibilityDate"`
	KV                alchemy.Input[map[string]string] `json:"kv"`
	R2                alchemy.Input[map[string]string] `json:"r2"`
	D1                alchemy.Input[map[string]string] `json:"d1"`
	Vars              alchemy.Input[map[string]string] `json:"vars"`
	Secrets           alchemy.Input[map[string]string] `json:"secrets" secret:"true"`
}

// WorkerArgs are a Worker's resolved props.
type WorkerArgs struct {
	Name              string            `json:"name,omitempty"`
	Script            string            `json:"script,omitempty"`
	ScriptPath        string            `json:"scriptPath,omitempty"`
	ScriptHash        string            `json:"scriptHash,omitempty"`
	CompatibilityDate string            `json:"compatibilityDate,omitempty"`
	KV                map[string]string `json:"kv,omitempty"`
	R2                map[string]string `json:"r2,omitempty"`
	D1                map[string]string `json:"d1,omitempty"`
	Vars              map[string]string `json:"vars,omitempty"`
	// Secrets hold the clear values during create and update only; the
	// old props of a later call carry the engine's redacted hash instead.
	Secrets map[string]string `json:"secrets,omitempty"`
}

// WorkerAttrs are what a deployed Worker publishes.
type WorkerAttrs struct {
	Name string `json:"name"`
	// URL is https://<name>.<account subdomain>.workers.dev, empty when the
	// account has no workers.dev subdomain.
	URL  string `json:"url"`
	Etag string `json:"etag,omitempty"`
}

// Worker is a declared Cloudflare Worker.
type Worker struct {
	*alchemy.Resource
	Name alchemy.Output[string]
	URL  alchemy.Output[string]
}

// NewWorker declares a Worker. A ScriptPath known at declaration (a
// literal) is read and hashed there; one that is an Output of another
// resource when its value is known.
func NewWorker(s *alchemy.Stack, id string, props WorkerProps, opts ...alchemy.Option) *Worker {
	decl := workerDecl{
		Name: props.Name, Script: props.Script, ScriptPath: props.ScriptPath,
		CompatibilityDate: props.CompatibilityDate,
		KV:                props.KV, R2: props.R2, D1: props.D1, Vars: props.Vars, Secrets: props.Secrets,
	}
	if path, ok := alchemy.Known(props.ScriptPath); ok && path != "" {
		if hash, err := hashScriptFile(s.Path(path)); err != nil {
			s.Fail(id, fmt.Errorf("reading the Worker script %s: %w", path, err))
		} else {
			decl.ScriptHash = alchemy.String(hash)
		}
	} else if p, ok := props.ScriptPath.(alchemy.Output[string]); ok {
		decl.ScriptHash = alchemy.Map(p, func(path string) string {
			hash, err := hashScriptFile(s.Path(path))
			if err != nil {
				return "unreadable" // the deploy then fails reading it, naming it
			}
			return hash
		})
	}
	r := alchemy.Declare[WorkerArgs, WorkerAttrs](s, workerProvider{}, id, decl, opts...)
	return &Worker{Resource: r, Name: alchemy.Attr[string](r, "name"), URL: alchemy.Attr[string](r, "url")}
}

// hashScriptFile is "sha256:<hex>" of the file.
func hashScriptFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// Bindings combines outputs into one map output (binding name → value),
// known once every output is: for WorkerProps.KV, R2, D1, Vars or Secrets.
//
//	KV: cloudflare.Bindings(map[string]alchemy.Output[string]{"CACHE": ns.ID})
func Bindings(m map[string]alchemy.Output[string]) alchemy.Output[map[string]string] {
	return alchemy.StringMap(m)
}

type workerProvider struct{}

type workerRequest = alchemy.Request[WorkerArgs, WorkerAttrs]

func (workerProvider) Type() string        { return "Cloudflare.Worker" }
func (workerProvider) ReportsWrites() bool { return true } // writes no local file (alchemy.WriteReporter)
func (workerProvider) Auth() string        { return authName }
func (workerProvider) ReplaceOn() []string { return []string{"name"} }

func workerName(r *workerRequest, args WorkerArgs) string {
	if args.Name != "" {
		return args.Name
	}
	return strings.ToLower(r.PhysicalName(workerNameMax, true))
}

func (workerProvider) Name(r *workerRequest) string  { return workerName(r, r.Props) }
func (workerProvider) Identity(a WorkerAttrs) string { return a.Name }

// workerTags are the ownership tags every upload sets.
func workerTags(r *workerRequest) []string {
	st := r.Stamp()
	return []string{alchemy.TagStack + "=" + st.Stack, alchemy.TagStage + "=" + st.Stage, alchemy.TagID + "=" + st.ID}
}

// stampOfTags reads the ownership stamp from a script's tags (key=value).
func stampOfTags(tags []string) *alchemy.Stamp {
	m := map[string]string{}
	for _, t := range tags {
		if k, v, ok := strings.Cut(t, "="); ok {
			m[k] = v
		}
	}
	return alchemy.StampFromTags(m)
}

func validWorkerName(n string) bool {
	if n == "" || len(n) > workerNameMax {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// workerSource is the module to upload: Script, or ScriptPath's content
// (relative to the stack file's directory).
func workerSource(r *workerRequest) (string, error) {
	args := r.Props
	switch {
	case args.Script != "" && args.ScriptPath != "":
		return "", errors.New("set only one of Script and ScriptPath")
	case args.Script != "":
		return args.Script, nil
	case args.ScriptPath != "":
		data, err := os.ReadFile(r.Path(args.ScriptPath))
		if err != nil {
			return "", fmt.Errorf("reading the Worker script %s: %w", args.ScriptPath, err)
		}
		return string(data), nil
	}
	return "", errors.New("a Worker needs Script or ScriptPath")
}

type workerBinding struct {
	Type        string `json:"type"`
	Name        string `json:"name"`
	NamespaceID string `json:"namespace_id,omitempty"`
	BucketName  string `json:"bucket_name,omitempty"`
	ID          string `json:"id,omitempty"`
	Text        string `json:"text,omitempty"`
}

type workerMetadata struct {
	MainModule        string          `json:"main_module"`
	CompatibilityDate string          `json:"compatibility_date"`
	Bindings          []workerBinding `json:"bindings"`
	Tags              []string        `json:"tags"`
}

// workerBindings lists the bindings, sorted by name within each kind. A
// name bound twice is an error.
func workerBindings(args WorkerArgs) ([]workerBinding, error) {
	out := []workerBinding{}
	seen := map[string]string{}
	add := func(kind string, m map[string]string, mk func(name, v string) workerBinding) error {
		names := make([]string, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if n == "" {
				return fmt.Errorf("a %s binding has an empty name", kind)
			}
			if prev, dup := seen[n]; dup {
				return fmt.Errorf("binding %q is declared twice (%s and %s)", n, prev, kind)
			}
			if m[n] == "" && kind != "Vars" && kind != "Secrets" {
				return fmt.Errorf("%s binding %q has no value", kind, n)
			}
			seen[n] = kind
			out = append(out, mk(n, m[n]))
		}
		return nil
	}
	for _, k := range []struct {
		kind string
		m    map[string]string
		mk   func(name, v string) workerBinding
	}{
		{"KV", args.KV, func(n, v string) workerBinding { return workerBinding{Type: "kv_namespace", Name: n, NamespaceID: v} }},
		{"R2", args.R2, func(n, v string) workerBinding { return workerBinding{Type: "r2_bucket", Name: n, BucketName: v} }},
		{"D1", args.D1, func(n, v string) workerBinding { return workerBinding{Type: "d1", Name: n, ID: v} }},
		{"Vars", args.Vars, func(n, v string) workerBinding { return workerBinding{Type: "plain_text", Name: n, Text: v} }},
		{"Secrets", args.Secrets, func(n, v string) workerBinding { return workerBinding{Type: "secret_text", Name: n, Text: v} }},
	} {
		if err := add(k.kind, k.m, k.mk); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// uploadBody is the multipart form of an upload.
func uploadBody(meta workerMetadata, source string) (contentType string, body []byte, err error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	mj, err := json.Marshal(meta)
	if err != nil {
		return "", nil, err
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="metadata"`)
	h.Set("Content-Type", "application/json")
	part, err := w.CreatePart(h)
	if err != nil {
		return "", nil, err
	}
	part.Write(mj)
	h = textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, workerMainModule, workerMainModule))
	h.Set("Content-Type", workerModuleType)
	if part, err = w.CreatePart(h); err != nil {
		return "", nil, err
	}
	part.Write([]byte(source))
	if err := w.Close(); err != nil {
		return "", nil, err
	}
	return w.FormDataContentType(), buf.Bytes(), nil
}

// doRaw is do for a raw body: a fresh reader on every try.
func (c *client) doRaw(ctx context.Context, method, path, contentType string, data []byte, result any) error {
	for try := 1; ; try++ {
		_, err := c.api.Do(ctx, method, path, nil, cfapi.RawBody{ContentType: contentType, Reader: bytes.NewReader(data)}, result)
		if err == nil || try >= maxTries || !cfapi.IsUnreachable(err) || ctx.Err() != nil {
			return err
		}
		if err := sleep(ctx, backoff(try, err)); err != nil {
			return err
		}
	}
}

func (c *client) scriptPath(name, rest string) string {
	return c.accountPath("/workers/scripts/" + url.PathEscape(name) + rest)
}

// deploy uploads the script, turns its workers.dev route on and builds the
// URL. Error messages name bindings, never their values.
func (c *client) deployWorker(ctx context.Context, r *workerRequest, name string) (WorkerAttrs, error) {
	args := r.Props
	source, err := workerSource(r)
	if err != nil {
		return WorkerAttrs{}, fmt.Errorf("Worker %s: %w", name, err)
	}
	bindings, err := workerBindings(args)
	if err != nil {
		return WorkerAttrs{}, fmt.Errorf("Worker %s: %w", name, err)
	}
	date := args.CompatibilityDate
	if date == "" {
		date = defaultCompatibilityDate
	}
	ct, body, err := uploadBody(workerMetadata{MainModule: workerMainModule, CompatibilityDate: date, Bindings: bindings, Tags: workerTags(r)}, source)
	if err != nil {
		return WorkerAttrs{}, fmt.Errorf("Worker %s: building the upload: %w", name, err)
	}
	r.Note(fmt.Sprintf("Uploading worker (%d KB)...", (len(source)+1023)/1024))
	var up struct {
		ID   string `json:"id"`
		Etag string `json:"etag"`
	}
	if err := c.doRaw(ctx, http.MethodPut, c.scriptPath(name, ""), ct, body, &up); err != nil {
		return WorkerAttrs{}, fmt.Errorf("uploading Worker %s: %w", name, err)
	}
	attrs := WorkerAttrs{Name: name, Etag: up.Etag}
	var sub struct {
		Subdomain string `json:"subdomain"`
	}
	_, err = c.do(ctx, http.MethodGet, c.accountPath("/workers/subdomain"), nil, nil, &sub)
	if err != nil && !isStatus(err, http.StatusNotFound) {
		return WorkerAttrs{}, fmt.Errorf("reading the account's workers.dev subdomain: %w", err)
	}
	if err != nil || sub.Subdomain == "" {
		r.Note("The account has no workers.dev subdomain: Worker " + name + " has no URL")
		return attrs, nil
	}
	if _, err := c.do(ctx, http.MethodPost, c.scriptPath(name, "/subdomain"), nil, map[string]bool{"enabled": true}, nil); err != nil {
		return WorkerAttrs{}, fmt.Errorf("enabling workers.dev for Worker %s: %w", name, err)
	}
	attrs.URL = "https://" + name + "." + sub.Subdomain + ".workers.dev"
	return attrs, nil
}

// scriptTags reads a script's tags; found is false when there is no such
// script.
func (c *client) scriptTags(ctx context.Context, name string) (tags []string, found bool, err error) {
	var set struct {
		Tags []string `json:"tags"`
	}
	_, err = c.do(ctx, http.MethodGet, c.scriptPath(name, "/script-settings"), nil, nil, &set)
	if isGone(err, codeWorkerNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("looking up Worker %s: %w", name, err)
	}
	return set.Tags, true, nil
}

// Read finds the script by its name; its stamp is its ownership tags.
func (workerProvider) Read(ctx context.Context, r *workerRequest) (*alchemy.Found[WorkerArgs, WorkerAttrs], error) {
	name := r.OldAttrs.Name
	if name == "" {
		name = workerName(r, r.Props)
	}
	if !validWorkerName(name) {
		return nil, nil // Create says why
	}
	c, err := newClient(r.Credentials)
	if err != nil {
		return nil, err
	}
	tags, found, err := c.scriptTags(ctx, name)
	if err != nil || !found {
		return nil, err
	}
	generated := r.Props.Name == "" && name == workerName(r, WorkerArgs{})
	// The script's code and bindings are not read back: Update uploads the
	// declared ones whatever they were.
	live := r.Props
	live.Name = name
	if generated {
		live.Name = ""
	}
	return &alchemy.Found[WorkerArgs, WorkerAttrs]{
		Attrs:     WorkerAttrs{Name: name},
		Props:     &live,
		Name:      "Worker " + name,
		Generated: generated,
		Stamp:     stampOfTags(tags),
		// Every upload carries the tags: an untagged script is not one of
		// this resource's.
		StampedOnCreate: true,
	}, nil
}

// Create uploads the script. An upload replaces any script of that name,
// so a script that exists is reported as alchemy.ErrAlreadyExists instead:
// the engine reads it and decides whether it may be taken over.
func (workerProvider) Create(ctx context.Context, r *workerRequest) (WorkerAttrs, error) {
	name := workerName(r, r.Props)
	if !validWorkerName(name) {
		return WorkerAttrs{}, fmt.Errorf("invalid Worker name %q: want 1 to %d lowercase letters, digits, '-' and '_'", name, workerNameMax)
	}
	c, err := newClient(r.Credentials)
	if err != nil {
		return WorkerAttrs{}, err
	}
	if _, found, err := c.scriptTags(ctx, name); err != nil {
		return WorkerAttrs{}, err
	} else if found {
		return WorkerAttrs{}, fmt.Errorf("creating Worker %s: %w", name, alchemy.ErrAlreadyExists)
	}
	return c.deployWorker(ctx, r, name)
}

// Update re-uploads the script (after a change of its props, or to take
// over the script Read found); a name change replaces the Worker.
func (workerProvider) Update(ctx context.Context, r *workerRequest) (WorkerAttrs, error) {
	c, err := newClient(r.Credentials)
	if err != nil {
		return WorkerAttrs{}, err
	}
	name := r.OldAttrs.Name
	if name == "" {
		name = workerName(r, r.Props)
	}
	return c.deployWorker(ctx, r, name)
}

// Delete removes the script; one already gone is success.
func (workerProvider) Delete(ctx context.Context, r *workerRequest) error {
	c, err := newClient(r.Credentials)
	if err != nil {
		return err
	}
	name := r.OldAttrs.Name
	if name == "" {
		name = workerName(r, r.OldProps)
	}
	q := url.Values{"force": {"true"}}
	_, err = c.do(ctx, http.MethodDelete, c.scriptPath(name, ""), q, nil, nil)
	if isGone(err, codeWorkerNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting Worker %s: %w", name, err)
	}
	return nil
}
