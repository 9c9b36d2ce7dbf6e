package cloudflarefake_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/alchemy-go/alchemy/internal/cloudflare/cfapi"
	cloudflarefake "github.com/alchemy-go/alchemy/internal/fakes/cloudflare"
)

const (
	accA      = "0123456789abcdef0123456789abcdef"
	accB      = "fedcba9876543210fedcba9876543210"
	accC      = "aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb"
	userTok   = "userTokenSecret_0123456789abcdefghijkl"
	acctTok   = "cfat_accountTokenSecret_0123456789abcd"
	globalKey = "3f7c0a1b2c3d4e5f60718293a4b5c6d7e8f90"
	email     = "owner@example.com"
)

var allSecrets = []string{userTok, acctTok, globalKey}

func setup(t *testing.T) *cloudflarefake.Server {
	t.Helper()
	f := cloudflarefake.New()
	f.Start()
	t.Cleanup(f.Close)
	f.AddAccount(accA, "Alpha")
	f.AddAccount(accB, "Beta")
	f.AddAccount(accC, "Gamma")
	f.AddUser("5a1f00000000000000000000000000aa", email)
	f.AddToken(userTok, cloudflarefake.TokenOptions{ID: "user-token-id", UserEmail: email, Accounts: []string{accA, accC}})
	f.AddToken(acctTok, cloudflarefake.TokenOptions{ID: "acct-token-id", AccountID: accB})
	f.AddGlobalKey(email, globalKey, accB)
	return f
}

