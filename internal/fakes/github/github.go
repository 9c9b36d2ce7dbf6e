// Package githubfake is an in-memory fake of the slice of the GitHub REST API
// that alchemy uses, served on 127.0.0.1 so tests run offline.
//
// Real behaviours reproduced, and where they were looked up:
//
//   - GET /user ("Get the authenticated user", docs.github.com/rest/users/users,
//     API version 2022-11-28) with a known token: 200 and a user object
//     {"login","id","node_id","type":"User",...}.
//   - Unknown or revoked token: 401
//     {"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}
//     (that exact body is quoted by many clients' tests and logs, and one
//     recorded probe notes an expired token gets the same body).
//   - No Authorization header: 401 with message "Requires authentication"
//     and the same shape (observed with curl on a REST endpoint).
//   - Unknown route: 404
//     {"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}.
//   - Both "Authorization: Bearer <t>" and the older "Authorization: token <t>"
//     are accepted, as GitHub does.
//
// SetDown(status) makes every request answer that 5xx, for "unreachable"
// tests. Requests records method, path, query and the credential style
// ("token" or "none"), never the token.
package githubfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// Request is one request the fake received. It never holds the token.
type Request struct {
	Method   string
	Path     string
	Query    string
	AuthKind string // "token" or "none"
	// Login is the user a recognised token belongs to; empty otherwise.
	Login string
}

type ghUser struct {
	login string
	id    int64
}

// Server is the fake. Create it with New.
type Server struct {
	mu       sync.Mutex
	srv      *httptest.Server
	started  bool
	closed   bool
	tokens   map[string]*ghUser
	users    map[string]*ghUser // by login
	nextID   int64
	down     int
	requests []Request
}

// New returns a stopped, empty fake.
func New() *Server {
	return &Server{tokens: map[string]*ghUser{}, users: map[string]*ghUser{}, nextID: 1000}
}

// Start serves on 127.0.0.1 on a free port. Idempotent; a no-op after Close.
func (s *Server) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return
	}
	s.started = true
	mux := http.NewServeMux()
	mux.HandleFunc("GET /user", s.getUser)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeMessage(w, http.StatusNotFound, "Not Found")
	})
	s.srv = httptest.NewServer(s.front(mux))
}

// Close stops the server; URL keeps returning the old (now refused) address.
func (s *Server) Close() {
	s.mu.Lock()
	srv, already := s.srv, s.closed
	s.closed, s.started = true, true
	s.mu.Unlock()
	if srv != nil && !already {
		srv.Close()
	}
}

// URL returns the API base URL (use it as ghapi's baseURL). It starts the
// server if needed.
func (s *Server) URL() string {
	s.Start()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return ""
	}
	return s.srv.URL
}

// AddToken registers token as belonging to login. The same login always
// gets the same numeric ID.
func (s *Server) AddToken(token, login string) {
	if token == "" || login == "" {
		panic("githubfake: AddToken: empty token or login")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[login]
	if u == nil {
		s.nextID++
		u = &ghUser{login: login, id: s.nextID}
		s.users[login] = u
	}
	s.tokens[token] = u
}

// RevokeToken forgets a token; it then gets 401 Bad credentials.
func (s *Server) RevokeToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, token)
}

// SetDown makes every request answer status (a 5xx) until SetDown(0).
func (s *Server) SetDown(status int) {
	if status != 0 && (status < 500 || status > 599) {
		panic(fmt.Sprintf("githubfake: SetDown(%d): want 0 or a 5xx status", status))
	}
	s.mu.Lock()
	s.down = status
	s.mu.Unlock()
}

// Requests returns a copy of the requests received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func tokenFrom(h string) (string, bool) {
	scheme, v, ok := strings.Cut(h, " ")
	if !ok || v == "" {
		return "", false
	}
	if strings.EqualFold(scheme, "bearer") || strings.EqualFold(scheme, "token") {
		return strings.TrimSpace(v), true
	}
	return "", false
}

func (s *Server) front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		rec := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, AuthKind: "none"}
		if h := r.Header.Get("Authorization"); h != "" {
			rec.AuthKind = "token"
			if t, ok := tokenFrom(h); ok && s.tokens[t] != nil {
				rec.Login = s.tokens[t].login
			}
		}
		s.requests = append(s.requests, rec)
		down := s.down
		s.mu.Unlock()
		if down != 0 {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(down)
			fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>\n", down, http.StatusText(down))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	h := r.Header.Get("Authorization")
	if h == "" {
		writeMessage(w, http.StatusUnauthorized, "Requires authentication")
		return
	}
	t, ok := tokenFrom(h)
	s.mu.Lock()
	u := s.tokens[t]
	s.mu.Unlock()
	if !ok || u == nil {
		writeMessage(w, http.StatusUnauthorized, "Bad credentials")
		return
	}
	base := "http://" + r.Host
	writeJSON(w, http.StatusOK, map[string]any{
		"login":      u.login,
		"id":         u.id,
		"node_id":    fmt.Sprintf("U_fake%d", u.id),
		"avatar_url": "",
		"url":        base + "/users/" + u.login,
		"html_url":   "https://github.com/" + u.login,
		"type":       "User",
		"site_admin": false,
		"name":       nil,
		"email":      nil,
	})
}

// writeMessage writes GitHub's error shape; "status" is a string.
func writeMessage(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]string{
		"message":           message,
		"documentation_url": "https://docs.github.com/rest",
		"status":            fmt.Sprint(status),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-GitHub-Media-Type", "github.v3; format=json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
