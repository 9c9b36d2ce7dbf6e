package s3link_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/alchemy-go/alchemy/internal/auth"
	awsauth "github.com/alchemy-go/alchemy/internal/auth/aws"
	"github.com/alchemy-go/alchemy/internal/state/backends"
	_ "github.com/alchemy-go/alchemy/internal/state/s3state/s3link"
	"github.com/alchemy-go/alchemy/internal/state/statetest"
	"github.com/alchemy-go/alchemy/internal/testpeers"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testpeers.StopVersitygw()
	os.Exit(code)
}

// An s3:// URL opens s3state (linked by importing s3link) with the AWS
// keys of the profile, behind the secret guard.
func TestOpenS3(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", testpeers.LeakGuardEndpoint)
	g := testpeers.Versitygw(t)
	ctx := context.Background()
	url := "s3://" + g.NewBucket(t) + "/team/state?region=" + testpeers.VersitygwRegion + "&endpoint=" + g.URL
	if _, err := backends.Open(ctx, url, backends.Options{}); err == nil || !strings.Contains(err.Error(), "needs AWS credentials") {
		t.Fatalf("backends.Open(s3://…) without an AWS configuration = %v", err)
	}
	wantErr := errors.New("not logged in")
	if _, err := backends.Open(ctx, url, backends.Options{AWSCredentials: func(context.Context, string) (backends.Credentials, error) { return nil, wantErr }}); !errors.Is(err, wantErr) {
		t.Fatalf("backends.Open(s3://…) when the profile cannot be opened = %v", err)
	}
	noAWS := func(context.Context, string) (auth.Credentials, error) { return nil, wantErr }
	if _, err := backends.Open(ctx, url, backends.Options{AWSCredentials: func(context.Context, string) (backends.Credentials, error) { return noAWS, nil }}); !errors.Is(err, wantErr) {
		t.Fatalf("backends.Open(s3://…) when the profile has no AWS credentials = %v", err)
	}
	// AWS_ENDPOINT_URL names the leak guard: the URL's endpoint wins.
	var asked, providers []string
	awsConfig := func(_ context.Context, profile string) (backends.Credentials, error) {
		asked = append(asked, profile)
		return func(_ context.Context, provider string) (auth.Credentials, error) {
			providers = append(providers, provider)
			return &awsauth.Credentials{AccessKeyID: testpeers.VersitygwAccessKeyID, SecretAccessKey: testpeers.VersitygwSecretAccessKey,
				Region: testpeers.VersitygwRegion}, nil
		}, nil
	}
	b, err := backends.Open(ctx, url, backends.Options{AWSCredentials: awsConfig})
	if err != nil {
		t.Fatal(err)
	}
	// ?profile= asks for that profile's credentials, and names it.
	if loc, err := backends.Parse(url+"&profile=state-admin", ""); err != nil || !strings.HasSuffix(loc.Display, "/team/state (profile state-admin)") {
		t.Errorf("backends.Parse(…&profile=state-admin) = %+v, %v", loc, err)
	}
	if ob, err := backends.Open(ctx, url+"&profile=state-admin", backends.Options{AWSCredentials: awsConfig}); err != nil {
		t.Fatal(err)
	} else {
		ob.Close()
	}
	if _, err := backends.Open(ctx, url+"&profile=../x", backends.Options{AWSCredentials: awsConfig}); err == nil || !strings.Contains(err.Error(), "is not a profile name") {
		t.Errorf("a hostile profile name in the URL: %v", err)
	}
	if strings.Join(asked, ",") != ",state-admin" {
		t.Errorf("AWSCredentials was asked for the profiles %q, want the selected one, then state-admin", asked)
	}
	if len(providers) == 0 || strings.Trim(strings.Join(providers, ","), "AWS,") != "" {
		t.Errorf("the store asked for the credentials of %q, want AWS's alone", providers)
	}
	defer b.Close()
	if d := b.Describe(); !strings.HasPrefix(d, "s3://") || !strings.HasSuffix(d, "/team/state") || strings.Contains(d, testpeers.VersitygwSecretAccessKey) {
		t.Errorf("Describe = %q", d)
	}
	statetest.Guarded(t, b, "S3", func(err error) bool {
		var se *backends.SecretError
		return errors.As(err, &se)
	})
}
