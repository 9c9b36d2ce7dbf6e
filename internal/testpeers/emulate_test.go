package testpeers

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// callerIdentity calls STS GetCallerIdentity through the real SDK, with the
// default config chain (so the env from SetAWSEnv applies) and static keys.
func callerIdentity(t *testing.T, akid, secret, token string) (*sts.GetCallerIdentityOutput, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(akid, secret, token)))
	if err != nil {
		t.Fatalf("LoadDefaultConfig: %v", err)
	}
	return sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
}

// processGone reports whether pid no longer runs (absent, or a zombie that
// only waits for its parent to reap it).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// Format: pid (comm) state ...; comm may hold spaces or parens.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

func TestEmulateGetCallerIdentity(t *testing.T) {
	var pid int
	var base string
	t.Run("running", func(t *testing.T) {
		started := time.Now()
		p := Emulate(t)
		t.Logf("emulate ready at %s (pid %d) in %v", p.URL, p.PID, time.Since(started).Round(time.Millisecond))
		pid, base = p.PID, p.URL

		if !strings.HasPrefix(p.URL, "http://127.0.0.1:") {
			t.Fatalf("URL = %q, want http://127.0.0.1:PORT", p.URL)
		}
		if got, want := p.STSEndpoint(), p.URL+"/sts/"; got != want {
			t.Errorf("STSEndpoint = %q, want %q", got, want)
		}
		if got, want := p.IAMEndpoint(), p.URL+"/iam/"; got != want {
			t.Errorf("IAMEndpoint = %q, want %q", got, want)
		}
		env := p.AWSEnv()
		for k, want := range map[string]string{
			"AWS_ENDPOINT_URL":          "http://127.0.0.1:1",
			"AWS_ENDPOINT_URL_STS":      p.STSEndpoint(),
			"AWS_ENDPOINT_URL_IAM":      p.IAMEndpoint(),
			"AWS_EC2_METADATA_DISABLED": "true",
			"AWS_REGION":                "us-east-1",
		} {
			if env[k] != want {
				t.Errorf("AWSEnv()[%s] = %q, want %q", k, env[k], want)
			}
		}
		if len(env) != 5 {
			t.Errorf("AWSEnv() has %d entries, want 5: %v", len(env), env)
		}

		p.SetAWSEnv(t)
		out, err := callerIdentity(t, "AKIDEXAMPLE", "secret", "")
		if err != nil {
			t.Fatalf("GetCallerIdentity: %v", err)
		}
		if got := aws.ToString(out.Account); got != AccountID {
			t.Errorf("Account = %q, want %q", got, AccountID)
		}
		if got, want := aws.ToString(out.Arn), "arn:aws:iam::123456789012:user/admin"; got != want {
			t.Errorf("Arn = %q, want %q", got, want)
		}
	})
	if pid == 0 {
		t.Fatal("subtest did not start the peer")
	}
	if !processGone(pid) {
		t.Errorf("emulate pid %d still running after cleanup", pid)
	}
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after cleanup", base)
	}
}

// iamCall sends a raw IAM query-protocol request (emulate checks no
// signature, and service/iam is not a dependency of this module).
func iamCall(t *testing.T, p *Peer, action string, params url.Values) []byte {
	t.Helper()
	form := url.Values{"Action": {action}, "Version": {"2010-05-08"}}
	for k, v := range params {
		form[k] = v
	}
	resp, err := http.PostForm(p.IAMEndpoint(), form)
	if err != nil {
		t.Fatalf("IAM %s: %v", action, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("IAM %s: %s\n%s", action, resp.Status, body)
	}
	return body
}

type createAccessKeyResponse struct {
	AccessKeyID     string `xml:"CreateAccessKeyResult>AccessKey>AccessKeyId"`
	SecretAccessKey string `xml:"CreateAccessKeyResult>AccessKey>SecretAccessKey"`
}

// TestEmulateSTSAcceptsAnyKey pins down the peer's (lack of) STS auth, so that
// tests relying on it learn when a new emulate version changes it: every key
// is accepted and always maps to user/admin, whether it was never issued,
// issued by IAM CreateAccessKey, or issued and then deleted.
func TestEmulateSTSAcceptsAnyKey(t *testing.T) {
	p := Emulate(t)
	p.SetAWSEnv(t)

	iamCall(t, p, "CreateUser", url.Values{"UserName": {"deployer"}})
	var key createAccessKeyResponse
	if err := xml.Unmarshal(iamCall(t, p, "CreateAccessKey", url.Values{"UserName": {"deployer"}}), &key); err != nil {
		t.Fatalf("CreateAccessKey response: %v", err)
	}
	if !strings.HasPrefix(key.AccessKeyID, "AKIA") || key.SecretAccessKey == "" {
		t.Fatalf("CreateAccessKey gave %+v", key)
	}

	check := func(name, akid, secret string) {
		t.Helper()
		out, err := callerIdentity(t, akid, secret, "")
		if err != nil {
			t.Errorf("%s: GetCallerIdentity rejected %s: %v", name, akid, err)
			return
		}
		if got, want := aws.ToString(out.Arn), "arn:aws:iam::123456789012:user/admin"; got != want {
			t.Errorf("%s: Arn = %q, want %q", name, got, want)
		}
	}
	check("never issued", "AKIANEVERISSUED0000", "wrong")
	check("IAM-created", key.AccessKeyID, key.SecretAccessKey)
	check("IAM-created, wrong secret", key.AccessKeyID, "not-the-secret")

	iamCall(t, p, "DeleteAccessKey", url.Values{"UserName": {"deployer"}, "AccessKeyId": {key.AccessKeyID}})
	check("deleted", key.AccessKeyID, key.SecretAccessKey)

	// No Authorization header at all.
	resp, err := http.PostForm(p.STSEndpoint(), url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "<Account>123456789012</Account>") {
		t.Errorf("unsigned GetCallerIdentity: %s\n%s", resp.Status, body)
	}
}

func TestEmulateNotInstalledFails(t *testing.T) {
	t.Setenv(EnvDir, t.TempDir())
	t.Setenv(EnvNode24, "")
	msg, skipped := runFatal(t, func(tb testing.TB) { Emulate(tb) })
	if skipped {
		t.Fatal("Emulate skipped; a missing peer must fail")
	}
	want := "test peer emulate is not installed: run ./scripts/test (it installs testpeers/ with npm ci)"
	if msg != want {
		t.Fatalf("Fatalf message = %q, want %q", msg, want)
	}
}

// fatalRecorder is a testing.TB whose Fatal/Skip end only the goroutine
// running the function under test, and record why.
type fatalRecorder struct {
	testing.TB
	msg     string
	skipped bool
}

func (f *fatalRecorder) Helper()             {}
func (f *fatalRecorder) Logf(string, ...any) {}
func (f *fatalRecorder) Fatalf(format string, a ...any) {
	f.msg = fmt.Sprintf(format, a...)
	runtime.Goexit()
}
func (f *fatalRecorder) Fatal(a ...any)                 { f.msg = fmt.Sprint(a...); runtime.Goexit() }
func (f *fatalRecorder) Skipf(format string, a ...any)  { f.skipped = true; runtime.Goexit() }
func (f *fatalRecorder) Skip(a ...any)                  { f.skipped = true; runtime.Goexit() }
func (f *fatalRecorder) SkipNow()                       { f.skipped = true; runtime.Goexit() }
func (f *fatalRecorder) Errorf(format string, a ...any) { f.msg = fmt.Sprintf(format, a...) }

func runFatal(t *testing.T, fn func(testing.TB)) (msg string, skipped bool) {
	t.Helper()
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(rec)
	}()
	<-done
	return rec.msg, rec.skipped
}

