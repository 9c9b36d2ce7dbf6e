package cli

import (
	"context"
	"fmt"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/state/backends"
)

// stateAWS is backends.Options.AWSCredentials: for "", the credentials of
// the profile the command runs with (current, or opened now when the
// command has no session of its own: outputs, `alchemy state`); for a
// profile an s3:// URL names (?profile=), that profile's, chosen as
// explicitly as --profile (so honoured under CI) and never bound to the
// stage: state may live in an account of its own. The S3 store
// (internal/state/s3state/s3link) asks them for the AWS provider's keys.
func (f *Factory) stateAWS(p *ProfileFlags, current backends.Credentials) func(ctx context.Context, profile string) (backends.Credentials, error) {
	return func(ctx context.Context, name string) (backends.Credentials, error) {
		if name == "" && current != nil {
			return current, nil
		}
		q := *p
		if name != "" {
			q.Profile, q.profileSet = name, true
		}
		s, err := f.session(&q)
		if err != nil {
			return nil, fmt.Errorf("credentials for the S3 state store: %w", err)
		}
		return auth.NewResolver(s.Auth, f.Registry(), s.envOnly()).Credentials, nil
	}
}
