package backends

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/alchemy-go/alchemy/internal/secret"
	"github.com/alchemy-go/alchemy/internal/state"
	"github.com/alchemy-go/alchemy/internal/state/statetest"
	"github.com/alchemy-go/alchemy/internal/testpeers"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testpeers.StopVersitygw()
	os.Exit(code)
}

// An s3:// URL opens s3state with the profile's AWS configuration, behind
// the secret guard.
func TestOpenS3(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", testpeers.LeakGuardEndpoint)
	g := testpeers.Versitygw(t)
	ctx := context.Background()
	url := "s3://" + g.NewBucket(t) + "/team/state?region=" + testpeers.VersitygwRegion + "&endpoint=" + g.URL
	if _, err := Open(ctx, url, Options{}); err == nil || !strings.Contains(err.Error(), "needs AWS credentials") {
		t.Fatalf("Open(s3://…) without an AWS configuration = %v", err)
	}
	wantErr := errors.New("not logged in")
	if _, err := Open(ctx, url, Options{AWSConfig: func(context.Context, string) (aws.Config, error) { return aws.Config{}, wantErr }}); !errors.Is(err, wantErr) {
		t.Fatalf("Open(s3://…) when the profile has no AWS credentials = %v", err)
	}
	cfg := g.Config()
	cfg.BaseEndpoint = aws.String(testpeers.LeakGuardEndpoint) // the URL's endpoint wins
	var asked []string
	awsConfig := func(_ context.Context, profile string) (aws.Config, error) {
		asked = append(asked, profile)
		return cfg, nil
	}
	b, err := Open(ctx, url, Options{AWSConfig: awsConfig})
	if err != nil {
		t.Fatal(err)
	}
	// ?profile= asks for that profile's credentials, and names it.
	if loc, err := Parse(url+"&profile=state-admin", ""); err != nil || !strings.HasSuffix(loc.Display, "/team/state (profile state-admin)") {
		t.Errorf("Parse(…&profile=state-admin) = %+v, %v", loc, err)
	}
	if ob, err := Open(ctx, url+"&profile=state-admin", Options{AWSConfig: awsConfig}); err != nil {
		t.Fatal(err)
	} else {
		ob.Close()
	}
	if _, err := Open(ctx, url+"&profile=../x", Options{AWSConfig: awsConfig}); err == nil || !strings.Contains(err.Error(), "is not a profile name") {
		t.Errorf("a hostile profile name in the URL: %v", err)
	}
	if strings.Join(asked, ",") != ",state-admin" {
		t.Errorf("AWSConfig was asked for the profiles %q, want the selected one, then state-admin", asked)
	}
	defer b.Close()
	if d := b.Describe(); !strings.HasPrefix(d, "s3://") || !strings.HasSuffix(d, "/team/state") || strings.Contains(d, testpeers.VersitygwSecretAccessKey) {
		t.Errorf("Describe = %q", d)
	}
	hashed, _ := secret.New("", t.TempDir()).Seal(secret.Where{}, "s3cr3t-value")
	out, _ := json.Marshal(map[string]any{"token": hashed})
	var se *SecretError
	if err := b.SetOutput(ctx, "app", "dev", out); !errors.As(err, &se) {
		t.Errorf("a hashed secret written to S3 without a password: %v", err)
	}
	l, err := b.Acquire(ctx, "app", "dev", state.LeaseOptions{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if err := l.Store().Set(ctx, "app", "dev", statetest.Row("R", state.Created)); err != nil {
		t.Fatal(err)
	}
	if err := state.Flush(ctx, l.Store()); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.(state.BulkReader); !ok {
		t.Error("the guard hides s3state's one-read stage load")
	}
	if rows, err := state.LoadAll(ctx, b, "app", "dev"); err != nil || len(rows) != 1 {
		t.Errorf("LoadAll = %v, %v", rows, err)
	}
	if err := l.Store().SetOutput(ctx, "app", "dev", out); !errors.As(err, &se) {
		t.Errorf("a hashed secret written through an S3 lease without a password: %v", err)
	}
}
