// Package awsiam is a stateful, in-memory fake of the IAM role-policy,
// role-update and role-tagging calls that the emulate test peer (npm
// emulate 0.12.2, internal/testpeers.Emulate) lacks, for tests only. It sits
// in front of emulate's IAM endpoint: the actions listed below are answered
// here, every other action is proxied unchanged (httputil.ReverseProxy).
//
// emulate's IAM implements only CreateUser, GetUser, DeleteUser, ListUsers,
// CreateAccessKey, ListAccessKeys, DeleteAccessKey, CreateRole, GetRole,
// DeleteRole and ListRoles; anything else answers 400 InvalidAction. Its
// CreateRole stores RoleName, Path, AssumeRolePolicyDocument and Description
// and silently drops Tags and MaxSessionDuration.
//
// Answered here (query protocol, Version 2010-05-08, shapes as in the IAM
// API reference and the awsquery deserializers of aws-sdk-go-v2
// service/iam):
//
//   - PutRolePolicy, GetRolePolicy, DeleteRolePolicy, ListRolePolicies
//   - AttachRolePolicy, DetachRolePolicy, ListAttachedRolePolicies
//   - UpdateAssumeRolePolicy, UpdateRole
//   - TagRole, UntagRole, ListRoleTags
//
// Each of them first asks emulate (GetRole) whether the role exists, and
// answers 404 NoSuchEntity if not. The fake's own state is keyed by the
// role's RoleId, so a role deleted and re-created under the same name (even
// straight on emulate) starts clean.
//
// Three emulate actions are wrapped rather than passed through, because
// their answers must reflect the state kept here:
//
//   - CreateRole: the policy document is checked (400
//     MalformedPolicyDocument), MaxSessionDuration too (400 ValidationError);
//     the call is then proxied, and on success the Tags and
//     MaxSessionDuration emulate drops are recorded.
//   - GetRole: proxied, then re-rendered with the trust policy, description,
//     MaxSessionDuration (default 3600) and tags kept here.
//   - DeleteRole: like AWS, refused with 409 DeleteConflict while the role
//     has inline or attached policies; then proxied.
//
// Errors use the IAM shape <ErrorResponse><Error><Type>Sender</Type>
// <Code>..</Code><Message>..</Message></Error><RequestId>..</RequestId>:
// NoSuchEntity 404, MalformedPolicyDocument 400, DeleteConflict 409,
// InvalidInput 400, ValidationError 400, LimitExceeded 409. Managed policy
// ARNs are not looked up (any well-formed arn:aws:iam::<account|aws>:policy/…
// can be attached). Listings are never truncated (Marker/MaxItems are
// ignored). No authentication is checked.
package awsiam

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Actions answered by the fake itself (the rest go to emulate).
var ownActions = []string{
	"PutRolePolicy", "GetRolePolicy", "DeleteRolePolicy", "ListRolePolicies",
	"AttachRolePolicy", "DetachRolePolicy", "ListAttachedRolePolicies",
	"UpdateAssumeRolePolicy", "UpdateRole",
	"TagRole", "UntagRole", "ListRoleTags",
}

// OwnActions are the actions the fake implements itself.
func OwnActions() []string { return slices.Clone(ownActions) }

// WriteActions are the IAM role actions that change state (own and
// proxied), for tests asserting that nothing was written.
var WriteActions = []string{
	"CreateRole", "DeleteRole",
	"PutRolePolicy", "DeleteRolePolicy", "AttachRolePolicy", "DetachRolePolicy",
	"UpdateAssumeRolePolicy", "UpdateRole", "TagRole", "UntagRole",
}

const (
	defaultMaxSession = 3600
	maxTags           = 50
	ns                = "https://iam.amazonaws.com/doc/2010-05-08/"
)

// Server is a running fake.
type Server struct {
	// URL is the base URL for AWS_ENDPOINT_URL_IAM (http://127.0.0.1:PORT).
	URL string

	emulate string
	client  *http.Client
	proxy   *httputil.ReverseProxy

	mu    sync.Mutex
	roles map[string]*role // by RoleId
	calls map[string]int
}

