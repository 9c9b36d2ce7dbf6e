//go:build unix

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alchemy-go/alchemy/internal/testprovider"
	"github.com/alchemy-go/alchemy/internal/testpty"
)

// profilesJSON is ~/.alchemy/profiles.json.
type profilesJSON struct {
	Version  int                                     `json:"version"`
	Profiles map[string]map[string]map[string]string `json:"profiles"`
}

func TestFirstDeployAuthWalk(t *testing.T) {
	t.Parallel()
	t.Run("NonInteractive", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		widget := w.internalProject(fixture("widget"))
		r := w.run("deploy", widget, "--yes")
		const want = "Failed to resolve Widget credentials for profile 'default': No credentials configured for 'Widget' in profile 'default', and this process is non-interactive"
		if r.code != 1 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "alchemy login --profile default") {
			t.Fatalf("want exit 1, %q and the login command that fixes it; %s", want, r)
		}
		if exists(t, filepath.Join(w.alchemyHome, "profiles.json")) {
			t.Error("a failed non-interactive deploy wrote profiles.json")
		}
		if exists(t, w.path(".alchemy", "state")) {
			t.Errorf("a deploy that could not resolve credentials wrote state: %v", listDir(t, w.path(".alchemy", "state")))
		}
		// A plan needs the credentials as well, and says the same.
		r = w.run("plan", widget)
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("plan: %s", r)
		}
	})

	t.Run("CI", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		widget := w.internalProject(fixture("widget"))
		const token = "tok-from-ci-env"
		r := w.runEnv([]string{"CI=true", "WIDGET_TOKEN=" + token}, "deploy", widget, "--yes")
		if r.code != 0 {
			t.Fatalf("CI deploy with WIDGET_TOKEN: %s", r)
		}
		if got := outputs(t, r.stdout)["tokenHash"]; got != testprovider.TokenHash(token) {
			t.Errorf("tokenHash %q, want %q", got, testprovider.TokenHash(token))
		}
		if strings.Contains(r.stdout+r.stderr, token) {
			t.Error("the token was printed")
		}
		if exists(t, w.alchemyHome) {
			t.Errorf("a CI deploy wrote to ALCHEMY_HOME: %v", listDir(t, w.alchemyHome))
		}
		// CI without the variable names it.
		r = w.runEnv([]string{"CI=true"}, "deploy", widget, "--yes", "--stage", "other")
		if r.code != 1 || !strings.Contains(r.stderr, "WIDGET_TOKEN") {
			t.Errorf("CI deploy without WIDGET_TOKEN: %s", r)
		}
	})

	t.Run("Interactive", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		widget := w.internalProject(fixture("widget"))
		const token = "wdg-typed-secret-0123456789"
		p := w.startPTY(nil, "deploy", widget)
		p.Expect("Widget authentication method")
		p.Expect("> Widget Token")
		p.Send(testpty.KeyEnter)
		p.Expect("Widget API Token")
		// The stack program's own validation, though the alchemy command
		// draws the prompt (the program asks it over pipes).
		const bad = "wdg bad"
		p.Send(bad)
		p.Send(testpty.KeyEnter)
		p.Expect("a Widget token has no spaces")
		p.Send(strings.Repeat(testpty.KeyBackspace, len(bad)))
		p.Send(token)
		p.Expect(strings.Repeat("*", len(token)))
		p.Send(testpty.KeyEnter)
		p.Expect("Widget: credentials saved.")
		p.Expect("widget → dev_tester · profile default\n")
		p.Expect("Plan: 1 to create")
		p.Expect("Deploy 1 change to widget/dev_tester?")
		p.Expect("> Deploy")
		p.Send(testpty.KeyEnter)
		p.Expect("tokenHash: " + testprovider.TokenHash(token))
		p.RequireExit(0)
		p.MustNotShow(token)

		var prof profilesJSON
		readJSON(t, filepath.Join(w.alchemyHome, "profiles.json"), &prof)
		if got, _ := json.Marshal(prof.Profiles); string(got) != `{"default":{"Widget":{"method":"stored"}}}` {
			t.Errorf("profiles.json profiles = %s", got)
		}
		cred := filepath.Join(w.alchemyHome, "credentials", "default", "widget-stored.json")
		fi, err := os.Stat(cred)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", cred, fi.Mode().Perm())
		}
		var stored struct{ Token string }
		readJSON(t, cred, &stored)
		if stored.Token != token {
			t.Errorf("stored token %q, want the typed one", stored.Token)
		}

		// The next deploy, without a terminal, uses the saved profile.
		r := w.run("deploy", widget, "--yes", "--stage", "second")
		if r.code != 0 {
			t.Fatalf("second deploy: %s", r)
		}
		if got := outputs(t, r.stdout)["tokenHash"]; got != testprovider.TokenHash(token) {
			t.Errorf("second deploy's tokenHash %q, want %q", got, testprovider.TokenHash(token))
		}
		if strings.Contains(r.stdout+r.stderr, "authentication method") || strings.Contains(r.stdout+r.stderr, token) {
			t.Errorf("second deploy prompted or printed the token: %s", r)
		}

		// login with the stack file walks the stack's providers only.
		r = w.run("login", widget)
		if r.code != 0 {
			t.Fatalf("login %s: %s", widget, r)
		}
		requireContains(t, "login output", r.stdout, "Profile: default", "── Widget ──", "token: ")
		for _, other := range []string{"Cloudflare", "AWS", "GitHub"} {
			if strings.Contains(r.stdout+r.stderr, other) {
				t.Errorf("login with the widget stack mentions %s:\n%s", other, r)
			}
		}
		if strings.Contains(r.stdout+r.stderr, token) {
			t.Error("login printed the token")
		}

		// Without a stack file here (the home directory), login uses the
		// providers built into alchemy, none of which this profile has.
		r = w.runIn(w.home, nil, "login")
		requireContains(t, "login without a stack file", r.stderr, "No stack file (alchemy.run.go) here: using the providers built into alchemy.")
		t.Logf("login without a stack file, on a profile with only a stack-provided provider: exit %d\n%s", r.code, r.stderr)
	})
}
