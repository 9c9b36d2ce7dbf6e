package cfapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/cloudflare/cfapi"
)

const secretToken = "tok_S3cr3tV4lu3_do_not_leak_0123456789"

// envelopeJSON renders a v4 envelope.
func envelopeJSON(success bool, result any, errs ...cfapi.ErrorDetail) string {
	if errs == nil {
		errs = []cfapi.ErrorDetail{}
	}
	b, _ := json.Marshal(map[string]any{
		"success": success, "errors": errs, "messages": []any{}, "result": result,
	})
	return string(b)
}

func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func tokenClient(srv *httptest.Server) *cfapi.Client {
	return cfapi.New(srv.URL+"/client/v4", cfapi.Auth{APIToken: secretToken}, srv.Client())
}

func assertNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Fatalf("error string leaks a secret: %q", err.Error())
		}
		if strings.Contains(fmt.Sprintf("%+v", err), s) {
			t.Fatalf("error %%+v leaks a secret: %+v", err)
		}
	}
}

func TestRequestHeadersTokenAuth(t *testing.T) {
	var got http.Header
	var gotPath string
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got, gotPath = r.Header.Clone(), r.URL.Path
		io.WriteString(w, envelopeJSON(true, map[string]any{"id": "abc", "status": "active"}))
	})
	ts, err := tokenClient(srv).VerifyToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ts.ID != "abc" || !ts.Active() || ts.ExpiresOn != nil {
		t.Fatalf("status = %+v", ts)
	}
	if gotPath != "/client/v4/user/tokens/verify" {
		t.Errorf("path = %q", gotPath)
	}
	if g := got.Get("User-Agent"); g != "alchemy-go" {
		t.Errorf("User-Agent = %q", g)
	}
	if g := got.Get("Authorization"); g != "Bearer "+secretToken {
		t.Errorf("Authorization = %q", g)
	}
	if got.Get("X-Auth-Key") != "" || got.Get("X-Auth-Email") != "" {
		t.Errorf("key headers sent with token auth")
	}
}

func TestRequestHeadersKeyAndOAuth(t *testing.T) {
	var got http.Header
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		io.WriteString(w, envelopeJSON(true, map[string]any{"id": "u1", "email": "a@example.com"}))
	})
	c := cfapi.New(srv.URL, cfapi.Auth{APIKey: "k3y", Email: "a@example.com"}, srv.Client())
	u, err := c.User(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if u != (cfapi.User{ID: "u1", Email: "a@example.com"}) {
		t.Errorf("user = %+v", u)
	}
	if got.Get("X-Auth-Key") != "k3y" || got.Get("X-Auth-Email") != "a@example.com" || got.Get("Authorization") != "" {
		t.Errorf("key auth headers = %v", got)
	}

	c = cfapi.New(srv.URL, cfapi.Auth{OAuthToken: "oauth-abc"}, srv.Client())
	if _, err := c.User(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got.Get("Authorization") != "Bearer oauth-abc" {
		t.Errorf("oauth Authorization = %q", got.Get("Authorization"))
	}
}

func TestAmbiguousAuthSendsNothing(t *testing.T) {
	var calls atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
	for _, a := range []cfapi.Auth{
		{APIToken: "t", APIKey: "k", Email: "e@x"},
		{APIToken: "t", OAuthToken: "o"},
		{OAuthToken: "o", Email: "e@x"},
	} {
		c := cfapi.New(srv.URL, a, srv.Client())
		if c.AuthKind() != "ambiguous" {
			t.Errorf("AuthKind(%+v) = %q", a, c.AuthKind())
		}
		if _, err := c.User(context.Background()); !errors.Is(err, cfapi.ErrAmbiguousAuth) {
			t.Errorf("User err = %v, want ErrAmbiguousAuth", err)
		}
		if _, err := c.VerifyToken(context.Background()); !errors.Is(err, cfapi.ErrAmbiguousAuth) {
			t.Errorf("VerifyToken err = %v, want ErrAmbiguousAuth", err)
		}
	}
	if calls.Load() != 0 {
		t.Fatalf("%d requests sent", calls.Load())
	}
}

func TestVerifyWithKeyAuthIsLocalError(t *testing.T) {
	var calls atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
	c := cfapi.New(srv.URL, cfapi.Auth{APIKey: "k", Email: "e@x"}, srv.Client())
	if _, err := c.VerifyToken(context.Background()); !errors.Is(err, cfapi.ErrNotTokenAuth) {
		t.Fatalf("err = %v", err)
	}
	if _, err := c.VerifyAccountToken(context.Background(), "acc"); !errors.Is(err, cfapi.ErrNotTokenAuth) {
		t.Fatalf("err = %v", err)
	}
	if calls.Load() != 0 {
		t.Fatal("request sent")
	}
}

func TestMalformedCredentialIsRejectedLocally(t *testing.T) {
	var calls atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
	for _, bad := range []string{secretToken + "\n", " " + secretToken, "abc\x00def" + secretToken} {
		c := cfapi.New(srv.URL, cfapi.Auth{APIToken: bad}, srv.Client())
		_, err := c.VerifyToken(context.Background())
		var fe *cfapi.CredentialFormatError
		if !errors.As(err, &fe) || !cfapi.IsRejected(err) || cfapi.IsUnreachable(err) {
			t.Fatalf("err = %v", err)
		}
		assertNoSecret(t, err, bad, secretToken)
	}
	if calls.Load() != 0 {
		t.Fatal("request sent")
	}
}

func TestNonJSON502IsUnreachable(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, "<html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>")
	})
	_, err := tokenClient(srv).VerifyToken(context.Background())
	var ae *cfapi.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 502 {
		t.Fatalf("err = %#v", err)
	}
	if !cfapi.IsUnreachable(err) || cfapi.IsRejected(err) {
		t.Fatalf("IsUnreachable=%v IsRejected=%v", cfapi.IsUnreachable(err), cfapi.IsRejected(err))
	}
	if !strings.HasPrefix(err.Error(), "cloudflare API: 502 Bad Gateway: response is not a Cloudflare API envelope") {
		t.Errorf("Error() = %q", err.Error())
	}
}

