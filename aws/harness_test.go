package aws_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/auth/bundled"
	"github.com/alchemy-go/alchemy/internal/cli"
	"github.com/alchemy-go/alchemy/internal/iostreams"
	"github.com/alchemy-go/alchemy/internal/testpeers"
	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

type result struct {
	code        int
	out, errOut string
}

// run runs the stack program's CLI in-process, as `go run alchemy.run.go
// args...` would, so credentials come from the AWS auth provider as in
// production.
func run(t *testing.T, prog *cli.StackProgram, args ...string) result {
	t.Helper()
	io, _, out, errOut := iostreams.Test()
	f := &cli.Factory{IO: io, Registry: bundled.Registry, Now: time.Now, Stack: prog}
	root := cli.NewRoot(f)
	root.SetArgs(args)
	code := cli.ExitCode(io, root.ExecuteContext(context.Background()))
	return result{code, out.String(), errOut.String()}
}

func mustRun(t *testing.T, prog *cli.StackProgram, args ...string) result {
	t.Helper()
	r := run(t, prog, args...)
	if r.code != 0 {
		t.Fatalf("%v: exit %d\n--- stdout ---\n%s\n--- stderr ---\n%s", args, r.code, r.out, r.errOut)
	}
	return r
}

// awsTestEnv isolates a test: a temp working dir (state in ./.alchemy), temp
// HOME, ALCHEMY_HOME and AWS files, CI mode with the S3RVER keys in the
// environment (the AWS env method), the loopback leak guard as the
// catch-all endpoint, and endpoints (AWS_ENDPOINT_URL_<SERVICE> => URL).
func awsTestEnv(t *testing.T, endpoints map[string]string) {
	dir := t.TempDir()
	t.Chdir(dir)
	for k, v := range map[string]string{
		"ALCHEMY_HOME":                        filepath.Join(dir, "home"),
		"HOME":                                filepath.Join(dir, "userhome"),
		"AWS_CONFIG_FILE":                     filepath.Join(dir, "userhome", ".aws", "config"),
		"AWS_SHARED_CREDENTIALS_FILE":         filepath.Join(dir, "userhome", ".aws", "credentials"),
		"ALCHEMY_PROFILE":                     "",
		"ALCHEMY_STAGE":                       "",
		"STAGE":                               "",
		"USER":                                "tester",
		"CI":                                  "true",
		"AWS_ACCESS_KEY_ID":                   testpeers.S3rverAccessKeyID,
		"AWS_SECRET_ACCESS_KEY":               testpeers.S3rverSecretAccessKey,
		"AWS_SESSION_TOKEN":                   "",
		"AWS_ACCOUNT_ID":                      "",
		"AWS_REGION":                          "us-east-1",
		"AWS_DEFAULT_REGION":                  "",
		"AWS_PROFILE":                         "",
		"AWS_DEFAULT_PROFILE":                 "",
		"AWS_ENDPOINT_URL":                    testpeers.LeakGuardEndpoint,
		"AWS_ENDPOINT_URL_S3":                 "",
		"AWS_ENDPOINT_URL_SQS":                "",
		"AWS_EC2_METADATA_DISABLED":           "true",
		"ALCHEMY_S3_TOLERATE_NOT_IMPLEMENTED": "",
	} {
		t.Setenv(k, v)
	}
	for k, v := range endpoints {
		t.Setenv(k, v)
	}
}

// sdkConfig is the config the tests inspect the peers' state with.
func sdkConfig(t *testing.T) sdkaws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(
			testpeers.S3rverAccessKeyID, testpeers.S3rverSecretAccessKey, "")))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
