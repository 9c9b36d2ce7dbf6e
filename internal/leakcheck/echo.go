package leakcheck

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Echo is an API that refuses every request and quotes in its error
// message everything it was sent (headers and body), in the error shape
// the client reads, as some APIs and proxies repeat a bad credential back.
// Every secret alchemy sends must be registered before it goes, or it
// comes back into an error message. Point each client at its own path:
//
//	/sts/...  awsQuery XML (403 InvalidClientTokenId), for AWS_ENDPOINT_URL_STS
//	/s3/...   S3 XML (403 AccessDenied), for AWS_ENDPOINT_URL_S3
//	/sso/...  restJson 403 ForbiddenException ("no access", reported as
//	          it is rather than as "sign in again"), for AWS_ENDPOINT_URL_SSO
//	anything else: one JSON document that is at once the Cloudflare
//	          envelope, GitHub's {"message"}, an OAuth error and an AWS
//	          restJson UnauthorizedException, with status 401
type Echo struct {
	*httptest.Server
	mu   sync.Mutex
	seen strings.Builder
}

// StartEcho starts an Echo on 127.0.0.1, closed when t ends.
func StartEcho(t testing.TB) *Echo {
	e := &Echo{}
	e.Server = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.Close)
	return e
}

func (e *Echo) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var echo strings.Builder
	for _, k := range slices.Sorted(maps.Keys(r.Header)) {
		fmt.Fprintf(&echo, "%s=%s; ", k, strings.Join(r.Header[k], ","))
	}
	fmt.Fprintf(&echo, "body=%s", body)
	e.mu.Lock()
	e.seen.WriteString(echo.String() + "\n")
	e.mu.Unlock()
	msg := "refused: " + echo.String()

	var esc strings.Builder
	_ = xml.EscapeText(&esc, []byte(msg))
	switch {
	case strings.HasPrefix(r.URL.Path, "/sts/"):
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>%s</Message></Error><RequestId>echo</RequestId></ErrorResponse>`, esc.String())
		return
	case strings.HasPrefix(r.URL.Path, "/s3/"):
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		if r.Method != http.MethodHead {
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>%s</Message><RequestId>echo</RequestId></Error>`, esc.String())
		}
		return
	}
	status, awsType := http.StatusUnauthorized, "UnauthorizedException"
	if strings.HasPrefix(r.URL.Path, "/sso/") {
		status, awsType = http.StatusForbidden, "ForbiddenException"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"success": false, "errors": []any{map[string]any{"code": 10000, "message": msg}},
		"message": msg, "error": "invalid_grant", "error_description": msg, "__type": awsType})
}

// Received is everything the server was sent, a request a line.
func (e *Echo) Received() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.seen.String()
}