func TestNonEnvelope2xxIsNeitherRejectedNorUnreachable(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html>captive portal</html>")
	})
	_, err := tokenClient(srv).VerifyToken(context.Background())
	var ae *cfapi.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 200 || cfapi.IsRejected(err) || cfapi.IsUnreachable(err) {
		t.Fatalf("err = %v", err)
	}
}

func TestSuccessFalseWith200(t *testing.T) {
	cases := []struct {
		name     string
		errs     []cfapi.ErrorDetail
		rejected bool
		want     string
	}{
		{
			name:     "auth code",
			errs:     []cfapi.ErrorDetail{{Code: 9109, Message: "Invalid access token"}},
			rejected: true,
			want:     "cloudflare API: 200 OK: code 9109: Invalid access token",
		},
		{
			name: "validation error",
			errs: []cfapi.ErrorDetail{{Code: 1004, Message: "DNS Validation Error"}},
			want: "cloudflare API: 200 OK: code 1004: DNS Validation Error",
		},
		{
			name:     "malformed header chain",
			errs:     []cfapi.ErrorDetail{{Code: 6003, Message: "Invalid request headers", ErrorChain: []cfapi.ErrorDetail{{Code: 6111, Message: "Invalid format for Authorization header"}}}},
			rejected: true,
			want:     "cloudflare API: 200 OK: code 6003: Invalid request headers (code 6111: Invalid format for Authorization header)",
		},
		{
			name: "no details",
			want: "cloudflare API: 200 OK: no error details in response",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, envelopeJSON(false, nil, tc.errs...))
			})
			_, err := cfapi.New(srv.URL, cfapi.Auth{APIToken: secretToken}, srv.Client()).User(context.Background())
			var ae *cfapi.APIError
			if !errors.As(err, &ae) || ae.StatusCode != 200 {
				t.Fatalf("err = %v", err)
			}
			if cfapi.IsRejected(err) != tc.rejected || cfapi.IsUnreachable(err) {
				t.Errorf("IsRejected=%v IsUnreachable=%v", cfapi.IsRejected(err), cfapi.IsUnreachable(err))
			}
			if err.Error() != tc.want {
				t.Errorf("Error() = %q, want %q", err.Error(), tc.want)
			}
			if ae.Method != "GET" || ae.Path != "/user" {
				t.Errorf("Method/Path = %s %s", ae.Method, ae.Path)
			}
		})
	}
}

func TestErrorStringFormat(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, envelopeJSON(false, nil, cfapi.ErrorDetail{Code: 1000, Message: "Invalid API Token"}))
	})
	_, err := tokenClient(srv).VerifyToken(context.Background())
	if got, want := err.Error(), "cloudflare API: 401 Unauthorized: code 1000: Invalid API Token"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if !cfapi.IsRejected(err) || cfapi.IsUnreachable(err) {
		t.Fatal("misclassified")
	}
}

