//go:build unix

package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alchemy-go/alchemy/internal/testpty"
)

// writeProfiles writes $ALCHEMY_HOME/profiles.json.
func (w *ptyWorld) writeProfiles(t *testing.T, content string) {
	t.Helper()
	if err := os.MkdirAll(w.alchemy, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.alchemy, "profiles.json"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// An interactive deploy on a profile that does not exist asks before
// creating it, No by default; the credentials menu it opens on Yes names
// the profile and why.
func TestPTYUnknownProfile(t *testing.T) {
	const existing = `{"version":0,"profiles":{"cfreal":{"Cloudflare":{"method":"env"}}}}`
	setup := func(t *testing.T) *ptyWorld {
		w := newPTYWorld(t, nil, "")
		w.writeProfiles(t, existing)
		return w
	}
	unchanged := func(t *testing.T, w *ptyWorld) {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(w.alchemy, "profiles.json"))
		if err != nil || string(data) != existing {
			t.Errorf("profiles.json = %q (%v), want it unchanged", data, err)
		}
		if _, err := os.Stat(filepath.Join(w.alchemy, "credentials", "cfrael")); !os.IsNotExist(err) {
			t.Errorf("credentials/cfrael: %v, want it absent", err)
		}
		if n := len(w.cf.Requests()); n != 0 {
			t.Errorf("the Cloudflare fake saw %d requests, want none: %+v", n, w.cf.Requests())
		}
	}
	stack := []string{"ALCHEMY_CLI_MAIN=stack"}

	t.Run("NoByDefault", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		p := w.start(t, stack, "deploy", "--profile", "cfrael", "--stage", "test")
		p.Expect("Profile 'cfrael' does not exist. Did you mean 'cfreal'?")
		p.Expect("Create profile 'cfrael'?")
		p.Send(testpty.KeyEnter) // the default: No
		p.Expect("Did you mean 'cfreal'?")
		p.Expect("`alchemy login --profile cfrael` to create this one.")
		p.RequireExit(1)
		if strings.Contains(p.Screen(), "authentication method") {
			t.Errorf("a credentials menu opened after No:\n%s", p.Screen())
		}
		unchanged(t, w)
	})

	t.Run("YesOpensANamedMenu", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		p := w.start(t, stack, "plan", "--profile", "cfrael", "--stage", "test")
		p.Expect("Create profile 'cfrael'?")
		p.Send("y") // huh: y answers Yes
		p.Expect("Profile 'cfrael' has no Cloudflare credentials.")
		p.Expect("Cloudflare authentication method for profile 'cfrael':")
		p.Send(testpty.KeyCtrlC)
		p.RequireExit(130)
		unchanged(t, w)
	})
}

// logout and profile clear ask first on a terminal, No by default, naming
// the profile and its providers; Yes does it.
func TestPTYRemovalConfirms(t *testing.T) {
	const secret = `{"type":"apiToken","apiToken":"` + cfToken + `","accountId":"` + cfAccount + `"}`
	setup := func(t *testing.T) (w *ptyWorld, secretFile string) {
		w = newPTYWorld(t, nil, "")
		dir := filepath.Join(w.alchemy, "credentials", "prod")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		w.writeProfiles(t, `{"version":0,"profiles":{"prod":{"Cloudflare":{"method":"stored","credentialType":"apiToken"}}}}`)
		secretFile = filepath.Join(dir, "cf-stored.json")
		if err := os.WriteFile(secretFile, []byte(secret), 0o600); err != nil {
			t.Fatal(err)
		}
		return w, secretFile
	}
	exists := func(path string) bool { _, err := os.Stat(path); return err == nil }

	for _, tc := range []struct {
		name     string
		args     []string
		question string
	}{
		{"Logout", []string{"logout", "--profile", "prod"}, "Sign profile 'prod' out of Cloudflare?"},
		{"Clear", []string{"profile", "clear", "--profile", "prod"}, "Remove profile 'prod' and all its credentials (Cloudflare)?"},
	} {
		t.Run(tc.name+"No", func(t *testing.T) {
			t.Parallel()
			w, secretFile := setup(t)
			p := w.start(t, nil, tc.args...)
			p.Expect(tc.question)
			p.Send(testpty.KeyEnter) // the default: No
			p.Expect("Nothing was removed.")
			p.RequireExit(1)
			if !exists(secretFile) {
				t.Errorf("%s was removed after No", secretFile)
			}
		})
		t.Run(tc.name+"Yes", func(t *testing.T) {
			t.Parallel()
			w, secretFile := setup(t)
			p := w.start(t, nil, tc.args...)
			p.Expect(tc.question)
			p.Send("y")
			p.RequireExit(0)
			if exists(secretFile) {
				t.Errorf("%s is still there after Yes", secretFile)
			}
			data, err := os.ReadFile(filepath.Join(w.alchemy, "profiles.json"))
			if err != nil {
				t.Fatal(err)
			}
			// logout keeps the method choice; clear removes the profile.
			if kept := strings.Contains(string(data), `"prod"`); kept != (tc.name == "Logout") {
				t.Errorf("after %s profiles.json is %s", tc.name, data)
			}
		})
	}
}

// With --method there is no method menu to name the profile: a line before
// the questions does, and says why.
func TestPTYMethodGivenNamesTheProfile(t *testing.T) {
	t.Parallel()
	w := newPTYWorld(t, nil, "")
	p := w.start(t, nil, "login", "--profile", "p", "--provider", "GitHub", "--method", "stored")
	p.Expect("Profile 'p' has no GitHub credentials. Setting up GitHub with stored.")
	p.Expect("GitHub Personal Access Token")
	p.Send(testpty.KeyCtrlC)
	p.RequireExit(130)
	if _, err := os.Stat(filepath.Join(w.alchemy, "profiles.json")); !os.IsNotExist(err) {
		t.Errorf("profiles.json after a cancelled login: %v, want none", err)
	}
}

// --configure on a configured provider says what it replaces.
func TestPTYReconfigureNamesTheMethod(t *testing.T) {
	t.Parallel()
	w := newPTYWorld(t, nil, "")
	w.writeProfiles(t, `{"version":0,"profiles":{"cfreal":{"Cloudflare":{"method":"env"}}}}`)
	p := w.start(t, nil, "login", "--profile", "cfreal", "--provider", "Cloudflare", "--configure")
	p.Expect("Profile 'cfreal' signs in to Cloudflare with env; configuring it again.")
	p.Expect("Cloudflare authentication method for profile 'cfreal':")
	p.Send(testpty.KeyCtrlC)
	p.RequireExit(130)
}
