package profile

// The built-in providers' shapes live here, not with the providers, and
// every Store knows them (New): a program that links none of those
// providers (a stack program that uses no cloud) still keeps their files
// exactly as the TypeScript tool lays them out when it migrates or settles
// a home. Each provider's Shape method returns its own from here.

// AWSShape lays the AWS entry and secrets out as the TypeScript tool's v1
// file (profiles/<p>/aws.json) does. The stored keys' document was aws.json
// in the seed's layout; it is aws-stored.json now, the name the TypeScript
// tool reads when it migrates a v0 home, and aws.json is still read.
func AWSShape() Shape {
	return Shape{
		Provider: "AWS",
		Order:    []string{"ssoProfile", "authorizationMethod"},
		Docs: []Doc{
			{Key: "aws-stored", Legacy: []string{"aws"}, Method: "stored",
				Fields: []string{"accountId", "accessKeyId", "secretAccessKey", "sessionToken", "region"}},
		},
	}
}

// CloudflareShape lays the Cloudflare entry and secrets out as the
// TypeScript tool's v1 file (profiles/<p>/cloudflare.json) does.
func CloudflareShape() Shape {
	return Shape{
		Provider: "Cloudflare",
		Order:    []string{"credentialType", "scopes", "accountId"},
		Docs: []Doc{
			{Key: "cf-stored", Legacy: []string{"cloudflare-stored"}, Method: "stored",
				Fields: []string{"apiToken", "apiKey", "email", "accountId", "unchecked"}, TypeFrom: "credentialType"},
			{Key: "cf-oauth", Method: "oauth",
				Fields: []string{"clientId", "access", "refresh", "expires"}, Shared: []string{"scopes"}, Type: "oauth"},
		},
	}
}

// GitHubShape lays the GitHub entry and secrets out as the TypeScript
// tool's v1 file (profiles/<p>/github.json) does. That tool keeps the token
// `gh` printed in a gh-cli entry; it is carried along (as gh-cli-token) but
// never used here: this tool asks gh each time.
func GitHubShape() Shape {
	return Shape{
		Provider: "GitHub",
		Docs: []Doc{
			{Key: "gh-stored", Legacy: []string{"github-stored"}, Method: "stored", Fields: []string{"token"}, Type: "pat"},
			{Key: "gh-cli-token", Method: "gh-cli", Fields: []string{"token"}},
		},
	}
}