func TestStatusClassification(t *testing.T) {
	cases := []struct {
		status                int
		code                  int
		rejected, unreachable bool
	}{
		{401, 10000, true, false},
		{403, 9103, true, false},
		{403, 9109, true, false},
		{400, 1001, false, false}, // e.g. listing accounts with an account-owned token
		{400, 7003, false, false},
		{404, 0, false, false},
		{429, 971, false, true},
		{500, 0, false, true},
		{503, 0, false, true},
	}
	for _, tc := range cases {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				var errs []cfapi.ErrorDetail
				if tc.code != 0 {
					errs = append(errs, cfapi.ErrorDetail{Code: tc.code, Message: "m"})
				}
				io.WriteString(w, envelopeJSON(false, nil, errs...))
			})
			_, err := tokenClient(srv).User(context.Background())
			if cfapi.IsRejected(err) != tc.rejected || cfapi.IsUnreachable(err) != tc.unreachable {
				t.Fatalf("%v: IsRejected=%v IsUnreachable=%v", err, cfapi.IsRejected(err), cfapi.IsUnreachable(err))
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, envelopeJSON(false, nil, cfapi.ErrorDetail{Code: 971, Message: "Please wait and consider throttling your request speed"}))
	})
	_, err := tokenClient(srv).User(context.Background())
	var ae *cfapi.APIError
	if !errors.As(err, &ae) || ae.RetryAfter != 7*time.Second || !cfapi.IsUnreachable(err) {
		t.Fatalf("err = %v (%+v)", err, ae)
	}
}

func TestAccountsPaginationThreePages(t *testing.T) {
	var pages []string
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/client/v4/accounts" {
			t.Errorf("path = %s", r.URL.Path)
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		pages = append(pages, r.URL.RawQuery)
		var result []map[string]string
		n := map[int]int{1: 3, 2: 3, 3: 1}[page]
		for i := 0; i < n; i++ {
			id := fmt.Sprintf("acc-%d-%d", page, i)
			result = append(result, map[string]string{"id": id, "name": "Account " + id})
		}
		b, _ := json.Marshal(map[string]any{
			"success": true, "errors": []any{}, "messages": []any{}, "result": result,
			"result_info": map[string]int{"page": page, "per_page": 3, "count": n, "total_count": 7, "total_pages": 3},
		})
		w.Write(b)
	})
	accts, err := tokenClient(srv).Accounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(accts) != 7 || accts[0].ID != "acc-1-0" || accts[6].ID != "acc-3-0" || accts[6].Name != "Account acc-3-0" {
		t.Fatalf("accounts = %+v", accts)
	}
	want := []string{"page=1&per_page=50", "page=2&per_page=50", "page=3&per_page=50"}
	if fmt.Sprint(pages) != fmt.Sprint(want) {
		t.Fatalf("queries = %v, want %v", pages, want)
	}
}

func TestAccountsStopsWithoutResultInfo(t *testing.T) {
	var calls atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		io.WriteString(w, envelopeJSON(true, []map[string]string{{"id": "a", "name": "A"}}))
	})
	accts, err := tokenClient(srv).Accounts(context.Background())
	if err != nil || len(accts) != 1 || calls.Load() != 1 {
		t.Fatalf("accts=%v err=%v calls=%d", accts, err, calls.Load())
	}
}

func TestAccountsErrorMidway(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page") == "2" {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "oops")
			return
		}
		b, _ := json.Marshal(map[string]any{
			"success": true, "errors": []any{}, "messages": []any{},
			"result":      []map[string]string{{"id": "a", "name": "A"}},
			"result_info": map[string]int{"page": 1, "per_page": 1, "count": 1, "total_count": 2, "total_pages": 2},
		})
		w.Write(b)
	})
	accts, err := tokenClient(srv).Accounts(context.Background())
	if accts != nil || !cfapi.IsUnreachable(err) {
		t.Fatalf("accts=%v err=%v", accts, err)
	}
}

func TestConnectionRefusedIsUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := cfapi.New("http://"+addr+"/client/v4", cfapi.Auth{APIToken: secretToken}, nil)
	_, err = c.VerifyToken(context.Background())
	var te *cfapi.TransportError
	if !errors.As(err, &te) || !cfapi.IsUnreachable(err) || cfapi.IsRejected(err) {
		t.Fatalf("err = %v", err)
	}
	assertNoSecret(t, err, secretToken)
}

func TestDNSFailureIsUnreachable(t *testing.T) {
	// .invalid never resolves (RFC 2606); no network needed to fail.
	c := cfapi.New("https://api.cloudflare.invalid/client/v4", cfapi.Auth{APIToken: secretToken}, nil)
	_, err := c.VerifyToken(context.Background())
	if !cfapi.IsUnreachable(err) || cfapi.IsRejected(err) {
		t.Fatalf("err = %v", err)
	}
}

func blockingServer(t *testing.T) *httptest.Server {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv
}

