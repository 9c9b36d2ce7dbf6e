package cloudflare

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestReadPaste(t *testing.T) {
	cases := []struct {
		in       string
		wantCode string
		wantErr  string
	}{
		{"http://localhost:9976/auth/callback?code=abc&state=S1\n", "abc", ""},
		{"  abc#S1  \n", "abc", ""},
		{"bare-code\n", "bare-code", ""},
		{"\n\nhttp://localhost:9976/auth/callback?code=abc&state=S1\n", "abc", ""},
		{"http://localhost:9976/auth/callback?code=x&state=OTHER\n", "", "invalid_state"},
		{"http://localhost:9976/auth/callback?error=access_denied&error_description=no&state=S1\n", "", "access_denied"},
		{"http://localhost:9976/auth/callback?error=access_denied&state=FORGED\n", "", "invalid_state"},
	}
	for _, c := range cases {
		codes := make(chan result, 4)
		readPaste(strings.NewReader(c.in), "S1", codes)
		select {
		case r := <-codes:
			if c.wantErr != "" {
				if r.err == nil || !strings.Contains(r.err.Error(), c.wantErr) {
					t.Errorf("%q: got %+v, want error %s", c.in, r, c.wantErr)
				}
			} else if r.err != nil || r.code != c.wantCode {
				t.Errorf("%q: got %+v, want code %s", c.in, r, c.wantCode)
			}
		default:
			t.Errorf("%q: nothing read", c.in)
		}
	}
	// End of input says nothing: a callback may still come.
	codes := make(chan result, 1)
	readPaste(strings.NewReader(""), "S1", codes)
	if len(codes) != 0 {
		t.Fatal("EOF produced a result")
	}
}

func TestCallbackServer(t *testing.T) {
	codes := make(chan result, 4)
	srv, err := startCallback("http://127.0.0.1:0/auth/callback", "S1", codes)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	// The port was 0: find the real one from the server's listener address.
	base := "http://" + listenAddr(t, srv) + "/auth/callback"
	get := func(q string) (int, string) {
		resp, err := http.Get(base + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("?code=x&state=WRONG"); code != 400 || !strings.Contains(body, "does not belong to the login in progress") {
		t.Fatalf("wrong state: %d %s", code, body)
	}
	if r := <-codes; r.err == nil || !strings.Contains(r.err.Error(), "invalid_state") {
		t.Fatalf("wrong state result: %+v", r)
	}
	if code, body := get("?code=good&state=S1"); code != 200 || !strings.Contains(body, "Signed in to Cloudflare") {
		t.Fatalf("good callback: %d %s", code, body)
	}
	if r := <-codes; r.err != nil || r.code != "good" {
		t.Fatalf("good result: %+v", r)
	}
	// After the first valid callback, nothing more is accepted.
	if code, _ := get("?code=again&state=S1"); code != http.StatusGone {
		t.Fatalf("second callback: %d", code)
	}
	select {
	case r := <-codes:
		t.Fatalf("a second callback was accepted: %+v", r)
	case <-time.After(50 * time.Millisecond):
	}
	if resp, err := http.Get("http://" + listenAddr(t, srv) + "/other"); err != nil || resp.StatusCode != 404 {
		t.Fatalf("other path: %v %v", resp, err)
	}
}

func TestCallbackDenied(t *testing.T) {
	codes := make(chan result, 2)
	srv, err := startCallback("http://127.0.0.1:0/cb", "S1", codes)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	resp, err := http.Get("http://" + listenAddr(t, srv) + "/cb?error=access_denied&error_description=forged&state=OTHER")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if r := <-codes; r.err == nil || !strings.Contains(r.err.Error(), "invalid_state") {
		t.Fatalf("an error callback with another state was taken: %+v", r)
	}
	resp, err = http.Get("http://" + listenAddr(t, srv) + "/cb?error=access_denied&error_description=The+user+said+no&state=S1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r := <-codes
	if r.err == nil || r.err.Error() != "access_denied: The user said no" {
		t.Fatalf("%+v", r)
	}
}

func listenAddr(t *testing.T, srv *http.Server) string {
	t.Helper()
	if srv.Addr == "" {
		t.Fatal("callback server has no address")
	}
	return srv.Addr
}
