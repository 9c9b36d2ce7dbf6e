package ghapi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	githubfake "github.com/alchemy-go/alchemy/internal/fakes/github"
	"github.com/alchemy-go/alchemy/internal/github/ghapi"
)

const secret = "ghp_S3cretT0kenValue0123456789abcdefABCD"

func noLeak(t *testing.T, err error) {
	t.Helper()
	if err != nil && (strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprintf("%+v", err), secret)) {
		t.Fatalf("error leaks the token: %v", err)
	}
}

func TestCurrentUserAgainstFake(t *testing.T) {
	f := githubfake.New()
	defer f.Close()
	f.AddToken(secret, "octocat")

	u, err := ghapi.CurrentUser(context.Background(), nil, f.URL(), secret)
	if err != nil {
		t.Fatal(err)
	}
	if u.Login != "octocat" || u.ID == 0 {
		t.Fatalf("user = %+v", u)
	}
	reqs := f.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/user" || reqs[0].AuthKind != "token" || reqs[0].Login != "octocat" {
		t.Fatalf("requests = %+v", reqs)
	}
	if strings.Contains(fmt.Sprintf("%+v", reqs), secret) {
		t.Fatal("request log holds the token")
	}
}

func TestBadCredentialsIsRejected(t *testing.T) {
	f := githubfake.New()
	defer f.Close()
	f.AddToken(secret, "octocat")
	f.RevokeToken(secret)

	_, err := ghapi.CurrentUser(context.Background(), nil, f.URL(), secret)
	var ae *ghapi.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 401 || ae.Message != "Bad credentials" || ae.DocumentationURL != "https://docs.github.com/rest" {
		t.Fatalf("err = %#v", err)
	}
	if !ghapi.IsRejected(err) || ghapi.IsUnreachable(err) {
		t.Fatal("misclassified")
	}
	if err.Error() != "github API: 401 Unauthorized: Bad credentials" {
		t.Fatalf("Error() = %q", err.Error())
	}
	noLeak(t, err)
}

func TestLocalRejections(t *testing.T) {
	var called bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called = true }))
	defer srv.Close()
	for _, tok := range []string{"", secret + "\n", "a b"} {
		_, err := ghapi.CurrentUser(context.Background(), srv.Client(), srv.URL, tok)
		if !ghapi.IsRejected(err) || ghapi.IsUnreachable(err) {
			t.Fatalf("%q: err = %v", tok, err)
		}
		noLeak(t, err)
	}
	if called {
		t.Fatal("request sent")
	}
}

func TestHeaders(t *testing.T) {
	var h http.Header
	var path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, path = r.Header.Clone(), r.URL.Path
		io.WriteString(w, `{"login":"x","id":7}`)
	}))
	defer srv.Close()
	u, err := ghapi.CurrentUser(context.Background(), srv.Client(), srv.URL+"/api/v3/", secret)
	if err != nil || u != (ghapi.User{Login: "x", ID: 7}) {
		t.Fatalf("u=%+v err=%v", u, err)
	}
	if path != "/api/v3/user" {
		t.Errorf("path = %q", path)
	}
	want := map[string]string{
		"Authorization":        "Bearer " + secret,
		"Accept":               "application/vnd.github+json",
		"X-Github-Api-Version": "2022-11-28",
		"User-Agent":           "alchemy-go",
	}
	for k, v := range want {
		if h.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, h.Get(k), v)
		}
	}
}

func TestClassification(t *testing.T) {
	cases := []struct {
		name                  string
		status                int
		hdr                   map[string]string
		body                  string
		rejected, unreachable bool
	}{
		{"forbidden", 403, nil, `{"message":"Forbidden"}`, true, false},
		{"primary rate limit", 403, map[string]string{"X-RateLimit-Remaining": "0"}, `{"message":"API rate limit exceeded for user ID 1."}`, false, true},
		{"secondary rate limit", 403, map[string]string{"Retry-After": "60"}, `{"message":"You have exceeded a secondary rate limit."}`, false, true},
		{"429", 429, nil, `{"message":"Too Many Requests"}`, false, true},
		{"500", 500, nil, `{"message":"Server Error"}`, false, true},
		{"502 html", 502, nil, `<html>unicorn</html>`, false, true},
		{"404", 404, nil, `{"message":"Not Found"}`, false, false},
		{"200 not a user", 200, nil, `<html>portal</html>`, false, false},
		{"echoed token", 401, nil, `{"message":"bad token ` + secret + `"}`, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.hdr {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			_, err := ghapi.CurrentUser(context.Background(), srv.Client(), srv.URL, secret)
			if err == nil || ghapi.IsRejected(err) != tc.rejected || ghapi.IsUnreachable(err) != tc.unreachable {
				t.Fatalf("err=%v rejected=%v unreachable=%v", err, ghapi.IsRejected(err), ghapi.IsUnreachable(err))
			}
			noLeak(t, err)
		})
	}
}

func TestUnreachable(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	_, err := ghapi.CurrentUser(context.Background(), nil, "http://"+addr, secret)
	if !ghapi.IsUnreachable(err) || ghapi.IsRejected(err) {
		t.Fatalf("refused: err = %v", err)
	}
	noLeak(t, err)

	f := githubfake.New()
	f.AddToken(secret, "octocat")
	f.SetDown(503)
	_, err = ghapi.CurrentUser(context.Background(), nil, f.URL(), secret)
	if !ghapi.IsUnreachable(err) {
		t.Fatalf("down: err = %v", err)
	}
	f.SetDown(0)
	if _, err := ghapi.CurrentUser(context.Background(), nil, f.URL(), secret); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := ghapi.CurrentUser(context.Background(), nil, f.URL(), secret); !ghapi.IsUnreachable(err) {
		t.Fatalf("closed: err = %v", err)
	}
}

func TestCancelAndDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)

	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(30 * time.Millisecond); cancel() }()
	_, err := ghapi.CurrentUser(ctx, srv.Client(), srv.URL, secret)
	if !errors.Is(err, context.Canceled) || ghapi.IsUnreachable(err) || ghapi.IsRejected(err) {
		t.Fatalf("cancel: err = %v", err)
	}

	ctx, cancel2 := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel2()
	_, err = ghapi.CurrentUser(ctx, srv.Client(), srv.URL, secret)
	if !ghapi.IsUnreachable(err) {
		t.Fatalf("deadline: err = %v", err)
	}
}
