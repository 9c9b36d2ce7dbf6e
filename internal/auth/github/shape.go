package github

import "github.com/alchemy-go/alchemy/internal/profile"

// Shape lays the GitHub entry and secrets out as the TypeScript tool's v1
// file (profiles/<p>/github.json) does. That tool keeps the token `gh`
// printed in a gh-cli entry; it is carried along (as gh-cli-token) but
// never used here: this tool asks gh each time.
func (Provider) Shape() profile.Shape {
	return profile.Shape{
		Provider: Name,
		Docs: []profile.Doc{
			{Key: storedKey, Legacy: []string{"github-stored"}, Method: "stored", Fields: []string{"token"}, Type: "pat"},
			{Key: "gh-cli-token", Method: "gh-cli", Fields: []string{"token"}},
		},
	}
}
