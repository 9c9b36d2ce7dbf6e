package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The /_test/ endpoints are the knobs and counters a test reads and turns
// from its own process (internal/testpeers/oauthserver wraps them in
// methods). Cloudflare has nothing like them; no client of ours calls them.
func (s *Server) control(mux *http.ServeMux) {
	mux.HandleFunc("GET /_test/counters", func(w http.ResponseWriter, r *http.Request) {
		ex, rf := s.tokenRequests()
		writeJSON(w, map[string]int{"exchanges": ex, "refreshes": rf, "revocations": s.revocationCount()})
	})
	mux.HandleFunc("POST /_test/access-token-valid", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]bool{"valid": s.accessTokenValid(r.PostFormValue("token"))})
	})
	mux.HandleFunc("POST /_test/revoke-refresh-tokens", func(w http.ResponseWriter, r *http.Request) {
		s.revokeRefreshTokens()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_test/expire-access-tokens", func(w http.ResponseWriter, r *http.Request) {
		s.expireAccessTokens()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_test/deny-consent", func(w http.ResponseWriter, r *http.Request) {
		s.setDenyConsent(r.PostFormValue("deny") == "true")
		w.WriteHeader(http.StatusNoContent)
	})
	// Holding rotations: with hold=true every refresh that rotated the
	// tokens waits before its answer; GET /_test/held reports the next one
	// (long poll) and POST /_test/resume lets it answer. hold=false lets
	// every waiting one answer.
	mux.HandleFunc("POST /_test/hold-rotations", func(w http.ResponseWriter, r *http.Request) {
		hold := r.PostFormValue("hold") == "true"
		s.mu.Lock()
		s.holdRotations = hold
		s.mu.Unlock()
		if !hold {
			s.holds.releaseAll()
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_test/held", func(w http.ResponseWriter, r *http.Request) {
		select {
		case id := <-s.holds.queue:
			writeJSON(w, map[string]int{"id": id})
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("POST /_test/resume", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PostFormValue("id"))
		s.holds.resume(id)
		w.WriteHeader(http.StatusNoContent)
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// holdTimeout bounds a hold nobody resumes, so a test that forgot never
// leaves a request hanging for good.
const holdTimeout = 2 * time.Minute

// holds are the refresh answers waiting for the test.
type holds struct {
	mu      sync.Mutex
	nextID  int
	waiting map[int]chan struct{}
	queue   chan int // held, not yet reported by /_test/held
}

func newHolds() *holds {
	return &holds{waiting: map[int]chan struct{}{}, queue: make(chan int, 64)}
}

// wait holds the caller until the test resumes it, releases every hold, or
// the client has gone away.
func (h *holds) wait(ctx context.Context) {
	h.mu.Lock()
	h.nextID++
	id, ch := h.nextID, make(chan struct{})
	h.waiting[id] = ch
	h.mu.Unlock()
	select {
	case h.queue <- id:
	default: // 64 unreported holds: nobody is polling; the timeout ends it
	}
	select {
	case <-ch:
	case <-ctx.Done():
	case <-time.After(holdTimeout):
	}
	h.resume(id)
}

func (h *holds) resume(id int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ch, ok := h.waiting[id]; ok {
		close(ch)
		delete(h.waiting, id)
	}
}

func (h *holds) releaseAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, ch := range h.waiting {
		close(ch)
		delete(h.waiting, id)
	}
	for {
		select {
		case <-h.queue:
		default:
			return
		}
	}
}