type attached struct{ name, arn string }

type role struct {
	trust       *string // nil: emulate's
	description *string // nil: emulate's
	maxSession  int
	tags        map[string]string
	inline      map[string]string
	attached    []attached
}

// Start serves a fake in front of emulate's IAM endpoint (emulateIAMURL, as
// from testpeers.Peer.IAMEndpoint) on a 127.0.0.1 port until the test ends.
func Start(t testing.TB, emulateIAMURL string) *Server {
	t.Helper()
	s, err := New(emulateIAMURL)
	if err != nil {
		t.Fatalf("awsiam: %v", err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	s.URL = ts.URL
	return s
}

// New returns the handler without serving it.
func New(emulateIAMURL string) (*Server, error) {
	target, err := url.Parse(emulateIAMURL)
	if err != nil {
		return nil, err
	}
	s := &Server{emulate: emulateIAMURL, client: &http.Client{}, roles: map[string]*role{}, calls: map[string]int{}}
	s.proxy = &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = target.Host
	}}
	return s, nil
}

// Calls is how many requests of action the fake has received.
func (s *Server) Calls(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[action]
}

// AllCalls is a copy of the per-action request counts.
func (s *Server) AllCalls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

// Writes is how many write requests (WriteActions) the fake has received.
func (s *Server) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, a := range WriteActions {
		n += s.calls[a]
	}
	return n
}

