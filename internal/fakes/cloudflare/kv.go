package cloudflarefake

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
)

// Workers KV namespaces: /accounts/{account_id}/storage/kv/namespaces.
//
// Shapes (developers.cloudflare.com/api/resources/kv/subresources/namespaces,
// the Go/Node/Python reference pages for create, list, get, update and
// delete):
//   - a namespace is {"id", "title", "supports_url_encoding"}; id is a
//     32-hex identifier tag, title at most 512 characters;
//   - POST {"title"} creates; "A 400 is returned if the account already owns
//     a namespace with this title": code 10014 "a namespace with this account
//     ID and title already exists" (cloudflare/workers-sdk#13242);
//   - GET lists, page-based: page (default 1), per_page (default 20, 5..100),
//     order "id" | "title", direction "asc" | "desc", with result_info;
//   - PUT /{namespace_id} {"title"} renames;
//   - DELETE /{namespace_id} removes;
//   - an unknown namespace: HTTP 404, code 10013 "namespace not found"
//     (live captures quoted in several deploy tools: "namespace not found
//     [code: 10013]" from wrangler kv namespace delete).

type kvNamespace struct {
	id, title string
}

type kvNamespaceJSON struct {
	ID                  string `json:"id"`
	Title               string `json:"title"`
	SupportsURLEncoding bool   `json:"supports_url_encoding"`
}

func (n *kvNamespace) json() kvNamespaceJSON {
	return kvNamespaceJSON{ID: n.id, Title: n.title, SupportsURLEncoding: true}
}

var (
	errKVNamespaceNotFound = apiMessage{Code: 10013, Message: "namespace not found"}
	errKVTitleExists       = apiMessage{Code: 10014, Message: "a namespace with this account ID and title already exists"}
	// Not looked up: the codes of a missing/oversized title and of a body
	// that is not JSON. Callers should only rely on them being 400s.
	errKVTitleMissing = apiMessage{Code: 10019, Message: "title is required"}
	errKVTitleTooLong = apiMessage{Code: 10019, Message: "title must be at most 512 characters"}
	errBadJSON        = apiMessage{Code: 10026, Message: "could not parse request body"}
)

// Page sizes of the KV namespace list.
const (
	kvDefaultPerPage = 20
	kvMinPerPage     = 5
	kvMaxPerPage     = 100
	kvMaxTitle       = 512
)

// accountFor checks that the caller can see the path's account and returns
// its ID. A credential without access gets 403, code 10000 (what the account
// service endpoints answer; see doc.go).
func (s *Server) accountFor(c *call) (string, *reply) {
	id := c.r.PathValue("account_id")
	if s.accounts[id] == nil || !s.canSeeAccount(c.p, id) {
		rep := fail(http.StatusForbidden, errAuthentication)
		return "", &rep
	}
	return id, nil
}

func (s *Server) kvOf(account string) map[string]*kvNamespace {
	m := s.kv[account]
	if m == nil {
		m = map[string]*kvNamespace{}
		s.kv[account] = m
	}
	return m
}

func (s *Server) kvByTitle(account, title string) *kvNamespace {
	for _, n := range s.kv[account] {
		if n.title == title {
			return n
		}
	}
	return nil
}

