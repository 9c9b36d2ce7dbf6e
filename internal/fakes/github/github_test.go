package githubfake_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	githubfake "github.com/alchemy-go/alchemy/internal/fakes/github"
)

func do(t *testing.T, method, url, auth string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not JSON: %s", b)
	}
	return resp.StatusCode, resp.Header, m
}

func TestWireShapes(t *testing.T) {
	f := githubfake.New()
	defer f.Close()
	f.AddToken("good", "octocat")
	f.AddToken("good2", "octocat")

	status, hdr, m := do(t, "GET", f.URL()+"/user", "Bearer good")
	if status != 200 || m["login"] != "octocat" || m["type"] != "User" || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Fatalf("200: %d %v", status, m)
	}
	id := m["id"]
	if _, _, m2 := do(t, "GET", f.URL()+"/user", "token good2"); m2["id"] != id {
		t.Fatalf("same login, different id: %v vs %v", m2["id"], id)
	}

	for _, tc := range []struct {
		method, path, auth string
		status             int
		message            string
	}{
		{"GET", "/user", "Bearer bad", 401, "Bad credentials"},
		{"GET", "/user", "Basic Zm9vOmJhcg==", 401, "Bad credentials"},
		{"GET", "/user", "", 401, "Requires authentication"},
		{"GET", "/nope", "Bearer good", 404, "Not Found"},
		{"POST", "/user", "Bearer good", 404, "Not Found"},
	} {
		status, _, m := do(t, tc.method, f.URL()+tc.path, tc.auth)
		if status != tc.status || m["message"] != tc.message || m["documentation_url"] != "https://docs.github.com/rest" || m["status"] != itoa(tc.status) || len(m) != 3 {
			t.Fatalf("%s %s %q: %d %v", tc.method, tc.path, tc.auth, status, m)
		}
	}

	reqs := f.Requests()
	if len(reqs) != 7 || reqs[0].Login != "octocat" || reqs[0].AuthKind != "token" || reqs[4].AuthKind != "none" {
		t.Fatalf("requests = %+v", reqs)
	}
	dump, _ := json.Marshal(reqs)
	for _, s := range []string{"good", "bad"} {
		if strings.Contains(string(dump), s) {
			t.Fatalf("request log holds a token: %s", dump)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestLifecycleAndDown(t *testing.T) {
	f := githubfake.New()
	u := f.URL()
	f.Start()
	if f.URL() != u || !strings.HasPrefix(u, "http://127.0.0.1:") {
		t.Fatalf("URL = %q", u)
	}
	f.SetDown(500)
	resp, err := http.Get(u + "/user")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	f.Close()
	f.Close()
	if _, err := http.Get(u + "/user"); err == nil {
		t.Fatal("closed fake still answers")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("SetDown(401) did not panic")
		}
	}()
	f.SetDown(401)
}