// ResetCalls zeroes the counts.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.calls)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeError(w, http.StatusBadRequest, "MalformedQueryString", err.Error())
		return
	}
	if r.URL.RawQuery != "" {
		// Query-string parameters count too, as on AWS.
		if q, err := url.ParseQuery(r.URL.RawQuery); err == nil {
			for k, v := range q {
				if !form.Has(k) {
					form[k] = v
				}
			}
		}
	}
	action := form.Get("Action")
	s.mu.Lock()
	s.calls[action]++
	s.mu.Unlock()

	switch action {
	case "CreateRole":
		s.createRole(w, form)
		return
	case "GetRole":
		s.getRole(w, form)
		return
	case "DeleteRole":
		s.deleteRole(w, form)
		return
	}
	if !slices.Contains(ownActions, action) {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		s.proxy.ServeHTTP(w, r)
		return
	}
	name := form.Get("RoleName")
	if name == "" {
		writeError(w, http.StatusBadRequest, "ValidationError",
			"1 validation error detected: Value null at 'roleName' failed to satisfy constraint: Member must not be null")
		return
	}
	er, status, err := s.emulateGetRole(name)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "ServiceFailure", err.Error())
		return
	}
	if er == nil {
		if status == http.StatusNotFound {
			writeError(w, http.StatusNotFound, "NoSuchEntity", "The role with name "+name+" cannot be found.")
		} else {
			writeError(w, http.StatusInternalServerError, "ServiceFailure", fmt.Sprintf("emulate GetRole: HTTP %d", status))
		}
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state(er.RoleID)
	switch action {
	case "PutRolePolicy":
		pn, doc := form.Get("PolicyName"), form.Get("PolicyDocument")
		if pn == "" || doc == "" {
			writeError(w, http.StatusBadRequest, "ValidationError", "1 validation error detected: PolicyName and PolicyDocument must not be null")
			return
		}
		if msg := checkPolicy(doc); msg != "" {
			writeError(w, http.StatusBadRequest, "MalformedPolicyDocument", msg)
			return
		}
		st.inline[pn] = doc
		writeOK(w, action, false, "")
	case "GetRolePolicy":
		pn := form.Get("PolicyName")
		doc, ok := st.inline[pn]
		if !ok {
			writeError(w, http.StatusNotFound, "NoSuchEntity", "The role policy with name "+pn+" cannot be found.")
			return
		}
		writeOK(w, action, true, el("RoleName", name)+el("PolicyName", pn)+el("PolicyDocument", uriEncode(doc)))
	case "DeleteRolePolicy":
		pn := form.Get("PolicyName")
		if _, ok := st.inline[pn]; !ok {
			writeError(w, http.StatusNotFound, "NoSuchEntity", "The role policy with name "+pn+" cannot be found.")
			return
		}
		delete(st.inline, pn)
		writeOK(w, action, false, "")
	case "ListRolePolicies":
		var b strings.Builder
		for _, pn := range slices.Sorted(maps.Keys(st.inline)) {
			b.WriteString(el("member", pn))
		}
		writeOK(w, action, true, "<PolicyNames>"+b.String()+"</PolicyNames>"+el("IsTruncated", "false"))
	case "AttachRolePolicy":
		arn := form.Get("PolicyArn")
		if !policyARN.MatchString(arn) {
			writeError(w, http.StatusBadRequest, "InvalidInput", "ARN "+arn+" is not valid.")
			return
		}
		if !slices.ContainsFunc(st.attached, func(a attached) bool { return a.arn == arn }) {
			st.attached = append(st.attached, attached{name: arn[strings.LastIndex(arn, "/")+1:], arn: arn})
		}
		writeOK(w, action, false, "")
	case "DetachRolePolicy":
		arn := form.Get("PolicyArn")
		i := slices.IndexFunc(st.attached, func(a attached) bool { return a.arn == arn })
		if i < 0 {
			writeError(w, http.StatusNotFound, "NoSuchEntity", "Policy "+arn+" was not found.")
			return
		}
		st.attached = slices.Delete(st.attached, i, i+1)
		writeOK(w, action, false, "")
	case "ListAttachedRolePolicies":
		var b strings.Builder
		for _, a := range st.attached {
			b.WriteString("<member>" + el("PolicyName", a.name) + el("PolicyArn", a.arn) + "</member>")
		}
		writeOK(w, action, true, "<AttachedPolicies>"+b.String()+"</AttachedPolicies>"+el("IsTruncated", "false"))
	case "UpdateAssumeRolePolicy":
		doc := form.Get("PolicyDocument")
		if msg := checkPolicy(doc); msg != "" {
			writeError(w, http.StatusBadRequest, "MalformedPolicyDocument", msg)
			return
		}
		st.trust = &doc
		writeOK(w, action, false, "")
	case "UpdateRole":
		msd := 0
		if form.Has("MaxSessionDuration") {
			var msg string
			if msd, msg = maxSession(form.Get("MaxSessionDuration")); msg != "" {
				writeError(w, http.StatusBadRequest, "ValidationError", msg)
				return
			}
		}
		if form.Has("Description") {
			d := form.Get("Description")
			st.description = &d
		}
		if msd != 0 {
			st.maxSession = msd
		}
		writeOK(w, action, true, "")
	case "TagRole":
		tags, msg := formTags(form)
		if msg != "" {
			writeError(w, http.StatusBadRequest, "InvalidInput", msg)
			return
		}
		merged := maps.Clone(st.tags)
		maps.Copy(merged, tags)
		if len(merged) > maxTags {
			writeError(w, http.StatusConflict, "LimitExceeded", fmt.Sprintf("The number of tags has reached the maximum limit (%d).", maxTags))
			return
		}
		st.tags = merged
		writeOK(w, action, false, "")
	case "UntagRole":
		for _, k := range members(form, "TagKeys.member.") {
			delete(st.tags, k)
		}
		writeOK(w, action, false, "")
	case "ListRoleTags":
		writeOK(w, action, true, renderTags(st.tags)+el("IsTruncated", "false"))
	}
}

// state is the fake's state of the role with id (s.mu held).
func (s *Server) state(id string) *role {
	st := s.roles[id]
	if st == nil {
		st = &role{maxSession: defaultMaxSession, tags: map[string]string{}, inline: map[string]string{}}
		s.roles[id] = st
	}
	return st
}