func decodeTitle(body []byte) (string, *reply) {
	var in struct {
		Title *string `json:"title"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		rep := fail(http.StatusBadRequest, errBadJSON)
		return "", &rep
	}
	switch {
	case in.Title == nil || strings.TrimSpace(*in.Title) == "":
		rep := fail(http.StatusBadRequest, errKVTitleMissing)
		return "", &rep
	case len(*in.Title) > kvMaxTitle:
		rep := fail(http.StatusBadRequest, errKVTitleTooLong)
		return "", &rep
	}
	return *in.Title, nil
}

// POST /accounts/{account_id}/storage/kv/namespaces
func (s *Server) createKVNamespace(c *call) reply {
	account, rep := s.accountFor(c)
	if rep != nil {
		return *rep
	}
	title, rep := decodeTitle(c.body)
	if rep != nil {
		return *rep
	}
	if s.kvByTitle(account, title) != nil {
		return fail(http.StatusBadRequest, errKVTitleExists)
	}
	n := &kvNamespace{id: s.nextID(), title: title}
	s.kvOf(account)[n.id] = n
	return ok(n.json())
}

// GET /accounts/{account_id}/storage/kv/namespaces
func (s *Server) listKVNamespaces(c *call) reply {
	account, rep := s.accountFor(c)
	if rep != nil {
		return *rep
	}
	q := c.r.URL.Query()
	page := max(atoiDefault(q.Get("page"), 1), 1)
	perPage := min(max(atoiDefault(q.Get("per_page"), kvDefaultPerPage), kvMinPerPage), kvMaxPerPage)
	all := make([]*kvNamespace, 0, len(s.kv[account]))
	for _, n := range s.kv[account] {
		all = append(all, n)
	}
	key := func(n *kvNamespace) string { return n.id }
	if q.Get("order") == "title" {
		key = func(n *kvNamespace) string { return n.title + "\x00" + n.id }
	}
	desc := q.Get("direction") == "desc"
	sort.Slice(all, func(i, j int) bool {
		if desc {
			return key(all[i]) > key(all[j])
		}
		return key(all[i]) < key(all[j])
	})
	total := len(all)
	start := min((page-1)*perPage, total)
	end := min(start+perPage, total)
	result := make([]kvNamespaceJSON, 0, end-start)
	for _, n := range all[start:end] {
		result = append(result, n.json())
	}
	return okList(result, resultInfo{Page: page, PerPage: perPage, Count: len(result), TotalCount: total,
		TotalPages: (total + perPage - 1) / perPage})
}

func (s *Server) kvNamespaceFor(c *call) (string, *kvNamespace, *reply) {
	account, rep := s.accountFor(c)
	if rep != nil {
		return "", nil, rep
	}
	n := s.kv[account][c.r.PathValue("namespace_id")]
	if n == nil {
		rep := fail(http.StatusNotFound, errKVNamespaceNotFound)
		return "", nil, &rep
	}
	return account, n, nil
}

// GET /accounts/{account_id}/storage/kv/namespaces/{namespace_id}
func (s *Server) getKVNamespace(c *call) reply {
	_, n, rep := s.kvNamespaceFor(c)
	if rep != nil {
		return *rep
	}
	return ok(n.json())
}

// PUT /accounts/{account_id}/storage/kv/namespaces/{namespace_id}
func (s *Server) renameKVNamespace(c *call) reply {
	account, n, rep := s.kvNamespaceFor(c)
	if rep != nil {
		return *rep
	}
	title, rep := decodeTitle(c.body)
	if rep != nil {
		return *rep
	}
	if other := s.kvByTitle(account, title); other != nil && other != n {
		return fail(http.StatusBadRequest, errKVTitleExists)
	}
	n.title = title
	return ok(n.json())
}

// DELETE /accounts/{account_id}/storage/kv/namespaces/{namespace_id}
func (s *Server) deleteKVNamespace(c *call) reply {
	account, n, rep := s.kvNamespaceFor(c)
	if rep != nil {
		return *rep
	}
	delete(s.kv[account], n.id)
	return ok(struct{}{})
}

// KVNamespace is a namespace as the fake holds it.
type KVNamespace struct {
	ID, Title string
}

// KVNamespaces returns the account's namespaces, sorted by title.
func (s *Server) KVNamespaces(account string) []KVNamespace {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []KVNamespace
	for _, n := range s.kv[account] {
		out = append(out, KVNamespace{ID: n.id, Title: n.title})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Title < out[j].Title })
	return out
}

// AddKVNamespace creates a namespace directly (as another tool or an
// interrupted run would have) and returns its ID.
func (s *Server) AddKVNamespace(account, title string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := &kvNamespace{id: s.nextID(), title: title}
	s.kvOf(account)[n.id] = n
	return n.id
}

// RemoveKVNamespace deletes a namespace behind the client's back.
func (s *Server) RemoveKVNamespace(account, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.kv[account], id)
}