type wire struct {
	Success bool `json:"success"`
	Errors  []struct {
		Code       int    `json:"code"`
		Message    string `json:"message"`
		ErrorChain []struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error_chain"`
	} `json:"errors"`
	Messages []struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"messages"`
	Result     json.RawMessage `json:"result"`
	ResultInfo *struct {
		Page       int `json:"page"`
		PerPage    int `json:"per_page"`
		Count      int `json:"count"`
		TotalCount int `json:"total_count"`
		TotalPages int `json:"total_pages"`
	} `json:"result_info"`
	raw map[string]json.RawMessage
}

// get sends a raw request and decodes the envelope, checking that the four
// mandatory keys are always present.
func get(t *testing.T, f *cloudflarefake.Server, method, path string, hdr map[string]string) (int, wire) {
	t.Helper()
	req, _ := http.NewRequest(method, f.URL()+path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var w wire
	if err := json.Unmarshal(body, &w); err != nil {
		t.Fatalf("%s %s: body is not JSON: %s", method, path, body)
	}
	if err := json.Unmarshal(body, &w.raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"success", "errors", "messages", "result"} {
		if _, ok := w.raw[k]; !ok {
			t.Fatalf("%s %s: envelope lacks %q: %s", method, path, k, body)
		}
	}
	if string(w.raw["errors"]) == "null" || string(w.raw["messages"]) == "null" {
		t.Fatalf("errors/messages must be arrays: %s", body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q", ct)
	}
	return resp.StatusCode, w
}

func codes(w wire) []int {
	var c []int
	for _, e := range w.Errors {
		c = append(c, e.Code)
		for _, ch := range e.ErrorChain {
			c = append(c, ch.Code)
		}
	}
	return c
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func TestWireVerifyShapes(t *testing.T) {
	f := setup(t)
	cases := []struct {
		name   string
		path   string
		hdr    map[string]string
		status int
		codes  []int
		msg    string
	}{
		{"active", "/user/tokens/verify", bearer(userTok), 200, nil, ""},
		{"unknown", "/user/tokens/verify", bearer("nope"), 401, []int{1000}, "Invalid API Token"},
		{"account token on user endpoint", "/user/tokens/verify", bearer(acctTok), 401, []int{1000}, "Invalid API Token"},
		{"no auth", "/user/tokens/verify", nil, 400, []int{1001}, `Missing "Authorization" header`},
		{"global key", "/user/tokens/verify", map[string]string{"X-Auth-Email": email, "X-Auth-Key": globalKey}, 400, []int{1001}, `Missing "Authorization" header`},
		{"malformed", "/user/tokens/verify", map[string]string{"Authorization": "Bearer not a token"}, 400, []int{6003, 6111}, "Invalid request headers"},
		{"not bearer", "/user/tokens/verify", map[string]string{"Authorization": "Basic abc"}, 400, []int{6003, 6111}, "Invalid request headers"},
		{"account endpoint", "/accounts/" + accB + "/tokens/verify", bearer(acctTok), 200, nil, ""},
		{"account endpoint wrong account", "/accounts/" + accA + "/tokens/verify", bearer(acctTok), 401, []int{1000}, "Invalid API Token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, w := get(t, f, "GET", tc.path, tc.hdr)
			if status != tc.status || fmt.Sprint(codes(w)) != fmt.Sprint(tc.codes) {
				t.Fatalf("status=%d codes=%v, want %d %v", status, codes(w), tc.status, tc.codes)
			}
			if tc.status == 200 {
				var res map[string]string
				json.Unmarshal(w.Result, &res)
				if !w.Success || res["status"] != "active" || res["id"] == "" {
					t.Fatalf("result = %s", w.Result)
				}
				if len(w.Messages) != 1 || w.Messages[0].Code != 10000 || w.Messages[0].Message != "This API Token is valid and active" {
					t.Fatalf("messages = %+v", w.Messages)
				}
				return
			}
			if w.Success || string(w.Result) != "null" || w.Errors[0].Message != tc.msg {
				t.Fatalf("envelope = %+v", w)
			}
		})
	}
}

func TestWireGeneralEndpointAuthErrors(t *testing.T) {
	f := setup(t)
	cases := []struct {
		name   string
		path   string
		hdr    map[string]string
		status int
		codes  []int
		msgs   []string
	}{
		{"no auth", "/accounts", nil, 403, []int{9106, 9107}, []string{"Missing X-Auth-Email header", "Missing X-Auth-Key header"}},
		{"email only", "/user", map[string]string{"X-Auth-Email": email}, 403, []int{9107}, []string{"Missing X-Auth-Key header"}},
		{"key only", "/user", map[string]string{"X-Auth-Key": globalKey}, 403, []int{9106}, []string{"Missing X-Auth-Email header"}},
		{"wrong key", "/user", map[string]string{"X-Auth-Email": email, "X-Auth-Key": "x" + globalKey}, 403, []int{9103}, []string{"Unknown X-Auth-Key or X-Auth-Email"}},
		{"unknown token", "/accounts", bearer("nope"), 403, []int{9109}, []string{"Invalid access token"}},
		{"account token lists accounts", "/accounts", bearer(acctTok), 400, []int{1001}, []string{"List accounts endpoint does not support account owned tokens."}},
		{"account token reads user", "/user", bearer(acctTok), 403, []int{9109}, []string{"Unauthorized to access requested resource"}},
		{"invisible account", "/accounts/" + accB, bearer(userTok), 403, []int{9109}, []string{"Unauthorized to access requested resource"}},
		{"unregistered tag", "/accounts/" + strings.Repeat("e", 32), bearer(userTok), 403, []int{9109}, []string{"Unauthorized to access requested resource"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, w := get(t, f, "GET", tc.path, tc.hdr)
			if status != tc.status || fmt.Sprint(codes(w)) != fmt.Sprint(tc.codes) {
				t.Fatalf("status=%d codes=%v, want %d %v", status, codes(w), tc.status, tc.codes)
			}
			for i, m := range tc.msgs {
				if w.Errors[i].Message != m {
					t.Fatalf("message %d = %q, want %q", i, w.Errors[i].Message, m)
				}
			}
		})
	}
}

func TestWireUnknownRoutes(t *testing.T) {
	f := setup(t)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/nope"},
		{"POST", "/user/tokens/verify"}, // known path, other method
		{"GET", "/accounts/me@example.com"},
		{"GET", "/accounts/not-an-id/tokens/verify"},
	} {
		status, w := get(t, f, tc.method, tc.path, bearer(userTok))
		want := "Could not route to /client/v4" + tc.path + ", perhaps your object identifier is invalid?"
		if status != 400 || fmt.Sprint(codes(w)) != "[7003 7000]" || w.Errors[0].Message != want || w.Errors[1].Message != "No route for that URI" {
			t.Fatalf("%s %s: status=%d envelope=%+v", tc.method, tc.path, status, w.Errors)
		}
	}
}

func TestWireAccountsPagination(t *testing.T) {
	f := cloudflarefake.New()
	defer f.Close()
	for i := 0; i < 12; i++ {
		f.AddAccount(fmt.Sprintf("%032x", i+1), fmt.Sprintf("acct-%02d", i))
	}
	f.AddToken(userTok, cloudflarefake.TokenOptions{})
	for _, tc := range []struct {
		query                                  string
		page, perPage, count, total, totalPage int
		first                                  string
	}{
		{"", 1, 20, 12, 12, 1, "acct-00"},
		{"?page=3&per_page=5", 3, 5, 2, 12, 3, "acct-10"},
		{"?page=9&per_page=5", 9, 5, 0, 12, 3, ""},
		{"?per_page=1", 1, 5, 5, 12, 3, "acct-00"},     // clamped up to the minimum
		{"?per_page=500", 1, 50, 12, 12, 1, "acct-00"}, // clamped down to the maximum
	} {
		status, w := get(t, f, "GET", "/accounts"+tc.query, bearer(userTok))
		if status != 200 || w.ResultInfo == nil {
			t.Fatalf("%s: status=%d", tc.query, status)
		}
		ri := *w.ResultInfo
		if ri.Page != tc.page || ri.PerPage != tc.perPage || ri.Count != tc.count || ri.TotalCount != tc.total || ri.TotalPages != tc.totalPage {
			t.Fatalf("%s: result_info = %+v", tc.query, ri)
		}
		var res []map[string]any
		json.Unmarshal(w.Result, &res)
		if len(res) != tc.count || (tc.count > 0 && res[0]["name"] != tc.first) || string(w.Result) == "null" {
			t.Fatalf("%s: result = %s", tc.query, w.Result)
		}
		if tc.count > 0 && (res[0]["type"] != "standard" || res[0]["created_on"] == "") {
			t.Fatalf("account object = %v", res[0])
		}
	}
}

func TestViaClientVisibility(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	names := func(as []cfapi.Account) string {
		var n []string
		for _, a := range as {
			n = append(n, a.Name)
		}
		return strings.Join(n, ",")
	}

	user := cfapi.New(f.URL(), cfapi.Auth{APIToken: userTok}, nil)
	as, err := user.Accounts(ctx)
	if err != nil || names(as) != "Alpha,Gamma" {
		t.Fatalf("user token accounts = %v, %v", as, err)
	}
	if a, err := user.Account(ctx, accC); err != nil || a.Name != "Gamma" {
		t.Fatalf("Account(C) = %v, %v", a, err)
	}
	if _, err := user.Account(ctx, accB); !cfapi.IsRejected(err) {
		t.Fatalf("Account(B) err = %v", err)
	}
	if u, err := user.User(ctx); err != nil || u.Email != email || u.ID != "5a1f00000000000000000000000000aa" {
		t.Fatalf("User = %v, %v", u, err)
	}

	key := cfapi.New(f.URL(), cfapi.Auth{APIKey: globalKey, Email: email}, nil)
	if as, err := key.Accounts(ctx); err != nil || names(as) != "Beta" {
		t.Fatalf("key accounts = %v, %v", as, err)
	}

	acct := cfapi.New(f.URL(), cfapi.Auth{APIToken: acctTok}, nil)
	_, err = acct.Accounts(ctx)
	var ae *cfapi.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 400 || !ae.HasCode(1001) || cfapi.IsRejected(err) || cfapi.IsUnreachable(err) {
		t.Fatalf("account token Accounts err = %v", err)
	}
	if a, err := acct.Account(ctx, accB); err != nil || a.ID != accB {
		t.Fatalf("account token Account(B) = %v, %v", a, err)
	}
	if _, err := acct.Account(ctx, accA); !cfapi.IsRejected(err) {
		t.Fatalf("account token Account(A) err = %v", err)
	}

	all := cfapi.New(f.URL(), cfapi.Auth{APIToken: "all-seeing"}, nil)
	f.AddToken("all-seeing", cloudflarefake.TokenOptions{})
	if as, err := all.Accounts(ctx); err != nil || names(as) != "Alpha,Beta,Gamma" {
		t.Fatalf("unrestricted token accounts = %v, %v", as, err)
	}
	if _, err := all.User(ctx); !cfapi.IsRejected(err) {
		t.Fatalf("token without user: err = %v", err)
	}
}

func TestViaClientInactiveTokenOnGeneralEndpoint(t *testing.T) {
	f := setup(t)
	f.AddToken("disabled", cloudflarefake.TokenOptions{Status: "disabled"})
	_, err := cfapi.New(f.URL(), cfapi.Auth{APIToken: "disabled"}, nil).Accounts(context.Background())
	var ae *cfapi.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 403 || !ae.HasCode(9109) || !cfapi.IsRejected(err) {
		t.Fatalf("err = %v", err)
	}
}

func TestRequestLogNeverHoldsSecrets(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	for _, a := range []cfapi.Auth{{APIToken: userTok}, {APIToken: acctTok}, {APIKey: globalKey, Email: email}, {APIToken: "wrong"}, {}} {
		c := cfapi.New(f.URL(), a, nil)
		c.User(ctx)
		c.Accounts(ctx)
		c.VerifyToken(ctx)
		c.Do(ctx, "GET", "/nowhere", nil, nil, nil)
	}
	reqs := f.Requests()
	dump, _ := json.Marshal(reqs)
	for _, s := range allSecrets {
		if strings.Contains(string(dump), s) {
			t.Fatalf("request log holds a secret: %s", dump)
		}
	}
	kinds := map[string]bool{}
	for _, r := range reqs {
		kinds[r.AuthKind] = true
	}
	if !kinds["token"] || !kinds["key"] || !kinds["none"] {
		t.Fatalf("auth kinds seen = %v", kinds)
	}
	if reqs[0].Path != "/user" || reqs[0].Credential != "user-token-id" {
		t.Fatalf("first request = %+v", reqs[0])
	}
	f.ResetRequests()
	if len(f.Requests()) != 0 {
		t.Fatal("ResetRequests kept requests")
	}
}

func TestSetDown(t *testing.T) {
	f := setup(t)
	f.SetDown(502)
	resp, err := http.Get(f.URL() + "/user/tokens/verify")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 502 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "502 Bad Gateway") {
		t.Fatalf("down answer: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if n := len(f.Requests()); n != 1 {
		t.Fatalf("requests while down not recorded: %d", n)
	}
	f.SetDown(0)
	if _, err := cfapi.New(f.URL(), cfapi.Auth{APIToken: userTok}, nil).VerifyToken(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("SetDown(404) did not panic")
		}
	}()
	f.SetDown(404)
}

func TestLifecycle(t *testing.T) {
	f := cloudflarefake.New()
	u := f.URL() // starts lazily
	if !strings.HasPrefix(u, "http://127.0.0.1:") || !strings.HasSuffix(u, "/client/v4") {
		t.Fatalf("URL = %q", u)
	}
	f.Start()
	f.Start()
	if f.URL() != u {
		t.Fatal("Start is not idempotent")
	}
	f.Close()
	f.Close()
	f.Start() // no restart after Close
	if f.URL() != u {
		t.Fatal("URL changed after Close")
	}
	_, err := cfapi.New(u, cfapi.Auth{APIToken: "x"}, nil).VerifyToken(context.Background())
	if !cfapi.IsUnreachable(err) {
		t.Fatalf("closed fake: err = %v", err)
	}
}

func TestAddTokenValidation(t *testing.T) {
	f := cloudflarefake.New()
	defer func() {
		if recover() == nil {
			t.Fatal("bad status accepted")
		}
	}()
	f.AddToken("t", cloudflarefake.TokenOptions{Status: "revoked"})
}

func TestConcurrentUse(t *testing.T) {
	f := setup(t)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(2)
		go func(i int) {
			defer wg.Done()
			c := cfapi.New(f.URL(), cfapi.Auth{APIToken: userTok}, nil)
			for j := 0; j < 20; j++ {
				if _, err := c.VerifyToken(context.Background()); err != nil {
					t.Error(err)
					return
				}
				c.Accounts(context.Background())
			}
		}(i)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				f.AddAccount(fmt.Sprintf("%032x", 1000+i*100+j), "x")
				f.AddToken(fmt.Sprintf("tmp-%d-%d", i, j), cloudflarefake.TokenOptions{})
				f.RevokeToken(fmt.Sprintf("tmp-%d-%d", i, j))
				f.Requests()
			}
		}(i)
	}
	wg.Wait()
}