func (s *Server) createRole(w http.ResponseWriter, form url.Values) {
	if msg := checkPolicy(form.Get("AssumeRolePolicyDocument")); msg != "" {
		writeError(w, http.StatusBadRequest, "MalformedPolicyDocument", msg)
		return
	}
	msd := defaultMaxSession
	if form.Has("MaxSessionDuration") {
		var msg string
		if msd, msg = maxSession(form.Get("MaxSessionDuration")); msg != "" {
			writeError(w, http.StatusBadRequest, "ValidationError", msg)
			return
		}
	}
	tags, msg := formTags(form)
	if msg != "" {
		writeError(w, http.StatusBadRequest, "InvalidInput", msg)
		return
	}
	if len(tags) > maxTags {
		writeError(w, http.StatusBadRequest, "LimitExceeded", fmt.Sprintf("The number of tags has reached the maximum limit (%d).", maxTags))
		return
	}
	status, body, err := s.post(form)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "ServiceFailure", err.Error())
		return
	}
	if status == http.StatusOK {
		var out struct {
			Role emulateRole `xml:"CreateRoleResult>Role"`
		}
		if err := xml.Unmarshal(body, &out); err != nil || out.Role.RoleID == "" {
			writeError(w, http.StatusInternalServerError, "ServiceFailure", fmt.Sprintf("emulate CreateRole answer: %v %s", err, body))
			return
		}
		s.mu.Lock()
		st := s.state(out.Role.RoleID)
		st.maxSession, st.tags = msd, tags
		s.mu.Unlock()
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	w.Write(body)
}

func (s *Server) getRole(w http.ResponseWriter, form url.Values) {
	name := form.Get("RoleName")
	er, status, err := s.emulateGetRole(name)
	switch {
	case err != nil:
		writeError(w, http.StatusInternalServerError, "ServiceFailure", err.Error())
		return
	case er == nil && status == http.StatusNotFound:
		writeError(w, http.StatusNotFound, "NoSuchEntity", "The role with name "+name+" cannot be found.")
		return
	case er == nil:
		writeError(w, http.StatusInternalServerError, "ServiceFailure", fmt.Sprintf("emulate GetRole: HTTP %d", status))
		return
	}
	s.mu.Lock()
	st := s.state(er.RoleID)
	trust, desc := er.AssumeRolePolicyDocument, er.Description
	if st.trust != nil {
		trust = uriEncode(*st.trust)
	}
	if st.description != nil {
		desc = *st.description
	}
	inner := el("Path", er.Path) + el("RoleName", er.RoleName) + el("RoleId", er.RoleID) + el("Arn", er.Arn) +
		el("CreateDate", er.CreateDate) + el("AssumeRolePolicyDocument", trust) + el("MaxSessionDuration", strconv.Itoa(st.maxSession))
	if desc != "" {
		inner += el("Description", desc)
	}
	if len(st.tags) > 0 {
		inner += renderTags(st.tags)
	}
	s.mu.Unlock()
	writeOK(w, "GetRole", true, "<Role>"+inner+"</Role>")
}

func (s *Server) deleteRole(w http.ResponseWriter, form url.Values) {
	name := form.Get("RoleName")
	er, status, err := s.emulateGetRole(name)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "ServiceFailure", err.Error())
		return
	}
	if er != nil {
		s.mu.Lock()
		st := s.roles[er.RoleID]
		var conflict string
		switch {
		case st != nil && len(st.attached) > 0:
			conflict = "Cannot delete entity, must detach all policies first."
		case st != nil && len(st.inline) > 0:
			conflict = "Cannot delete entity, must delete policies first."
		}
		s.mu.Unlock()
		if conflict != "" {
			writeError(w, http.StatusConflict, "DeleteConflict", conflict)
			return
		}
	} else if status == http.StatusNotFound {
		writeError(w, http.StatusNotFound, "NoSuchEntity", "The role with name "+name+" cannot be found.")
		return
	}
	status, body, err := s.post(form)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "ServiceFailure", err.Error())
		return
	}
	if status == http.StatusOK && er != nil {
		s.mu.Lock()
		delete(s.roles, er.RoleID)
		s.mu.Unlock()
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	w.Write(body)
}

// emulateRole is a role as emulate renders it (Create/GetRole).
type emulateRole struct {
	Path                     string `xml:"Path"`
	RoleName                 string `xml:"RoleName"`
	RoleID                   string `xml:"RoleId"`
	Arn                      string `xml:"Arn"`
	CreateDate               string `xml:"CreateDate"`
	AssumeRolePolicyDocument string `xml:"AssumeRolePolicyDocument"` // URL-encoded
	Description              string `xml:"Description"`
}

