//go:build unix

package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	cloudflarefake "github.com/alchemy-go/alchemy/internal/fakes/cloudflare"
	githubfake "github.com/alchemy-go/alchemy/internal/fakes/github"
)

// 16 logins of different providers and methods into one profile at once,
// 10 rounds, through the real binary: afterwards each provider is one whole
// configuration (its entry and exactly its method's secret files).
func TestConcurrentLoginsKeepProfilesWhole(t *testing.T) {
	t.Parallel()
	cf := cloudflarefake.New()
	cf.AddAccount(cfAccount, "Work")
	cf.AddToken(cfToken, cloudflarefake.TokenOptions{UserEmail: cfEmail})
	cf.AddGlobalKey(cfEmail, cfGlobalKey, cfAccount)
	cf.Start()
	t.Cleanup(cf.Close)
	gh := githubfake.New()
	gh.AddToken(ghToken, "octocat")
	gh.Start()
	t.Cleanup(gh.Close)

	home := filepath.Join(t.TempDir(), "home")
	base := []string{"ALCHEMY_CLI_MAIN=1", "HOME=" + home, "ALCHEMY_HOME=" + filepath.Join(home, ".alchemy"),
		"CLOUDFLARE_BASE_URL=" + cf.URL(), "GITHUB_API_URL=" + gh.URL(), "PATH=" + os.Getenv("PATH")}
	logins := [][]string{
		{"--provider", "Cloudflare", "--method", "stored", "CLOUDFLARE_API_TOKEN=" + cfToken, "CLOUDFLARE_ACCOUNT_ID=" + cfAccount},
		{"--provider", "Cloudflare", "--method", "stored", "CLOUDFLARE_API_KEY=" + cfGlobalKey, "CLOUDFLARE_EMAIL=" + cfEmail, "CLOUDFLARE_ACCOUNT_ID=" + cfAccount},
		{"--provider", "Cloudflare", "--method", "env", "CLOUDFLARE_API_TOKEN=" + cfToken, "CLOUDFLARE_ACCOUNT_ID=" + cfAccount},
		{"--provider", "GitHub", "--method", "stored", "GITHUB_TOKEN=" + ghToken},
		{"--provider", "GitHub", "--method", "env", "GITHUB_TOKEN=" + ghToken},
	}
	alchemyHome := filepath.Join(home, ".alchemy")
	for round := range 10 {
		var wg sync.WaitGroup
		for i := range 16 {
			l := logins[(i+round)%len(logins)]
			wg.Go(func() {
				cmd := exec.Command(os.Args[0], append([]string{"login", "--profile", "p"}, l[:4]...)...)
				cmd.Env = append(append([]string(nil), base...), l[4:]...)
				cmd.Dir = t.TempDir()
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("round %d: login %v: %v\n%s", round, l[:4], err, out)
				}
			})
		}
		wg.Wait()
		checkWhole(t, alchemyHome, fmt.Sprintf("round %d", round))
	}
}

func checkWhole(t *testing.T, home, when string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(home, "profiles.json"))
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	var cfg struct {
		Profiles map[string]map[string]map[string]any `json:"profiles"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("%s: profiles.json: %v", when, err)
	}
	read := func(key string) map[string]any {
		data, err := os.ReadFile(filepath.Join(home, "credentials", "p", key+".json"))
		if err != nil {
			return nil
		}
		var v map[string]any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatalf("%s: %s: %v", when, key, err)
		}
		return v
	}
	p := cfg.Profiles["p"]
	cf, cfStored, cfOAuth := p["Cloudflare"], read("cf-stored"), read("cf-oauth")
	switch cf["method"] {
	case "stored":
		if cfStored == nil || cfStored["type"] != cf["credentialType"] {
			t.Fatalf("%s: Cloudflare entry %v beside cf-stored.json %v", when, cf, cfStored)
		}
	case "env":
		if cfStored != nil {
			t.Fatalf("%s: Cloudflare env entry beside a stored secret %v", when, cfStored)
		}
	}
	if cfOAuth != nil {
		t.Fatalf("%s: an OAuth file nobody logged in for", when)
	}
	gh, ghStored := p["GitHub"], read("gh-stored")
	switch gh["method"] {
	case "stored":
		if ghStored == nil {
			t.Fatalf("%s: GitHub stored entry without gh-stored.json", when)
		}
	case "env":
		if ghStored != nil {
			t.Fatalf("%s: GitHub env entry beside a stored secret", when)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(home, "credentials", "p", ".*")); len(left) > 0 {
		t.Fatalf("%s: left behind: %v", when, left)
	}
}
