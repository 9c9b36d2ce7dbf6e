package testpeers

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// STSGate is a loopback proxy in front of a peer's STS endpoint that adds the
// one check emulate lacks: emulate's STS accepts every access key, so tests
// of "credentials that STS rejects are not saved" put this gate in between.
//
// A request passes to the peer when its SigV4 access key id is in the allow
// list given to STSRejectingUnknownKeys, or is an Active access key in the
// peer's IAM at the time of the request (created by IAM CreateAccessKey and
// not deleted). Any other request gets what AWS answers for an unknown key:
// HTTP 403, awsQuery error code InvalidClientTokenId. A request with no
// access key at all gets 403 MissingAuthenticationToken. The secret and the
// signature are not checked.
//
// emulate knows one account (AccountID). MapAccount gives a key another one:
// the gate allows the key and rewrites that account in the peer's answers to
// it, so two key pairs can belong to two accounts (tests of a stage bound to
// an AWS account).
type STSGate struct {
	// Endpoint is the URL for AWS_ENDPOINT_URL_STS (it ends in "/sts/").
	Endpoint string

	peer  *Peer
	allow []string

	mu       sync.Mutex
	seen     []string
	accounts map[string]string // access key id -> account id
}

// MapAccount makes STS answer, for access key akid, that it belongs to
// account (a 12-digit id) rather than to emulate's AccountID. The key is
// allowed through the gate from then on.
func (g *STSGate) MapAccount(akid, account string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.accounts[akid] = account
}

func (g *STSGate) accountOf(akid string) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	a, ok := g.accounts[akid]
	return a, ok
}

// rewriteAccount replaces emulate's account id in an answer to a mapped
// key: the <Account> element and the account field of ARNs.
func (g *STSGate) rewriteAccount(resp *http.Response) error {
	account, ok := g.accountOf(accessKeyID(resp.Request))
	if !ok {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	text := strings.ReplaceAll(string(body), "<Account>"+AccountID+"</Account>", "<Account>"+account+"</Account>")
	text = strings.ReplaceAll(text, ":"+AccountID+":", ":"+account+":")
	resp.Body = io.NopCloser(strings.NewReader(text))
	resp.ContentLength = int64(len(text))
	resp.Header.Set("Content-Length", strconv.Itoa(len(text)))
	return nil
}

// STSRejectingUnknownKeys starts an STSGate in front of p (see STSGate) and
// closes it in t.Cleanup. Point the SDK at it after SetAWSEnv:
//
//	gate := p.STSRejectingUnknownKeys(t, "AKIDGOOD")
//	t.Setenv("AWS_ENDPOINT_URL_STS", gate.Endpoint)
func (p *Peer) STSRejectingUnknownKeys(t testing.TB, allow ...string) *STSGate {
	t.Helper()
	target, err := url.Parse(p.URL)
	if err != nil {
		t.Fatalf("testpeers: STS gate: %v", err)
	}
	g := &STSGate{peer: p, allow: slices.Clone(allow), accounts: map[string]string{}}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = loopbackTransport()
	proxy.ModifyResponse = g.rewriteAccount
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		akid := accessKeyID(r)
		g.mu.Lock()
		g.seen = append(g.seen, akid)
		g.mu.Unlock()
		_, mapped := g.accountOf(akid)
		switch {
		case akid == "":
			writeSTSError(w, "MissingAuthenticationToken", "Request is missing Authentication Token")
			return
		case slices.Contains(g.allow, akid) || mapped:
		default:
			ok, err := g.activeIAMKey(akid)
			if err != nil {
				http.Error(w, "testpeers STS gate: "+err.Error(), http.StatusBadGateway)
				return
			}
			if !ok {
				writeSTSError(w, "InvalidClientTokenId", "The security token included in the request is invalid.")
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	g.Endpoint = srv.URL + "/sts/"
	return g
}

// AccessKeyIDs returns the access key id of every request the gate has seen,
// in order, passed or rejected ("" for an unsigned request).
func (g *STSGate) AccessKeyIDs() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.seen)
}

var sigV4Credential = regexp.MustCompile(`Credential=([^/,\s]+)/`)

// accessKeyID extracts the access key id from a SigV4 Authorization header or
// from a presigned URL's X-Amz-Credential.
func accessKeyID(r *http.Request) string {
	if m := sigV4Credential.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		return m[1]
	}
	if c := r.URL.Query().Get("X-Amz-Credential"); c != "" {
		return strings.SplitN(c, "/", 2)[0]
	}
	return ""
}

func writeSTSError(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>%s</Code>
    <Message>%s</Message>
  </Error>
  <RequestId>00000000-0000-0000-0000-000000000000</RequestId>
</ErrorResponse>
`, code, msg)
}

// activeIAMKey asks the peer's IAM (unsigned: emulate does not check) whether
// akid is an Active access key of any user.
func (g *STSGate) activeIAMKey(akid string) (bool, error) {
	var users struct {
		Names []string `xml:"ListUsersResult>Users>member>UserName"`
	}
	if err := g.iam(url.Values{"Action": {"ListUsers"}}, &users); err != nil {
		return false, err
	}
	for _, u := range users.Names {
		var keys struct {
			Keys []struct {
				ID     string `xml:"AccessKeyId"`
				Status string `xml:"Status"`
			} `xml:"ListAccessKeysResult>AccessKeyMetadata>member"`
		}
		if err := g.iam(url.Values{"Action": {"ListAccessKeys"}, "UserName": {u}}, &keys); err != nil {
			return false, err
		}
		for _, k := range keys.Keys {
			if k.ID == akid && k.Status == "Active" {
				return true, nil
			}
		}
	}
	return false, nil
}

func (g *STSGate) iam(form url.Values, into any) error {
	form.Set("Version", "2010-05-08")
	client := &http.Client{Transport: loopbackTransport(), Timeout: 10 * time.Second}
	resp, err := client.PostForm(g.peer.IAMEndpoint(), form)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("IAM %s: %s: %s", form.Get("Action"), resp.Status, body)
	}
	return xml.Unmarshal(body, into)
}

// loopbackTransport is an HTTP transport that never uses a proxy from the env.
func loopbackTransport() *http.Transport {
	return &http.Transport{Proxy: nil, DisableKeepAlives: true}
}
