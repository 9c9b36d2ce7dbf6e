package cloudflarefake

import (
	"net/http"
	"strings"
)

// authStyle is how an endpoint family answers a bad credential.
type authStyle int

const (
	// authVerify: the token verify endpoints. Bearer only; the handler
	// decides about unknown tokens (401, code 1000).
	authVerify authStyle = iota
	// authGateway: general endpoints (/user, /accounts, /zones). Unknown or
	// inactive token: 403, code 9109 "Invalid access token".
	authGateway
	// authService: account product endpoints (/accounts/{id}/<product>/...).
	// Unknown or inactive token: 401, code 10000 "Authentication error".
	authService
)

// principal is the caller as the fake recognised it. For authVerify, token
// may be nil (unknown token) and the handler answers.
type principal struct {
	token *token
	key   *globalKey
}

// presentedKind classifies the headers only: "token", "key" or "none".
func presentedKind(r *http.Request) string {
	switch {
	case r.Header.Get("Authorization") != "":
		return "token"
	case r.Header.Get("X-Auth-Key") != "" || r.Header.Get("X-Auth-Email") != "":
		return "key"
	default:
		return "none"
	}
}

// bearerValue extracts the token from "Authorization: Bearer <token>".
// ok is false when the header is malformed.
func bearerValue(h string) (tok string, ok bool) {
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	tok = h[len(prefix):]
	if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		return "", false
	}
	return tok, true
}

// credentialLabel names a recognised credential for the request log. Caller
// holds s.mu.
func (s *Server) credentialLabel(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if v, ok := bearerValue(h); ok {
			if t := s.tokens[v]; t != nil {
				return t.opts.ID
			}
		}
		return ""
	}
	email := r.Header.Get("X-Auth-Email")
	if k := s.keys[email]; k != nil && k.key == r.Header.Get("X-Auth-Key") {
		return k.email
	}
	return ""
}

// authenticate resolves the caller for an endpoint of the given style, or
// returns the real API's answer for a refused credential. Caller holds s.mu.
func (s *Server) authenticate(r *http.Request, style authStyle) (*principal, *reply) {
	if h := r.Header.Get("Authorization"); h != "" {
		v, ok := bearerValue(h)
		if !ok {
			e := errInvalidHeaders
			e.ErrorChain = []apiMessage{errBadAuthorizationFmt}
			rep := fail(http.StatusBadRequest, e)
			return nil, &rep
		}
		t := s.tokens[v]
		if t == nil && s.oauthValid != nil && s.oauthValid(v) {
			t = &token{opts: s.oauthOpts}
		}
		active := t != nil && t.status(s.now()) == "active"
		switch style {
		case authVerify:
			return &principal{token: t}, nil
		case authService:
			if !active {
				rep := fail(http.StatusUnauthorized, errAuthentication)
				return nil, &rep
			}
		default:
			if !active {
				rep := fail(http.StatusForbidden, errInvalidAccessToken)
				return nil, &rep
			}
		}
		return &principal{token: t}, nil
	}

	email, key := r.Header.Get("X-Auth-Email"), r.Header.Get("X-Auth-Key")
	if style == authVerify {
		// The verify endpoints only look at Authorization.
		rep := fail(http.StatusBadRequest, errMissingAuthorization)
		return nil, &rep
	}
	switch {
	case email == "" && key == "":
		rep := fail(http.StatusForbidden, errMissingEmail, errMissingKey)
		return nil, &rep
	case email == "":
		rep := fail(http.StatusForbidden, errMissingEmail)
		return nil, &rep
	case key == "":
		rep := fail(http.StatusForbidden, errMissingKey)
		return nil, &rep
	}
	k := s.keys[email]
	if k == nil || k.key != key {
		rep := fail(http.StatusForbidden, errUnknownKey)
		return nil, &rep
	}
	return &principal{key: k}, nil
}
