package aws

import (
	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/profile"
)

// Shape lays the AWS entry and secrets out as the TypeScript tool's v1
// file (profiles/<p>/aws.json) does: profile.AWSShape, which every profile
// store knows.
func (Provider) Shape() profile.Shape { return profile.AWSShape() }

// Importing this package links the provider into the program (auth.Link):
// a stack program has the built-in providers its resources use.
func init() { auth.Link(Provider{}) }
