package aws

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"sync"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/envfile"
)

// caBundle is the PEM file of certificate authorities to trust instead of
// the system's, as the AWS SDKs and CLI take it: AWS_CA_BUNDLE (from the
// process environment only: a project's .env may not choose whom we
// trust), else the AWS profile's ca_bundle setting. "" for none.
func caBundle(env envfile.Source, profileSetting string) (path, from string) {
	if v := envfile.Get(env, "AWS_CA_BUNDLE"); v != "" {
		return v, "AWS_CA_BUNDLE"
	}
	if profileSetting != "" {
		return profileSetting, "ca_bundle of the AWS profile"
	}
	return "", ""
}

type caKey struct {
	base *http.Client
	path string
}

var caClients sync.Map // caKey -> *http.Client

// caClient is base when no CA bundle is set, else a client like base whose
// TLS trusts exactly the certificates of the bundle, as the SDK's
// WithCustomCABundle does (a corporate proxy's bundle carries the roots it
// re-signs with). One client per bundle and base, so connections are
// reused across calls.
func caClient(env envfile.Source, base *http.Client, profileSetting string) (*http.Client, error) {
	path, from := caBundle(env, profileSetting)
	if path == "" {
		return base, nil
	}
	if base == nil {
		base = http.DefaultClient
	}
	key := caKey{base, path}
	if c, ok := caClients.Load(key); ok {
		return c.(*http.Client), nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, auth.Errorf("%s names %s, which cannot be read (%v): point it at your proxy's CA bundle (a PEM file) or unset it", from, path, errors.Unwrap(err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, auth.Errorf("%s names %s, which holds no PEM certificate: point it at your proxy's CA bundle or unset it", from, path)
	}
	var tr *http.Transport
	if t, ok := base.Transport.(*http.Transport); ok {
		tr = t.Clone()
	} else if base.Transport == nil {
		tr = http.DefaultTransport.(*http.Transport).Clone()
	} else {
		return nil, auth.Errorf("%s is set, but this HTTP client's transport (%T) cannot take a CA bundle", from, base.Transport)
	}
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tr.TLSClientConfig.RootCAs = pool
	c := *base
	c.Transport = tr
	actual, _ := caClients.LoadOrStore(key, &c)
	return actual.(*http.Client), nil
}