func TestContextCancel(t *testing.T) {
	srv := blockingServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	_, err := tokenClient(srv).VerifyToken(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if cfapi.IsUnreachable(err) || cfapi.IsRejected(err) {
		t.Fatalf("cancelled call classified: unreachable=%v rejected=%v", cfapi.IsUnreachable(err), cfapi.IsRejected(err))
	}
	assertNoSecret(t, err, secretToken)
}

func TestDeadlineIsUnreachable(t *testing.T) {
	srv := blockingServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := tokenClient(srv).VerifyToken(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !cfapi.IsUnreachable(err) {
		t.Fatalf("err = %v", err)
	}
}

func TestClientTimeoutIsUnreachable(t *testing.T) {
	srv := blockingServer(t)
	c := cfapi.New(srv.URL, cfapi.Auth{APIToken: secretToken}, &http.Client{Timeout: 50 * time.Millisecond})
	_, err := c.VerifyToken(context.Background())
	if !cfapi.IsUnreachable(err) {
		t.Fatalf("err = %v", err)
	}
}

func TestEchoedSecretsAreRedacted(t *testing.T) {
	const key = "globalKey0123456789abcdef0123456789abc"
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		echo := r.Header.Get("Authorization") + " " + r.Header.Get("X-Auth-Key")
		switch r.URL.Path {
		case "/json":
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, envelopeJSON(false, nil, cfapi.ErrorDetail{
				Code: 9109, Message: "bad credential " + echo,
				ErrorChain: []cfapi.ErrorDetail{{Code: 1, Message: echo}},
			}))
		default:
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "upstream said: "+echo)
		}
	})
	for _, auth := range []cfapi.Auth{{APIToken: secretToken}, {APIKey: key, Email: "me@example.com"}, {OAuthToken: secretToken}} {
		c := cfapi.New(srv.URL, auth, srv.Client())
		for _, p := range []string{"/json", "/html"} {
			_, err := c.Do(context.Background(), "GET", p, nil, nil, nil)
			if err == nil {
				t.Fatal("no error")
			}
			assertNoSecret(t, err, secretToken, key)
			var ae *cfapi.APIError
			if errors.As(err, &ae) {
				for _, d := range ae.Errors {
					if strings.Contains(d.Message, secretToken) || strings.Contains(d.Message, key) || strings.Contains(fmt.Sprint(d.ErrorChain), secretToken) {
						t.Fatalf("structured error leaks: %+v", d)
					}
				}
			}
		}
	}
}

func TestDoBodyQueryAndResultInfo(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			t.Errorf("method = %s", r.Method)
		}
		if r.URL.EscapedPath() != "/client/v4/accounts/a%2Fb/storage/kv/namespaces" {
			t.Errorf("escaped path = %s", r.URL.EscapedPath())
		}
		if r.URL.Query().Get("x") != "1 2" {
			t.Errorf("query = %s", r.URL.RawQuery)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
		var in map[string]string
		json.NewDecoder(r.Body).Decode(&in)
		b, _ := json.Marshal(map[string]any{
			"success": true, "errors": []any{}, "messages": []any{},
			"result":      map[string]string{"id": "ns1", "title": in["title"]},
			"result_info": map[string]any{"count": 1, "cursor": "next-abc"},
		})
		w.Write(b)
	})
	var out struct{ ID, Title string }
	info, err := tokenClient(srv).Do(context.Background(), http.MethodPost,
		"/accounts/"+url.PathEscape("a/b")+"/storage/kv/namespaces",
		url.Values{"x": {"1 2"}}, map[string]string{"title": "cache"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if out.ID != "ns1" || out.Title != "cache" {
		t.Errorf("result = %+v", out)
	}
	if info == nil || info.Cursor != "next-abc" || info.Count != 1 {
		t.Errorf("result_info = %+v", info)
	}
}

func TestDoRawBody(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("Content-Type") != "application/javascript" || string(b) != "export default {}" {
			t.Errorf("got %q %q", r.Header.Get("Content-Type"), b)
		}
		io.WriteString(w, envelopeJSON(true, nil))
	})
	_, err := tokenClient(srv).Do(context.Background(), http.MethodPut, "/x", nil,
		cfapi.RawBody{ContentType: "application/javascript", Reader: strings.NewReader("export default {}")}, nil)
	if err != nil {
		t.Fatal(err)
	}
}

func TestDoRejectsBadInput(t *testing.T) {
	c := cfapi.New("", cfapi.Auth{APIToken: "t"}, nil)
	if c.BaseURL() != cfapi.DefaultBaseURL {
		t.Errorf("BaseURL = %q", c.BaseURL())
	}
	if _, err := c.Do(context.Background(), "GET", "user", nil, nil, nil); err == nil {
		t.Error("relative path accepted")
	}
	bad := cfapi.New("ftp://example.com", cfapi.Auth{APIToken: "t"}, nil)
	if _, err := bad.User(context.Background()); err == nil || !strings.Contains(err.Error(), "invalid base URL") {
		t.Errorf("err = %v", err)
	}
	if _, err := c.Account(context.Background(), ""); err == nil {
		t.Error("empty account ID accepted")
	}
	if _, err := c.VerifyAccountToken(context.Background(), ""); err == nil {
		t.Error("empty account ID accepted")
	}
}
