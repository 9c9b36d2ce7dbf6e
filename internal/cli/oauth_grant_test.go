//go:build unix

package cli_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// expireAccess makes the stored access token need a refresh.
func expireAccess(t *testing.T, w *oauthWorld, profile string) oauthTokens {
	t.Helper()
	tokens := w.readTokens(t, profile)
	tokens.Expires = time.Now().Add(-time.Minute).UnixMilli()
	w.writeTokens(t, profile, tokens)
	return tokens
}

// Ctrl-C arrives after the server rotated the refresh token but before its
// answer: the answer is still read and saved, so the login survives.
func TestRefreshSurvivesCtrlCAfterRotation(t *testing.T) {
	t.Parallel()
	w := newOAuthWorld(t, 0, cfAccount)
	loggedIn(t, w)
	old := expireAccess(t, w, "p")

	var p *oauthProc
	started := make(chan struct{})
	var once sync.Once
	w.srv.AfterRotate(func() {
		once.Do(func() {
			<-started
			// The server has rotated: interrupt the client now, then answer.
			_ = p.cmd.Process.Signal(os.Interrupt)
			time.Sleep(300 * time.Millisecond)
		})
	})
	p = w.start(t, nil, "profile", "show", "--profile", "p", "--json")
	close(started)
	p.wait(t)
	w.srv.AfterRotate(nil)

	saved := w.readTokens(t, "p")
	if saved.Refresh == old.Refresh {
		t.Fatalf("the rotated refresh token was not saved:\n%s", p)
	}
	if status, code := w.refreshWith(t, saved.Refresh); status != http.StatusOK {
		t.Fatalf("the saved refresh token does not work (status %d, %q): the grant was lost", status, code)
	}
	noSecrets(t, []string{old.Refresh, saved.Refresh}, p)
}

// The new tokens cannot be written: the command still gets the new access
// token, and says which file could not be written.
func TestRefreshWriteFailureStillAnswers(t *testing.T) {
	t.Parallel()
	w := newOAuthWorld(t, 0, cfAccount)
	loggedIn(t, w)
	old := expireAccess(t, w, "p")
	file := w.oauthFile("p")
	w.srv.AfterRotate(func() {
		// Between the look and the write, something takes the file's place.
		os.Remove(file)
		os.MkdirAll(filepath.Join(file, "in-the-way"), 0o700)
	})
	p := w.start(t, nil, "profile", "show", "--profile", "p", "--json")
	p.exitCode(t, 0)
	w.srv.AfterRotate(nil)
	if got := parseShow(t, p).Providers[0]; got.Error != "" || got.Expired == nil || *got.Expired {
		t.Fatalf("profile show did not get the refreshed token: %v\n%s", got, p)
	}
	for _, want := range []string{"the refreshed OAuth tokens could not be saved", "cf-oauth.json", "alchemy login --profile p"} {
		if !strings.Contains(p.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, p)
		}
	}
	noSecrets(t, []string{old.Refresh}, p)
}

// Where the new tokens could not be saved for everyone (a read-only home),
// the single-use refresh token is not spent at all: five processes fail
// clearly, and the grant still works afterwards.
func TestReadOnlyHomeNeverSpendsTheGrant(t *testing.T) {
	t.Parallel()
	w := newOAuthWorld(t, 0, cfAccount)
	loggedIn(t, w)
	old := expireAccess(t, w, "p")
	dir := filepath.Dir(w.oauthFile("p"))
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	_, before := w.tokenCounts()
	var procs []*oauthProc
	for range 5 {
		procs = append(procs, w.start(t, nil, "profile", "show", "--profile", "p", "--json"))
	}
	for _, p := range procs {
		p.wait(t)
		if got := parseShow(t, p).Providers[0]; !strings.Contains(got.Error, "refresh tokens are single-use") || !strings.Contains(got.Error, "read-only") {
			t.Errorf("want a clear refusal to refresh, got %v\n%s", got, p)
		}
	}
	if _, after := w.tokenCounts(); after != before {
		t.Fatalf("%d refreshes were attempted from a read-only home", after-before)
	}
	if status, code := w.refreshWith(t, old.Refresh); status != http.StatusOK {
		t.Fatalf("the grant no longer works (status %d, %q)", status, code)
	}
}
