//go:build unix

package cli_test

import (
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"

	cfauth "github.com/alchemy-go/alchemy/internal/auth/cloudflare"
	"github.com/alchemy-go/alchemy/internal/testpty"
)

// startPTY runs `alchemy args...` in w's environment on a 120x40
// pseudo-terminal, so that alchemy is interactive.
func (w *oauthWorld) startPTY(t *testing.T, args ...string) *testpty.Proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append([]string(nil), w.env...), "TERM=xterm-256color")
	cmd.Dir = t.TempDir()
	p := testpty.Start(t, cmd, 120, 40)
	p.Name = "alchemy"
	p.Timeout = oauthStepTimeout
	return p
}

// ptyAuthorizeURL waits for the authorize URL on the terminal (it is longer
// than a line, so it is read from the raw output, not the screen).
func (w *oauthWorld) ptyAuthorizeURL(t *testing.T, p *testpty.Proc) string {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(w.srv.AuthorizeURL()) + `\?[^\s\x1b]+`)
	deadline := time.Now().Add(oauthStepTimeout)
	for {
		if m := re.FindString(p.Raw()); m != "" {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no authorize URL on the terminal:\n%s", p.Screen())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOAuthPTYAccountSelect: in a terminal, a login that can see several
// accounts asks which one, after the browser step.
func TestOAuthPTYAccountSelect(t *testing.T) {
	// The redirect is pasted (typed) on the terminal, then the account is
	// chosen in the prompt.
	t.Run("Paste", func(t *testing.T) {
		t.Parallel()
		w := newOAuthWorld(t, 0, cfAccount, cfOtherAccount)
		p := w.startPTY(t, "login", "--profile", "p", "--provider", "Cloudflare", "--method", "oauth", "--no-browser")
		r := w.approve(t, w.ptyAuthorizeURL(t, p))
		p.Expect("press Enter:")
		p.Send(r.String(), testpty.KeyEnter)
		p.Expect("Which Cloudflare account should profile 'p' deploy to?")
		p.Expect("> Work")
		p.Send(testpty.KeyDown)
		p.Expect("> Personal")
		p.Send(testpty.KeyEnter)
		p.Expect("accountId: " + cfOtherAccount)
		p.RequireExit(0)
		o := w.readTokens(t, "p")
		p.MustNotShow(o.Access)
		p.MustNotShow(o.Refresh)
		w.checkEntry(t, "p", cfOtherAccount, cfauth.DefaultScopes)
	})

	// The paste prompt is up (--no-browser) but the browser's redirect
	// reaches the loopback callback instead. The paste reader must not keep
	// reading the terminal: the account prompt that follows needs the keys.
	t.Run("CallbackWhilePasteWaits", func(t *testing.T) {
		t.Parallel()
		w, _ := newOAuthWorldWithPort(t, cfAccount, cfOtherAccount)
		p := w.startPTY(t, "login", "--profile", "p", "--provider", "Cloudflare", "--method", "oauth", "--no-browser")
		r := w.approve(t, w.ptyAuthorizeURL(t, p))
		p.Expect("press Enter:")
		if status, body := callback(t, r.String()); status != http.StatusOK {
			t.Fatalf("callback answered %d:\n%s", status, body)
		}
		p.Expect("Which Cloudflare account should profile 'p' deploy to?")
		p.Expect("> Work")
		// The prompt is drawn and reads keys within milliseconds; a key
		// that does not move the cursor in 15s went somewhere else.
		p.Timeout = 15 * time.Second
		p.Send(testpty.KeyDown)
		p.Expect("> Personal")
		p.Timeout = oauthStepTimeout
		p.Send(testpty.KeyEnter)
		p.Expect("accountId: " + cfOtherAccount)
		p.RequireExit(0)
		w.checkEntry(t, "p", cfOtherAccount, cfauth.DefaultScopes)
	})
}
