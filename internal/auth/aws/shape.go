package aws

import "github.com/alchemy-go/alchemy/internal/profile"

// Shape lays the AWS entry and secrets out as the TypeScript tool's v1
// file (profiles/<p>/aws.json) does. The stored keys' document was aws.json
// in the seed's layout; it is aws-stored.json now, the name the TypeScript
// tool reads when it migrates a v0 home, and aws.json is still read.
func (Provider) Shape() profile.Shape {
	return profile.Shape{
		Provider: Name,
		Order:    []string{"ssoProfile", "authorizationMethod"},
		Docs: []profile.Doc{
			{Key: storedKey, Legacy: []string{"aws"}, Method: "stored",
				Fields: []string{"accountId", "accessKeyId", "secretAccessKey", "sessionToken", "region"}},
		},
	}
}
