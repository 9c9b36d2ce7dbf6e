package testpeers

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// AccountID is the AWS account id the emulate peer reports (GetCallerIdentity,
// ARNs of users and roles).
const AccountID = "123456789012"

// Emulate starts the npm `emulate` peer (vercel-labs emulate 0.12.2, AWS
// service: STS + IAM) on a free 127.0.0.1 port, on Node 24, and returns it
// once it answers HTTP. The process group is stopped in t.Cleanup.
//
// What it does and does not check (see the package tests): it performs no
// authentication at all. STS GetCallerIdentity answers
// arn:aws:iam::123456789012:user/admin for any access key, signed or not,
// including keys created and then deleted through IAM. To test code paths
// where STS rejects credentials, use STSRejectingUnknownKeys in front of it.
//
// A missing install fails the test (run ./scripts/test); it never skips.
func Emulate(t testing.TB) *Peer {
	t.Helper()
	dir, err := Dir()
	if err != nil {
		t.Fatalf("test peer emulate: %v", err)
	}
	node, err := Node24()
	if err != nil {
		t.Fatalf("test peer emulate: %v", err)
	}
	script := filepath.Join(dir, "node_modules", "emulate", "dist", "index.js")
	RequireInstalled(t, "emulate", node, script)

	// A port from FreePort can be taken by someone else before the peer
	// binds it; the peer then exits at once, and we try another port.
	for attempt := 1; ; attempt++ {
		port := strconv.Itoa(FreePort(t))
		base := "http://127.0.0.1:" + port
		argv := []string{node, script, "start",
			"-s", "aws",
			"-p", port,
			"--host", "127.0.0.1", // its default, but never let it change under us
			"--base-url", base, // advertised URLs (SQS queue URLs) say localhost otherwise
		}
		p, err := start(t, "emulate", argv, nil, base+"/")
		if err == nil {
			return p
		}
		if attempt == 3 || !errors.Is(err, errExitedEarly) || !strings.Contains(err.Error(), "EADDRINUSE") {
			t.Fatalf("%v", err)
		}
		t.Logf("retrying: %v", err)
	}
}

// STSEndpoint is the URL for AWS_ENDPOINT_URL_STS: URL + "/sts/".
func (p *Peer) STSEndpoint() string { return p.URL + "/sts/" }

// IAMEndpoint is the URL for AWS_ENDPOINT_URL_IAM: URL + "/iam/".
func (p *Peer) IAMEndpoint() string { return p.URL + "/iam/" }

// LeakGuardEndpoint is the catch-all AWS endpoint every AWS test sets, so that
// a client without its own AWS_ENDPOINT_URL_<SERVICE> fails fast on loopback
// instead of reaching for amazonaws.com.
const LeakGuardEndpoint = "http://127.0.0.1:1"

// AWSEnv returns the environment every AWS test must set, with STS and IAM
// pointed at this peer:
//
//	AWS_ENDPOINT_URL=http://127.0.0.1:1   (catch-all leak guard)
//	AWS_ENDPOINT_URL_STS=<URL>/sts/
//	AWS_ENDPOINT_URL_IAM=<URL>/iam/
//	AWS_EC2_METADATA_DISABLED=true        (no IMDS at 169.254.169.254)
//	AWS_REGION=us-east-1
func (p *Peer) AWSEnv() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL":          LeakGuardEndpoint,
		"AWS_ENDPOINT_URL_STS":      p.STSEndpoint(),
		"AWS_ENDPOINT_URL_IAM":      p.IAMEndpoint(),
		"AWS_EC2_METADATA_DISABLED": "true",
		"AWS_REGION":                "us-east-1",
	}
}

// SetAWSEnv is IsolateAWS with AWSEnv applied on top (STS and IAM pointed at
// this peer, region us-east-1). It returns the temp HOME. Like t.Setenv, it
// cannot be used in parallel tests.
func (p *Peer) SetAWSEnv(t testing.TB) (home string) {
	t.Helper()
	home = IsolateAWS(t)
	for k, v := range p.AWSEnv() {
		t.Setenv(k, v)
	}
	return home
}

// IsolateAWS sets what every AWS test must: the loopback leak guard as the
// catch-all endpoint, IMDS off, HOME, AWS_CONFIG_FILE and
// AWS_SHARED_CREDENTIALS_FILE in a fresh t.TempDir() (the files do not
// exist), and blank credential, profile and region variables a developer's
// shell may carry. It returns the temp HOME. Like t.Setenv, it cannot be
// used in parallel tests.
func IsolateAWS(t testing.TB) (home string) {
	t.Helper()
	home = t.TempDir()
	t.Setenv("AWS_ENDPOINT_URL", LeakGuardEndpoint)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("HOME", home)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(home, ".aws", "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, ".aws", "credentials"))
	for _, k := range []string{
		"AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_REGION", "AWS_DEFAULT_REGION",
	} {
		t.Setenv(k, "")
	}
	return home
}
