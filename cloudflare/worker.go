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
//	GET    /accounts/{account_id}/workers/scripts/{script_name}/subdomain  (existence probe)
//	GET    /accounts/{account_id}/workers/subdomain                         {"subdomain"}
//	DELETE /accounts/{account_id}/workers/scripts/{script_name}?force=true
//
// A missing script is HTTP 404, code 10007 "workers.api.error.script_not_found"
// (cloudflare/workers-sdk#2218).
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
	// ScriptPath is a file holding the ES module source, read at deploy. Its
	// SHA-256 (not its content) is part of the props, so editing the file
	// redeploys the Worker.
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

// NewWorker declares a Worker. A ScriptPath given as a literal or an Output
// is hashed when its value is known (at plan time for a literal).
func NewWorker(s *alchemy.Stack, id string, props WorkerProps, opts ...alchemy.Option) *Worker {
	decl := workerDecl{
		Name: props.Name, Script: props.Script, ScriptPath: props.ScriptPath,
		CompatibilityDate: props.CompatibilityDate,
		KV:                props.KV, R2: props.R2, D1: props.D1, Vars: props.Vars, Secrets: props.Secrets,
	}
	if p, ok := props.ScriptPath.(alchemy.Output[string]); ok {
		decl.ScriptHash = alchemy.Map(p, hashScriptFile)
	}
	r := alchemy.Declare[WorkerArgs, WorkerAttrs](s, workerProvider{}, id, decl, opts...)
	return &Worker{Resource: r, Name: alchemy.Attr[string](r, "name"), URL: alchemy.Attr[string](r, "url")}
}

// hashScriptFile is "sha256:<hex>" of the file, or "unreadable" (the deploy
// then fails reading it, with the reason).
func hashScriptFile(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "unreadable"
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
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
func (workerProvider) Auth() string        { return authName }
func (workerProvider) ReplaceOn() []string { return []string{"name"} }

func workerName(r *workerRequest, args WorkerArgs) string {
	if args.Name != "" {
		return args.Name
	}
	return strings.ToLower(r.PhysicalName(workerNameMax, true))
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

// workerSource is the module to upload: Script, or ScriptPath's content.
func workerSource(args WorkerArgs) (string, error) {
	switch {
	case args.Script != "" && args.ScriptPath != "":
		return "", errors.New("set only one of Script and ScriptPath")
	case args.Script != "":
		return args.Script, nil
	case args.ScriptPath != "":
		data, err := os.ReadFile(args.ScriptPath)
		if err != nil {
			return "", fmt.Errorf("reading the Worker script: %w", err)
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
	source, err := workerSource(args)
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
	ct, body, err := uploadBody(workerMetadata{MainModule: workerMainModule, CompatibilityDate: date, Bindings: bindings}, source)
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

// Create uploads the script. A script with a name the author chose that
// already exists is someone else's unless --adopt; a generated name embeds
// stack, id, stage and instance, so a script with it is this resource's
// (an interrupted create) and is overwritten.
func (workerProvider) Create(ctx context.Context, r *workerRequest) (WorkerAttrs, error) {
	c, err := newClient(r.Credentials)
	if err != nil {
		return WorkerAttrs{}, err
	}
	name := workerName(r, r.Props)
	if !validWorkerName(name) {
		return WorkerAttrs{}, fmt.Errorf("invalid Worker name %q: want 1 to %d lowercase letters, digits, '-' and '_'", name, workerNameMax)
	}
	if r.Props.Name != "" && !r.Adopt {
		_, err := c.do(ctx, http.MethodGet, c.scriptPath(name, "/subdomain"), nil, nil, nil)
		switch {
		case err == nil:
			if err := r.MayAdopt("Cloudflare.Worker", "Worker "+name, false); err != nil {
				return WorkerAttrs{}, err
			}
		case hasCode(err, codeWorkerNotFound) || isStatus(err, http.StatusNotFound):
		default:
			return WorkerAttrs{}, fmt.Errorf("looking up Worker %s: %w", name, err)
		}
	}
	return c.deployWorker(ctx, r, name)
}

// Update re-uploads the script (the engine calls it only when props
// changed; a name change replaces the Worker).
func (p workerProvider) Update(ctx context.Context, r *workerRequest) (WorkerAttrs, error) {
	if r.OldAttrs.Name == "" {
		return p.Create(ctx, r)
	}
	c, err := newClient(r.Credentials)
	if err != nil {
		return WorkerAttrs{}, err
	}
	return c.deployWorker(ctx, r, r.OldAttrs.Name)
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
	if err != nil && (hasCode(err, codeWorkerNotFound) || isStatus(err, http.StatusNotFound)) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting Worker %s: %w", name, err)
	}
	return nil
}