func TestSTSRejectingUnknownKeys(t *testing.T) {
	p := Emulate(t)
	p.SetAWSEnv(t)
	gate := p.STSRejectingUnknownKeys(t, "AKIDGOOD")
	t.Setenv("AWS_ENDPOINT_URL_STS", gate.Endpoint)

	accepted := func(name, akid, secret string) {
		t.Helper()
		out, err := callerIdentity(t, akid, secret, "")
		if err != nil {
			t.Errorf("%s: GetCallerIdentity with %s: %v", name, akid, err)
		} else if got := aws.ToString(out.Account); got != AccountID {
			t.Errorf("%s: Account = %q", name, got)
		}
	}
	rejected := func(name, akid string) {
		t.Helper()
		_, err := callerIdentity(t, akid, "whatever", "")
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidClientTokenId" {
			t.Errorf("%s: GetCallerIdentity with %s: err = %v, want InvalidClientTokenId", name, akid, err)
		}
	}

	accepted("allow-listed", "AKIDGOOD", "secret")
	rejected("unknown", "AKIDBAD")

	iamCall(t, p, "CreateUser", url.Values{"UserName": {"deployer"}})
	var key createAccessKeyResponse
	if err := xml.Unmarshal(iamCall(t, p, "CreateAccessKey", url.Values{"UserName": {"deployer"}}), &key); err != nil {
		t.Fatal(err)
	}
	accepted("IAM-created", key.AccessKeyID, key.SecretAccessKey)
	iamCall(t, p, "DeleteAccessKey", url.Values{"UserName": {"deployer"}, "AccessKeyId": {key.AccessKeyID}})
	rejected("deleted", key.AccessKeyID)

	want := []string{"AKIDGOOD", "AKIDBAD", key.AccessKeyID, key.AccessKeyID}
	if got := gate.AccessKeyIDs(); !slices.Equal(got, want) {
		t.Errorf("AccessKeyIDs() = %v, want %v", got, want)
	}

	resp, err := http.PostForm(gate.Endpoint, url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "MissingAuthenticationToken") {
		t.Errorf("unsigned request through the gate: %s\n%s", resp.Status, body)
	}
}

func TestSTSGateMapAccount(t *testing.T) {
	p := Emulate(t)
	p.SetAWSEnv(t)
	gate := p.STSRejectingUnknownKeys(t, "AKIDEMULATE")
	gate.MapAccount("AKIDPROD", "111122223333")
	t.Setenv("AWS_ENDPOINT_URL_STS", gate.Endpoint)

	for _, c := range []struct{ akid, account string }{
		{"AKIDPROD", "111122223333"},
		{"AKIDEMULATE", AccountID},
	} {
		out, err := callerIdentity(t, c.akid, "secret", "")
		if err != nil {
			t.Fatalf("GetCallerIdentity with %s: %v", c.akid, err)
		}
		if got := aws.ToString(out.Account); got != c.account {
			t.Errorf("%s: Account = %q, want %q", c.akid, got, c.account)
		}
		if arn := aws.ToString(out.Arn); !strings.HasPrefix(arn, "arn:aws:iam::"+c.account+":") {
			t.Errorf("%s: Arn = %q, want account %s", c.akid, arn, c.account)
		}
	}
}
