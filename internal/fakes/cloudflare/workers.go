package cloudflarefake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"sort"
)

// Workers scripts: /accounts/{account_id}/workers/scripts/{script_name} and
// the workers.dev subdomain.
//
// Shapes (developers.cloudflare.com/api/resources/workers/subresources/scripts,
// .../scripts/subresources/subdomain, .../workers/subresources/subdomains):
//   - PUT /workers/scripts/{name} is multipart/form-data: a "metadata" part
//     (JSON: main_module, compatibility_date, bindings [...]) and one part per
//     module, named by its file name; main_module must name one of them.
//     The answer is the script: {"id","etag","created_on","modified_on",...};
//   - a binding that names a missing resource fails the upload with HTTP 400:
//     KV "KV namespace '<id>' is not valid. Please verify the namespace_id in
//     your configuration. [code: 10042]" and R2 "R2 bucket '<name>' not
//     found. Please use a different name and try again. [code: 10085]" (both
//     quoted in cloudflare/workers-sdk issues #14249 and #9418); the D1
//     code and message are not looked up;
//   - POST /workers/scripts/{name}/subdomain {"enabled"} turns the
//     <name>.<subdomain>.workers.dev route on or off;
//   - GET /workers/subdomain is {"subdomain"}; an account that never chose
//     one answers 404 (code not looked up);
//   - DELETE /workers/scripts/{name}[?force=true] removes the script;
//   - an unknown script: HTTP 404, code 10007
//     "workers.api.error.script_not_found" (cloudflare/workers-sdk#2218);
//   - tags: the upload metadata's "tags" (an array of strings) sets the
//     script's tags; GET /workers/scripts/{name}/script-settings answers
//     {"logpush","observability","tags","tail_consumers"} (tags null when
//     none) and PATCH on it with a JSON body {"tags": [...]} replaces them
//     (cloudflare-typescript src/resources/workers/scripts: ScriptUpdateParams
//     .Metadata.tags, ScriptSetting, Settings.get/edit); the script object
//     also lists them. Not looked up: whether an upload without "tags" keeps
//     or clears the script's tags (the fake keeps them), and the tag limits
//     (Workers for Platforms documents at most eight tags per script, without
//     ',' or '&'; the fake enforces neither).

type workerScript struct {
	name, etag  string
	metadata    map[string]any
	mainModule  string
	modules     map[string]string
	bindings    []map[string]any
	subdomain   bool
	created     string
	modified    string
	uploadCount int
	tags        []string
}

var (
	errScriptNotFound     = apiMessage{Code: 10007, Message: "workers.api.error.script_not_found"}
	errSubdomainNotFound  = apiMessage{Code: 10007, Message: "workers.api.error.subdomain_not_found"}
	errNoMetadataPart     = apiMessage{Code: 10021, Message: "Uncaught Error: No metadata part in the upload"}
	errMainModuleMissing  = apiMessage{Code: 10021, Message: "main_module must name a module part of the upload"}
	errNotMultipart       = apiMessage{Code: 10021, Message: "Expected a multipart/form-data upload"}
	errBadMetadataJSON    = apiMessage{Code: 10021, Message: "could not parse the metadata part"}
	errUnknownBindingType = apiMessage{Code: 10021, Message: "unknown binding type"}
	// Not looked up: the code of malformed tags.
	errBadTags = apiMessage{Code: 10021, Message: "tags must be an array of strings"}
)

func errKVBindingInvalid(id string) apiMessage {
	return apiMessage{Code: 10042, Message: fmt.Sprintf("KV namespace '%s' is not valid. Please verify the namespace_id in your configuration.", id)}
}

func errR2BindingNotFound(name string) apiMessage {
	return apiMessage{Code: 10085, Message: fmt.Sprintf("R2 bucket '%s' not found. Please use a different name and try again.", name)}
}

// Not looked up.
func errD1BindingNotFound(id string) apiMessage {
	return apiMessage{Code: 10021, Message: fmt.Sprintf("D1 database '%s' not found.", id)}
}

func (s *Server) workersOf(account string) map[string]*workerScript {
	m := s.workers[account]
	if m == nil {
		m = map[string]*workerScript{}
		s.workers[account] = m
	}
	return m
}

func (w *workerScript) json() map[string]any {
	return map[string]any{
		"id": w.name, "etag": w.etag, "created_on": w.created, "modified_on": w.modified,
		"compatibility_date": w.metadata["compatibility_date"], "usage_model": "standard",
		"handlers": []string{"fetch"}, "tags": w.tagsJSON(),
	}
}

