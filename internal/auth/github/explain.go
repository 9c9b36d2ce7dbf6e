package github

import (
	"fmt"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/profile"
)

var _ auth.Explainer = Provider{}

// Variables are what the env method reads (readEnv), then GH_TOKEN, which
// the GitHub CLI reads for the gh-cli method.
func (Provider) Variables() []auth.Variable {
	return []auth.Variable{{Name: "GITHUB_ACCESS_TOKEN", Secret: true}, {Name: "GITHUB_TOKEN", Secret: true}, {Name: "GH_TOKEN", Secret: true}}
}

// Explain mirrors Read without running `gh` or checking a token.
func (Provider) Explain(x *auth.Explaining, e profile.Entry) auth.Use {
	switch e.Method() {
	case "env":
		u := auth.Use{Reads: []string{"GITHUB_ACCESS_TOKEN", "GITHUB_TOKEN"}, Instead: map[string]string{
			"GH_TOKEN": "the env method reads GITHUB_ACCESS_TOKEN or GITHUB_TOKEN",
		}}
		for _, name := range u.Reads {
			if from := x.From(name); from != "" {
				u.Summary = "the token in " + name
				u.Values = []auth.Provenance{{Name: "token", Secret: true, From: from}}
				if name == "GITHUB_ACCESS_TOKEN" {
					u.Instead["GITHUB_TOKEN"] = "GITHUB_ACCESS_TOKEN is set, and it comes first"
					u.Reads = u.Reads[:1]
				}
				return u
			}
		}
		u.Summary = "nothing: neither GITHUB_ACCESS_TOKEN nor GITHUB_TOKEN is set"
		u.Problem = "GitHub env credentials not found. Set GITHUB_ACCESS_TOKEN or GITHUB_TOKEN."
		return u
	case "stored":
		var s struct {
			Token auth.Present `json:"token"`
		}
		notFound := fmt.Sprintf("GitHub stored credentials not found. Run: alchemy login --profile %s --configure", x.Profile)
		file, problem := x.StoredFile(storedKey, &s, notFound)
		u := auth.Use{Summary: fmt.Sprintf("the token stored for profile '%s'", x.Profile), Instead: map[string]string{}, Problem: problem}
		for _, v := range []string{"GITHUB_ACCESS_TOKEN", "GITHUB_TOKEN", "GH_TOKEN"} {
			u.Instead[v] = x.ProfileUses("its stored token")
		}
		switch {
		case problem != "":
		case !bool(s.Token):
			file.Status, u.Problem = auth.StatusMissing, notFound
		default:
			u.Values = []auth.Provenance{{Name: "token", Secret: true, From: file.Source}}
		}
		u.Files = []auth.Considered{file}
		return u
	case "gh-cli":
		// gh runs with alchemy's process environment, where its own
		// variables come before its stored login (gh help environment).
		u := auth.Use{Summary: "the token `gh auth token` prints", Instead: map[string]string{
			"GITHUB_ACCESS_TOKEN": x.ProfileUses("the GitHub CLI, which does not read it"),
		}}
		gh := auth.Considered{Source: "`gh auth token`", Layer: auth.LayerExternal, Status: auth.StatusUsed,
			Why: "run at deploy, not by an explanation"}
		from := "the GitHub CLI's own login"
		switch {
		case x.Env.Layers("GH_TOKEN").FromProcess():
			u.ProcessOnly = []string{"GH_TOKEN"}
			u.Instead["GITHUB_TOKEN"] = "GH_TOKEN is set, and the GitHub CLI reads it first"
			from = "GH_TOKEN in the environment, through the GitHub CLI"
		case x.Env.Layers("GITHUB_TOKEN").FromProcess():
			u.ProcessOnly = []string{"GITHUB_TOKEN"}
			from = "GITHUB_TOKEN in the environment, through the GitHub CLI"
		default:
			u.ProcessOnly = []string{"GH_TOKEN", "GITHUB_TOKEN"}
		}
		u.Files = []auth.Considered{gh}
		u.Values = []auth.Provenance{{Name: "token", Secret: true, From: from}}
		return u
	}
	return x.UnknownMethod(Name, e.Method())
}