// emulateGetRole asks emulate for the role: nil and the HTTP status when it
// is not there (404) or emulate failed.
func (s *Server) emulateGetRole(name string) (*emulateRole, int, error) {
	status, body, err := s.post(url.Values{"Action": {"GetRole"}, "Version": {"2010-05-08"}, "RoleName": {name}})
	if err != nil || status != http.StatusOK {
		return nil, status, err
	}
	var out struct {
		Role emulateRole `xml:"GetRoleResult>Role"`
	}
	if err := xml.Unmarshal(body, &out); err != nil {
		return nil, status, fmt.Errorf("emulate GetRole answer: %w", err)
	}
	return &out.Role, status, nil
}

// post sends form to emulate's IAM endpoint (it checks no signature).
func (s *Server) post(form url.Values) (int, []byte, error) {
	resp, err := s.client.PostForm(s.emulate, form)
	if err != nil {
		return 0, nil, fmt.Errorf("emulate: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

var policyARN = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(aws|\d{12}):policy/.+$`)

// checkPolicy is the message of a MalformedPolicyDocument answer, "" for a
// document that is a JSON object with a Statement.
func checkPolicy(doc string) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		return "Syntax errors in policy."
	}
	if _, ok := m["Statement"]; !ok {
		return "Missing required field Statement"
	}
	return ""
}

func maxSession(v string) (int, string) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 3600 || n > 43200 {
		return 0, "1 validation error detected: Value '" + v + "' at 'maxSessionDuration' failed to satisfy constraint: Member must have value less than or equal to 43200 and greater than or equal to 3600"
	}
	return n, ""
}

// members are the values of prefix1, prefix2, ... (a query-protocol list).
func members(form url.Values, prefix string) []string {
	var out []string
	for i := 1; form.Has(prefix + strconv.Itoa(i)); i++ {
		out = append(out, form.Get(prefix+strconv.Itoa(i)))
	}
	return out
}

// formTags reads Tags.member.N.Key/Value.
func formTags(form url.Values) (map[string]string, string) {
	tags := map[string]string{}
	for i := 1; form.Has("Tags.member." + strconv.Itoa(i) + ".Key"); i++ {
		p := "Tags.member." + strconv.Itoa(i) + "."
		k := form.Get(p + "Key")
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, "User-specified tag keys cannot start with the reserved prefix 'aws:'."
		}
		tags[k] = form.Get(p + "Value")
	}
	return tags, ""
}

func renderTags(tags map[string]string) string {
	var b strings.Builder
	b.WriteString("<Tags>")
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		b.WriteString("<member>" + el("Key", k) + el("Value", tags[k]) + "</member>")
	}
	b.WriteString("</Tags>")
	return b.String()
}

// uriEncode is encodeURIComponent-like percent-encoding (spaces as %20),
// as AWS renders policy documents; url.QueryUnescape and url.PathUnescape
// both undo it.
func uriEncode(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

func el(name, text string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(text))
	return "<" + name + ">" + b.String() + "</" + name + ">"
}

func requestID() string {
	b := make([]byte, 16)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// writeOK writes <ActionResponse>[<ActionResult>inner</ActionResult>]
// <ResponseMetadata>.
func writeOK(w http.ResponseWriter, action string, result bool, inner string) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString("<" + action + `Response xmlns="` + ns + `">`)
	if result {
		b.WriteString("<" + action + "Result>" + inner + "</" + action + "Result>")
	}
	b.WriteString("<ResponseMetadata>" + el("RequestId", requestID()) + "</ResponseMetadata>")
	b.WriteString("</" + action + "Response>")
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, b.String())
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	body := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<ErrorResponse xmlns="` + ns + `"><Error>` +
		el("Type", typ) + el("Code", code) + el("Message", msg) + "</Error>" + el("RequestId", requestID()) + "</ErrorResponse>"
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	io.WriteString(w, body)
}