// tagsJSON is the script's tags as the API shows them: null when none.
func (w *workerScript) tagsJSON() any {
	if len(w.tags) == 0 {
		return nil
	}
	return append([]string(nil), w.tags...)
}

// parseTags reads a "tags" value: an array of strings.
func parseTags(v any) ([]string, bool) {
	if v == nil {
		return nil, true
	}
	raw, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(raw))
	for _, t := range raw {
		s, ok := t.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// parseUpload reads the multipart body of a script upload.
func parseUpload(c *call) (meta map[string]any, modules map[string]string, rep *reply) {
	mt, params, err := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		r := fail(http.StatusBadRequest, errNotMultipart)
		return nil, nil, &r
	}
	mr := multipart.NewReader(bytes.NewReader(c.body), params["boundary"])
	modules = map[string]string{}
	var rawMeta []byte
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			r := fail(http.StatusBadRequest, errNotMultipart)
			return nil, nil, &r
		}
		data, _ := io.ReadAll(p)
		if p.FormName() == "metadata" {
			rawMeta = data
			continue
		}
		name := p.FileName()
		if name == "" {
			name = p.FormName()
		}
		modules[name] = string(data)
	}
	if rawMeta == nil {
		r := fail(http.StatusBadRequest, errNoMetadataPart)
		return nil, nil, &r
	}
	if err := json.Unmarshal(rawMeta, &meta); err != nil {
		r := fail(http.StatusBadRequest, errBadMetadataJSON)
		return nil, nil, &r
	}
	return meta, modules, nil
}

// PUT /accounts/{account_id}/workers/scripts/{script_name}
func (s *Server) uploadWorkerScript(c *call) reply {
	account, rep := s.accountFor(c)
	if rep != nil {
		return *rep
	}
	meta, modules, rep := parseUpload(c)
	if rep != nil {
		return *rep
	}
	main, _ := meta["main_module"].(string)
	if _, ok := modules[main]; main == "" || !ok {
		return fail(http.StatusBadRequest, errMainModuleMissing)
	}
	var bindings []map[string]any
	if raw, ok := meta["bindings"].([]any); ok {
		for _, b := range raw {
			m, _ := b.(map[string]any)
			if m == nil {
				return fail(http.StatusBadRequest, errUnknownBindingType)
			}
			str := func(k string) string { v, _ := m[k].(string); return v }
			switch str("type") {
			case "kv_namespace":
				if s.kv[account][str("namespace_id")] == nil {
					return fail(http.StatusBadRequest, errKVBindingInvalid(str("namespace_id")))
				}
			case "r2_bucket":
				if s.r2[account][str("bucket_name")] == nil {
					return fail(http.StatusBadRequest, errR2BindingNotFound(str("bucket_name")))
				}
			case "d1":
				if s.d1[account][str("id")] == nil {
					return fail(http.StatusBadRequest, errD1BindingNotFound(str("id")))
				}
			case "plain_text", "secret_text":
			default:
				return fail(http.StatusBadRequest, errUnknownBindingType)
			}
			bindings = append(bindings, m)
		}
	}
	tags, hasTags := meta["tags"]
	parsedTags, valid := parseTags(tags)
	if !valid {
		return fail(http.StatusBadRequest, errBadTags)
	}
	name := c.r.PathValue("script_name")
	now := s.now().UTC().Format("2006-01-02T15:04:05.000000Z")
	w := s.workersOf(account)[name]
	if w == nil {
		w = &workerScript{name: name, created: now}
		s.workersOf(account)[name] = w
	}
	w.metadata, w.mainModule, w.modules, w.bindings, w.modified = meta, main, modules, bindings, now
	if hasTags {
		w.tags = parsedTags
	}
	w.uploadCount++
	w.etag = fmt.Sprintf("%s%04d", s.nextID()[:28], w.uploadCount)
	return ok(w.json())
}

func (s *Server) workerFor(c *call) (string, *workerScript, *reply) {
	account, rep := s.accountFor(c)
	if rep != nil {
		return "", nil, rep
	}
	w := s.workers[account][c.r.PathValue("script_name")]
	if w == nil {
		rep := fail(http.StatusNotFound, errScriptNotFound)
		return "", nil, &rep
	}
	return account, w, nil
}

// DELETE /accounts/{account_id}/workers/scripts/{script_name}
func (s *Server) deleteWorkerScript(c *call) reply {
	account, w, rep := s.workerFor(c)
	if rep != nil {
		return *rep
	}
	delete(s.workers[account], w.name)
	return ok(nil)
}

