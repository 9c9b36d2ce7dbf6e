//go:build !alchemy_nos3

package alchemy

// A stack program links the S3 state store (and the AWS auth provider that
// signs its requests) unless it is built with the alchemy_nos3 tag, as the
// alchemy command builds stacks whose state is not on S3. `go run
// alchemy.run.go` links it.
import _ "github.com/alchemy-go/alchemy/internal/state/s3state/s3link"
