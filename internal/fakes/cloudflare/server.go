package cloudflarefake

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// APIPrefix is the path prefix of the v4 API; URL() ends with it.
const APIPrefix = "/client/v4"

// Request is one request the fake received. It never holds a secret.
type Request struct {
	Method string
	// Path is relative to URL() (for example "/user/tokens/verify"); a
	// request outside APIPrefix keeps its full path.
	Path  string
	Query string
	// AuthKind is the credential style presented: "token" (an Authorization
	// header), "key" (X-Auth-Email / X-Auth-Key) or "none".
	AuthKind string
	// Credential names the registered credential that was recognised: the
	// token ID, or the global key's e-mail. Empty when not recognised.
	Credential string
}

// Server is the fake. The zero value is not usable; call New.
type Server struct {
	mu sync.Mutex

	srv     *httptest.Server
	started bool
	closed  bool

	accounts     map[string]*account
	accountOrder []string
	users        map[string]*user // by e-mail
	tokens       map[string]*token
	keys         map[string]*globalKey // by e-mail
	seq          int

	kv map[string]map[string]*kvNamespace // account → namespace ID → namespace
	r2 map[string]map[string]*r2Bucket    // account → bucket name → bucket
	d1 map[string]map[string]*d1Database  // account → database UUID → database

	workers          map[string]map[string]*workerScript // account → script name → script
	workersSubdomain map[string]string                   // account → workers.dev subdomain

	zones map[string]*zone                 // zone ID → zone
	dns   map[string]map[string]*dnsRecord // zone ID → record ID → record

	down     int
	failNext []int // statuses for the next requests, consumed in order
	failOn   []*failRule
	requests []Request

	oauthValid func(string) bool
	oauthOpts  TokenOptions

	now func() time.Time
}

// New returns a stopped, empty fake. Call Start (or URL) to serve.
func New() *Server {
	return &Server{
		accounts: map[string]*account{},
		users:    map[string]*user{},
		tokens:   map[string]*token{},
		keys:     map[string]*globalKey{},
		kv:       map[string]map[string]*kvNamespace{},
		r2:       map[string]map[string]*r2Bucket{},
		d1:       map[string]map[string]*d1Database{},
		zones:    map[string]*zone{},
		dns:      map[string]map[string]*dnsRecord{},
		now:      time.Now,

		workers:          map[string]map[string]*workerScript{},
		workersSubdomain: map[string]string{},
	}
}

// Start serves the fake on 127.0.0.1 on a free port. It is idempotent, and a
// no-op after Close.
func (s *Server) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return
	}
	s.started = true
	mux := http.NewServeMux()
	s.registerRoutes(mux)
	s.srv = httptest.NewServer(s.front(mux))
}

// Close stops the server. Afterwards URL still returns the old address, and
// connections to it are refused, which is handy to test "unreachable".
func (s *Server) Close() {
	s.mu.Lock()
	srv := s.srv
	already := s.closed
	s.closed = true
	s.started = true // a closed fake does not restart
	s.mu.Unlock()
	if srv != nil && !already {
		srv.Close()
	}
}

// URL returns the API base URL including APIPrefix, for example
// "http://127.0.0.1:41234/client/v4". It starts the server if needed.
func (s *Server) URL() string {
	s.Start()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return ""
	}
	return s.srv.URL + APIPrefix
}

// SetDown makes every request answer status (a 5xx) with an HTML error page,
// until SetDown(0). Requests are still recorded.
func (s *Server) SetDown(status int) {
	if status != 0 && (status < 500 || status > 599) {
		panic(fmt.Sprintf("cloudflarefake: SetDown(%d): want 0 or a 5xx status", status))
	}
	s.mu.Lock()
	s.down = status
	s.mu.Unlock()
}

// FailNext makes the next n requests answer status (a 5xx edge error page,
// as SetDown, or 429 with a JSON envelope), then serves normally again. The
// requests are still recorded.
func (s *Server) FailNext(n, status int) {
	if status != http.StatusTooManyRequests && (status < 500 || status > 599) {
		panic(fmt.Sprintf("cloudflarefake: FailNext(%d, %d): want a 5xx or 429 status", n, status))
	}
	s.mu.Lock()
	for i := 0; i < n; i++ {
		s.failNext = append(s.failNext, status)
	}
	s.mu.Unlock()
}

// failRule fails the next n requests of a method whose path (relative to
// URL()) contains path: with status before serving them, or, when lose is
// set, after serving them (the answer is lost: the change is made).
type failRule struct {
	method, path string
	n, status    int
	lose         bool
}

// FailNextOn makes the next n requests of method whose path contains path
// answer status (a 5xx edge error page, or 429), without serving them.
func (s *Server) FailNextOn(method, path string, n, status int) {
	if status != http.StatusTooManyRequests && (status < 500 || status > 599) {
		panic(fmt.Sprintf("cloudflarefake: FailNextOn(%d): want a 5xx or 429 status", status))
	}
	s.mu.Lock()
	s.failOn = append(s.failOn, &failRule{method: method, path: path, n: n, status: status})
	s.mu.Unlock()
}

// LoseNextAnswers serves the next n requests of method whose path contains
// path, then answers 502 instead of their answer, as when a connection
// drops after the API acted: the client cannot tell whether it happened.
func (s *Server) LoseNextAnswers(method, path string, n int) {
	s.mu.Lock()
	s.failOn = append(s.failOn, &failRule{method: method, path: path, n: n, status: http.StatusBadGateway, lose: true})
	s.mu.Unlock()
}

// ruleFor consumes one use of the first rule matching the request.
func (s *Server) ruleFor(method, path string) *failRule {
	for i, f := range s.failOn {
		if f.method == method && strings.Contains(path, f.path) {
			f.n--
			if f.n <= 0 {
				s.failOn = append(s.failOn[:i:i], s.failOn[i+1:]...)
			}
			return f
		}
	}
	return nil
}

// Requests returns a copy of the requests received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	s.requests = nil
	s.mu.Unlock()
}

// front records every request and applies SetDown before routing.
func (s *Server) front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		rec := Request{
			Method:     r.Method,
			Path:       apiPath(r.URL.Path),
			Query:      r.URL.RawQuery,
			AuthKind:   presentedKind(r),
			Credential: s.credentialLabel(r),
		}
		s.requests = append(s.requests, rec)
		down := s.down
		if down == 0 && len(s.failNext) > 0 {
			down, s.failNext = s.failNext[0], s.failNext[1:]
		}
		var rule *failRule
		if down == 0 {
			rule = s.ruleFor(rec.Method, rec.Path)
		}
		s.mu.Unlock()

		if rule != nil && rule.lose {
			next.ServeHTTP(httptest.NewRecorder(), r)
			writeEdgeError(w, rule.status)
			return
		}
		if rule != nil {
			down = rule.status
		}

		if down == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
			fail(down, errRateLimited).write(w)
			return
		}
		if down != 0 {
			writeEdgeError(w, down)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeEdgeError answers like Cloudflare's edge when the origin API is
// unavailable: an HTML page, not a JSON envelope.
func writeEdgeError(w http.ResponseWriter, status int) {
	text := fmt.Sprintf("%d %s", status, http.StatusText(status))
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n", text, text)
}

// apiPath strips APIPrefix from p when p is under it.
func apiPath(p string) string {
	if p == APIPrefix {
		return "/"
	}
	if strings.HasPrefix(p, APIPrefix+"/") {
		return strings.TrimPrefix(p, APIPrefix)
	}
	return p
}
