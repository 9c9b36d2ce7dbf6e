//go:build unix

package cli_test

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cfauth "github.com/alchemy-go/alchemy/internal/auth/cloudflare"
	"github.com/alchemy-go/alchemy/internal/testpeers"
	"github.com/alchemy-go/alchemy/internal/testpeers/oauthserver"
)

const chromiumPath = "/usr/bin/chromium"

// TestOAuthBrowserLoginChromium is the whole browser step with a real
// browser: alchemy opens $BROWSER on the authorize URL, a person (chromedp
// driving headless Chromium) signs in and allows, Chromium follows the
// redirect to alchemy's loopback callback and shows alchemy's page, and
// alchemy exchanges the code, picks the only account and stores the tokens.
func TestOAuthBrowserLoginChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("chromium is required in CI: %v", err)
		}
		t.Skipf("no %s: %v", chromiumPath, err)
	}
	t.Parallel()
	w, _ := newOAuthWorldWithPort(t, cfAccount)

	// $BROWSER: a command alchemy appends the URL to. It only records the
	// URL; the test hands it to Chromium.
	dir := t.TempDir()
	urlFile := filepath.Join(dir, "authorize-url")
	browser := filepath.Join(dir, "browser.sh")
	script := "#!/bin/sh\nprintf '%s\\n' \"$1\" > '" + urlFile + ".tmp' && mv '" + urlFile + ".tmp' '" + urlFile + "'\n"
	if err := os.WriteFile(browser, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	// Chromium starts while alchemy does: the driver (testservers/browse,
	// chromedp) launches it, then waits for the URL on its stdin, signs in
	// and allows as a person would, and reports the page it lands on.
	driver := exec.Command(testpeers.ServerBinary(t, "browse"), "-chromium", chromiumPath, "-user-data-dir", t.TempDir(),
		"-until-title", "Signed in to Cloudflare", "-timeout", (3 * oauthStepTimeout).String(),
		"wait:username", "type:username=user@example.com", "type:password=correct horse", "click:login",
		"wait:allow", "click:allow")
	var page, browserLog lockedBuffer
	driver.Stdout, driver.Stderr = &page, &browserLog
	toDriver, err := driver.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := driver.Start(); err != nil {
		t.Fatal(err)
	}
	driverDone := make(chan error, 1)
	go func() { driverDone <- driver.Wait() }()
	t.Cleanup(func() {
		_ = driver.Process.Kill() // a no-op once it exited
		<-driverDone
		if t.Failed() {
			t.Logf("browser driver:\n%s", browserLog.String())
		}
	})

	p := w.start(t, []string{"BROWSER=" + browser}, "login", "--profile", "p", "--provider", "Cloudflare", "--method", "oauth")

	// The URL alchemy gave $BROWSER, and the same one on stderr.
	var authURL string
	deadline := time.Now().Add(oauthStepTimeout)
	for authURL == "" {
		if data, err := os.ReadFile(urlFile); err == nil {
			authURL = strings.TrimSpace(string(data))
			break
		}
		select {
		case <-p.done:
			t.Fatalf("alchemy exited before opening the browser:\n%s", p)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("$BROWSER was not run within %s:\n%s", oauthStepTimeout, p)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if printed := w.authorizeURL(t, p); printed != authURL {
		t.Errorf("$BROWSER got %s\nstderr shows %s", authURL, printed)
	}
	if strings.Contains(p.stderr.String(), "paste the URL") {
		t.Errorf("with a browser opened and the callback listening, alchemy should not ask for a paste:\n%s", p)
	}
	if _, err := io.WriteString(toDriver, authURL+"\n"); err != nil {
		t.Fatal(err)
	}
	toDriver.Close()

	// Chromium signs in, allows, and lands on alchemy's page on the
	// loopback callback.
	var driverErr error
	select {
	case driverErr = <-driverDone:
		driverDone <- driverErr // for the cleanup
	case <-time.After(4 * oauthStepTimeout):
		t.Fatalf("the browser driver did not finish:\n%s", p)
	}
	var landed struct{ Title, Location, Body string }
	if jerr := json.Unmarshal([]byte(page.String()), &landed); driverErr != nil || jerr != nil {
		t.Fatalf("Chromium did not reach alchemy's page (%v, %v): %s\n%s", driverErr, jerr, page.String(), p)
	}
	location, body := landed.Location, landed.Body
	if !strings.HasPrefix(location, w.redirect+"?") {
		t.Errorf("Chromium is at %s, want the redirect URI %s", location, w.redirect)
	}
	if !strings.Contains(body, "You can close this tab") {
		t.Errorf("alchemy's page says %q", body)
	}

	p.exitCode(t, 0)
	if !strings.Contains(p.stderr.String(), "Cloudflare: using account Work ("+cfAccount+"), the only one this login can see.") {
		t.Errorf("stderr does not name the account:\n%s", p)
	}

	// What alchemy stored.
	if m := fileMode(t, w.oauthFile("p")); m != 0o600 {
		t.Errorf("cf-oauth.json mode %o, want 600", m)
	}
	o := w.readTokens(t, "p")
	checkFreshExpiry(t, o.Expires)
	if !slices.Equal(o.Scopes, oauthserver.DefaultScopes) {
		t.Errorf("stored scopes %v, want the granted ones %v", o.Scopes, oauthserver.DefaultScopes)
	}
	w.checkEntry(t, "p", cfAccount, cfauth.DefaultScopes)

	// The tokens work.
	if !w.srv.AccessTokenValid(o.Access) {
		t.Error("the stored access token is not valid at the server")
	}
	if sub := w.whoami(t, o.Access); sub != "user@example.com" {
		t.Errorf("/whoami with the stored access token: %q", sub)
	}
	if ex, rf := w.tokenCounts(); ex != 1 || rf != 0 {
		t.Errorf("token endpoint saw %d exchanges and %d refreshes, want 1 and 0", ex, rf)
	}
	var sawAccounts bool
	for _, r := range w.cf.Requests() {
		if r.Method == "GET" && r.Path == "/accounts" && r.AuthKind == "token" {
			sawAccounts = true
		}
	}
	if !sawAccounts {
		t.Errorf("the Cloudflare fake saw no GET /accounts with the token: %+v", w.cf.Requests())
	}
	noSecrets(t, []string{o.Access, o.Refresh}, p)
}
