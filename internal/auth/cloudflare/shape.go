package cloudflare

import "github.com/alchemy-go/alchemy/internal/profile"

// Shape lays the Cloudflare entry and secrets out as the TypeScript tool's
// v1 file (profiles/<p>/cloudflare.json) does.
func (Provider) Shape() profile.Shape {
	return profile.Shape{
		Provider: Name,
		Order:    []string{"credentialType", "scopes", "accountId"},
		Docs: []profile.Doc{
			{Key: storedKey, Legacy: []string{"cloudflare-stored"}, Method: "stored",
				Fields: []string{"apiToken", "apiKey", "email", "accountId", "unchecked"}, TypeFrom: "credentialType"},
			{Key: oauthKey, Method: "oauth",
				Fields: []string{"clientId", "access", "refresh", "expires"}, Shared: []string{"scopes"}, Type: "oauth"},
		},
	}
}
