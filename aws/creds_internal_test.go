package aws

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/internal/auth"
	awsauth "github.com/alchemy-go/alchemy/internal/auth/aws"
	"github.com/alchemy-go/alchemy/internal/engine"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Clients get their keys from one credentials cache per run over the
// profile's resolver: keys that expire during a long call are resolved
// again by the SDK, and every client of the run shares one resolution.
func TestCredentialsRefreshedThroughOneCache(t *testing.T) {
	var resolved atomic.Int32
	lifetime := auth.RefreshWindow + 200*time.Millisecond
	refresh := engine.NewRefresher("AWS", func(context.Context, string) (auth.Credentials, error) {
		n := resolved.Add(1)
		return &awsauth.Credentials{AccessKeyID: fmt.Sprintf("ASIA%04d", n), SecretAccessKey: "s", SessionToken: "t",
			Region: "eu-west-1", ExpiresAt: time.Now().Add(lifetime)}, nil
	})
	first, _ := refresh.Retrieve(context.Background())
	ctx := context.Background()
	a, err := sdkConfig(ctx, first, refresh)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sdkConfig(ctx, first, refresh)
	if err != nil {
		t.Fatal(err)
	}
	if a.Region != "eu-west-1" {
		t.Fatalf("region = %q", a.Region)
	}
	k1, err := a.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := b.Credentials.Retrieve(ctx)
	if k1.AccessKeyID != k2.AccessKeyID || resolved.Load() != 2 {
		t.Fatalf("two clients of one run resolved separately: %s %s (%d resolutions)", k1.AccessKeyID, k2.AccessKeyID, resolved.Load())
	}
	if !k1.CanExpire {
		t.Fatal("expiring credentials handed to the SDK as never expiring")
	}
	// Past the expiry window, the SDK asks again and gets new keys.
	time.Sleep(300 * time.Millisecond)
	k3, err := a.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if k3.AccessKeyID == k1.AccessKeyID {
		t.Fatalf("expired credentials not refreshed: still %s", k3.AccessKeyID)
	}
	// Another run (another Refresher) has its own cache.
	other := engine.NewRefresher("AWS", func(context.Context, string) (auth.Credentials, error) {
		return &awsauth.Credentials{AccessKeyID: "AKIAOTHER", SecretAccessKey: "s"}, nil
	})
	c, _ := sdkConfig(ctx, first, other)
	if k, _ := c.Credentials.Retrieve(ctx); k.AccessKeyID != "AKIAOTHER" {
		t.Fatalf("another run shared a cache: %s", k.AccessKeyID)
	}
}

// A create retried after an attempt that got no answer, then told the name
// is taken, may have made the resource itself: the error says so
// (ErrMaybeCreated). After a throttle, which was never processed, it does
// not.
func TestCreateCallKnowsALostAnswer(t *testing.T) {
	taken := &smithy.GenericAPIError{Code: "BucketAlreadyOwnedByYou"}
	isTaken := func(err error) bool { return hasCode(err, "BucketAlreadyOwnedByYou") }
	for _, tc := range []struct {
		name  string
		first error
		maybe bool
	}{
		{"connection reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, true},
		{"503", &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 503}}, Err: &smithy.GenericAPIError{Code: "ServiceUnavailable"}}, true},
		{"throttled", &smithy.GenericAPIError{Code: "ThrottlingException"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			_, err := createCall(context.Background(), func() (struct{}, error) {
				calls++
				if calls == 1 {
					return struct{}{}, tc.first
				}
				return struct{}{}, taken
			}, isTaken)
			if calls != 2 || !isTaken(err) || errors.Is(err, alchemy.ErrMaybeCreated) != tc.maybe {
				t.Fatalf("calls %d, err %v (maybe created: %v, want %v)", calls, err, errors.Is(err, alchemy.ErrMaybeCreated), tc.maybe)
			}
		})
	}
	// Taken at the first attempt: someone else's, as far as we know.
	_, err := createCall(context.Background(), func() (struct{}, error) { return struct{}{}, taken }, isTaken)
	if errors.Is(err, alchemy.ErrMaybeCreated) {
		t.Fatal("a first-attempt conflict marked as maybe ours")
	}
}