// POST /accounts/{account_id}/workers/scripts/{script_name}/subdomain
func (s *Server) setWorkerScriptSubdomain(c *call) reply {
	_, w, rep := s.workerFor(c)
	if rep != nil {
		return *rep
	}
	var in struct {
		Enabled *bool `json:"enabled"`
	}
	if err := json.Unmarshal(c.body, &in); err != nil || in.Enabled == nil {
		return fail(http.StatusBadRequest, errBadJSON)
	}
	w.subdomain = *in.Enabled
	return ok(map[string]any{"enabled": w.subdomain, "previews_enabled": w.subdomain})
}

// GET /accounts/{account_id}/workers/scripts/{script_name}/subdomain
func (s *Server) getWorkerScriptSubdomain(c *call) reply {
	_, w, rep := s.workerFor(c)
	if rep != nil {
		return *rep
	}
	return ok(map[string]any{"enabled": w.subdomain, "previews_enabled": w.subdomain})
}

func (w *workerScript) settingsJSON() map[string]any {
	return map[string]any{"logpush": false, "observability": nil, "tags": w.tagsJSON(), "tail_consumers": nil}
}

// GET /accounts/{account_id}/workers/scripts/{script_name}/script-settings
func (s *Server) getWorkerScriptSettings(c *call) reply {
	_, w, rep := s.workerFor(c)
	if rep != nil {
		return *rep
	}
	return ok(w.settingsJSON())
}

// PATCH /accounts/{account_id}/workers/scripts/{script_name}/script-settings
func (s *Server) editWorkerScriptSettings(c *call) reply {
	_, w, rep := s.workerFor(c)
	if rep != nil {
		return *rep
	}
	var in map[string]any
	if err := json.Unmarshal(c.body, &in); err != nil {
		return fail(http.StatusBadRequest, errBadJSON)
	}
	if v, set := in["tags"]; set {
		tags, valid := parseTags(v)
		if !valid {
			return fail(http.StatusBadRequest, errBadTags)
		}
		w.tags = tags
	}
	return ok(w.settingsJSON())
}

// GET /accounts/{account_id}/workers/subdomain
func (s *Server) getWorkersSubdomain(c *call) reply {
	account, rep := s.accountFor(c)
	if rep != nil {
		return *rep
	}
	sub := s.workersSubdomain[account]
	if sub == "" {
		return fail(http.StatusNotFound, errSubdomainNotFound)
	}
	return ok(map[string]string{"subdomain": sub})
}

// SetWorkersSubdomain sets the account's workers.dev subdomain
// (<subdomain>.workers.dev).
func (s *Server) SetWorkersSubdomain(account, subdomain string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.workersSubdomain[account] = subdomain
}

// WorkerScript returns a script's main module source and its bindings as
// uploaded (secret_text bindings included, with their text).
func (s *Server) WorkerScript(account, name string) (module string, bindings []map[string]any, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.workers[account][name]
	if w == nil {
		return "", nil, false
	}
	for _, b := range w.bindings {
		cp := make(map[string]any, len(b))
		for k, v := range b {
			cp[k] = v
		}
		bindings = append(bindings, cp)
	}
	return w.modules[w.mainModule], bindings, true
}

// WorkerScripts returns the names of the account's scripts, sorted.
func (s *Server) WorkerScripts(account string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n := range s.workers[account] {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// WorkerSubdomainEnabled reports whether the script's workers.dev route is on.
func (s *Server) WorkerSubdomainEnabled(account, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.workers[account][name]
	return w != nil && w.subdomain
}

// WorkerScriptTags returns a script's tags (nil when it has none or does
// not exist).
func (s *Server) WorkerScriptTags(account, name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.workers[account][name]
	if w == nil || len(w.tags) == 0 {
		return nil
	}
	return append([]string(nil), w.tags...)
}

// AddWorkerScript creates (or overwrites) a script directly, as another tool
// or an interrupted run would have: module is its main module worker.js.
func (s *Server) AddWorkerScript(account, name, module string, tags ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UTC().Format("2006-01-02T15:04:05.000000Z")
	w := &workerScript{name: name, created: now, modified: now, mainModule: "worker.js",
		metadata: map[string]any{"main_module": "worker.js"}, modules: map[string]string{"worker.js": module},
		tags: append([]string(nil), tags...), uploadCount: 1}
	w.etag = fmt.Sprintf("%s%04d", s.nextID()[:28], w.uploadCount)
	s.workersOf(account)[name] = w
}

// RemoveWorkerScript deletes a script behind the client's back.
func (s *Server) RemoveWorkerScript(account, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.workers[account], name)
}
