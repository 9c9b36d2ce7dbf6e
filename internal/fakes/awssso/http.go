package awssso

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
)

// Coral error-type suffixes seen in real X-Amzn-ErrorType headers
// (aws/aws-cli#5955, #8561: "AuthorizationPendingException:http://internal.amazon.com/coral/com.amazonaws.sso.oidc/").
const (
	oidcErrorTypeSuffix  = ":http://internal.amazon.com/coral/com.amazonaws.sso.oidc/"
	portalErrorNamespace = "com.amazonaws.switchboard.portal#"
)

// oidcErrors maps each SSO OIDC error shape to its HTTP status (the
// @httpError traits in service/ssooidc/schemas) and its OAuth "error" value.
var oidcErrors = map[string]struct {
	status int
	oauth  string
}{
	"AccessDeniedException":          {400, "access_denied"},
	"AuthorizationPendingException":  {400, "authorization_pending"},
	"ExpiredTokenException":          {400, "expired_token"},
	"InternalServerException":        {500, "server_error"},
	"InvalidClientException":         {401, "invalid_client"},
	"InvalidClientMetadataException": {400, "invalid_client_metadata"},
	"InvalidGrantException":          {400, "invalid_grant"},
	"InvalidRequestException":        {400, "invalid_request"},
	"InvalidScopeException":          {400, "invalid_scope"},
	"SlowDownException":              {400, "slow_down"},
	"UnauthorizedClientException":    {400, "unauthorized_client"},
	"UnsupportedGrantTypeException":  {400, "unsupported_grant_type"},
}

// portalErrors maps each SSO portal error shape to its HTTP status (the
// @httpError traits in service/sso/schemas; ForbiddenException is not in the
// model but is what the portal answers for an unassigned role, 403 "No
// access").
var portalErrors = map[string]int{
	"InvalidRequestException":      400,
	"UnauthorizedException":        401,
	"ForbiddenException":           403,
	"ResourceNotFoundException":    404,
	"MethodNotAllowedException":    405,
	"TooManyRequestsException":     429,
	"UnknownOperationException":    404,
	"InternalServerErrorException": 500,
}

// reply wraps the ResponseWriter and remembers what was answered, for
// Requests.
type reply struct {
	w       http.ResponseWriter
	status  int
	errCode string
}

func (rp *reply) json(status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	rp.w.Header().Set("Content-Type", "application/json")
	rp.status = status
	rp.w.WriteHeader(status)
	_, _ = rp.w.Write(b)
}

func (rp *reply) empty(status int) {
	rp.status = status
	rp.w.Header().Set("Content-Length", "0")
	rp.w.WriteHeader(status)
}

// oidcError answers an SSO OIDC error the way the real service does: the
// shape name in X-Amzn-ErrorType (with the Coral suffix, which the SDK
// strips at ':'), and an OAuth-style body {"error","error_description"}.
func (rp *reply) oidcError(code, description string) {
	e, ok := oidcErrors[code]
	if !ok {
		panic("awssso: unknown OIDC error " + code)
	}
	rp.errCode = code
	rp.w.Header().Set("X-Amzn-ErrorType", code+oidcErrorTypeSuffix)
	rp.json(e.status, map[string]string{"error": e.oauth, "error_description": description})
}

// portalError answers an SSO portal error the way captured portal answers
// look: {"message":..., "__type":"com.amazonaws.switchboard.portal#Code"}.
func (rp *reply) portalError(code, message string) {
	status, ok := portalErrors[code]
	if !ok {
		panic("awssso: unknown portal error " + code)
	}
	rp.errCode = code
	rp.json(status, map[string]string{"message": message, "__type": portalErrorNamespace + code})
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rp := &reply{w: w}
	w.Header().Set("X-Amzn-Requestid", randRequestID())
	op := s.route(rp, r)
	if rp.status == 0 {
		rp.status = http.StatusOK
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{
		Method:    r.Method,
		Path:      r.URL.Path,
		Query:     r.URL.RawQuery,
		Operation: op,
		Status:    rp.status,
		ErrorCode: rp.errCode,
	})
	s.mu.Unlock()
}

type route struct {
	method, path, op string
	oidc             bool
	handle           func(*Server, *reply, *http.Request) string
}

var routes = []route{
	{"POST", "/client/register", "RegisterClient", true, (*Server).registerClient},
	{"POST", "/device_authorization", "StartDeviceAuthorization", true, (*Server).startDeviceAuthorization},
	{"POST", "/token", "CreateToken", true, (*Server).createToken},
	{"GET", "/federation/credentials", "GetRoleCredentials", false, (*Server).getRoleCredentials},
	{"GET", "/assignment/accounts", "ListAccounts", false, (*Server).listAccounts},
	{"GET", "/assignment/roles", "ListAccountRoles", false, (*Server).listAccountRoles},
	{"POST", "/logout", "Logout", false, (*Server).logout},
}

func (s *Server) route(rp *reply, r *http.Request) string {
	if r.URL.Path == "/device" {
		return s.verificationPage(rp, r)
	}
	for _, rt := range routes {
		if rt.path != r.URL.Path {
			continue
		}
		if rt.method != r.Method {
			if rt.oidc {
				rp.errCode = "MethodNotAllowedException"
				rp.w.Header().Set("X-Amzn-ErrorType", "MethodNotAllowedException"+oidcErrorTypeSuffix)
				rp.json(http.StatusMethodNotAllowed, map[string]string{"message": r.Method + " is not allowed on " + r.URL.Path})
			} else {
				rp.portalError("MethodNotAllowedException", r.Method+" is not allowed on "+r.URL.Path)
			}
			return rt.op
		}
		return rt.handle(s, rp, r)
	}
	rp.portalError("UnknownOperationException", "no operation at "+r.Method+" "+r.URL.Path)
	return ""
}

// decodeBody decodes a JSON request body into dst (a pointer to a struct
// with json tags). Member names must match exactly: encoding/json alone
// matches case-insensitively, which would hide a client that does not
// serialise like the SDK. Unknown members are rejected.
func decodeBody(r *http.Request, dst any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		b = []byte("{}")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("request body is not a JSON object: %v", err)
	}
	known := map[string]bool{}
	t := reflect.TypeOf(dst).Elem()
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		known[name] = true
	}
	for k := range raw {
		if !known[k] {
			return fmt.Errorf("unexpected member %q", k)
		}
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return fmt.Errorf("malformed request body: %v", err)
	}
	return nil
}
