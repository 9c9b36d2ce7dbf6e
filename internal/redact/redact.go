// Package redact is alchemy's one redaction registry. Every secret the
// process loads or receives (a stored token, an environment variable a
// provider reads, an OAuth or SSO token, STS keys, a prompted password, a
// stack's secret values) is registered here, and every writer the process
// shows things through (stdout, stderr, errors, --json) passes its text
// through String. A secret that reaches a message by any path (a provider
// error quoting a token, a URL with a key in it) comes out as "ab12****".
//
// The only deliberate disclosures (`alchemy profile env` and `profile exec`)
// write around it, on explicit request.
package redact

import (
	"io"
	"sort"
	"strings"
	"sync"
)

// minLen is the shortest value registered: shorter ones are not secrets
// worth the name, and replacing them would mangle ordinary words.
const minLen = 6

// prefixLen is how much of a longer secret is also replaced on its own: a
// message may quote a secret cut short ("token ghp_ab12cd34... is invalid").
const prefixLen = 8

var (
	mu       sync.RWMutex
	secrets  = map[string]bool{}
	replacer *strings.Replacer
)

// Add registers secrets; empty and short values are ignored.
func Add(values ...string) {
	changed := false
	mu.Lock()
	for _, v := range values {
		if len(v) >= minLen && !secrets[v] {
			secrets[v] = true
			changed = true
		}
	}
	if changed {
		replacer = nil
	}
	mu.Unlock()
}

// String returns s with every registered secret (and the first prefixLen
// characters of each longer one) replaced by its first four characters and
// "****".
func String(s string) string {
	mu.RLock()
	r := replacer
	n := len(secrets)
	mu.RUnlock()
	if n == 0 {
		return s
	}
	if r == nil {
		r = build()
	}
	return r.Replace(s)
}

func build() *strings.Replacer {
	mu.Lock()
	defer mu.Unlock()
	if replacer != nil {
		return replacer
	}
	seen := map[string]bool{}
	var olds []string
	for v := range secrets {
		seen[v] = true
		olds = append(olds, v)
		if len(v) >= 2*prefixLen {
			if p := v[:prefixLen]; !seen[p] {
				seen[p] = true
				olds = append(olds, p)
			}
		}
	}
	// Longest first: a secret is replaced whole before any prefix of it.
	sort.Slice(olds, func(i, j int) bool {
		if len(olds[i]) != len(olds[j]) {
			return len(olds[i]) > len(olds[j])
		}
		return olds[i] < olds[j]
	})
	args := make([]string, 0, 2*len(olds))
	for _, o := range olds {
		args = append(args, o, o[:4]+"****")
	}
	replacer = strings.NewReplacer(args...)
	return replacer
}

// Error returns err with its text redacted; errors.Is and As still see the
// original.
func Error(err error) error {
	if err == nil {
		return nil
	}
	text := String(err.Error())
	if text == err.Error() {
		return err
	}
	return &redacted{text: text, err: err}
}

type redacted struct {
	text string
	err  error
}

func (e *redacted) Error() string { return e.text }
func (e *redacted) Unwrap() error { return e.err }

// Writer redacts everything written through it.
type Writer struct{ W io.Writer }

func (w Writer) Write(p []byte) (int, error) {
	s := String(string(p))
	if len(s) == len(p) && s == string(p) {
		return w.W.Write(p)
	}
	if _, err := io.WriteString(w.W, s); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Reset forgets every secret (tests).
func Reset() {
	mu.Lock()
	secrets = map[string]bool{}
	replacer = nil
	mu.Unlock()
}
