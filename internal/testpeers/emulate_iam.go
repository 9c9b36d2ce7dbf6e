package testpeers

import (
	"io"
	"net/http"
	"net/url"
	"testing"
)

// CreateRole creates an IAM role on the emulate peer that any principal may
// assume (its IAM takes unsigned query requests), so STS AssumeRole of
// arn:aws:iam::<AccountID>:role/<name> succeeds.
func (p *Peer) CreateRole(t testing.TB, name string) {
	t.Helper()
	form := url.Values{"Action": {"CreateRole"}, "Version": {"2010-05-08"}, "RoleName": {name},
		"AssumeRolePolicyDocument": {`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}`}}
	resp, err := http.PostForm(p.IAMEndpoint(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("CreateRole on emulate: %d %s", resp.StatusCode, b)
	}
}
