package awssso

import (
	"html"
	"math"
	"net/http"
	"strings"
	"time"
)

const (
	grantDeviceCode   = "urn:ietf:params:oauth:grant-type:device_code"
	grantRefreshToken = "refresh_token"
)

// ceilSeconds reports d in whole seconds, rounded up (never negative).
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(math.Ceil(d.Seconds()))
}

// POST /client/register
func (s *Server) registerClient(rp *reply, r *http.Request) string {
	const op = "RegisterClient"
	var in struct {
		ClientName             string   `json:"clientName"`
		ClientType             string   `json:"clientType"`
		Scopes                 []string `json:"scopes"`
		RedirectUris           []string `json:"redirectUris"`
		GrantTypes             []string `json:"grantTypes"`
		IssuerURL              string   `json:"issuerUrl"`
		EntitledApplicationArn string   `json:"entitledApplicationArn"`
	}
	if err := decodeBody(r, &in); err != nil {
		rp.oidcError("InvalidRequestException", err.Error())
		return op
	}
	if in.ClientName == "" || in.ClientType == "" {
		rp.oidcError("InvalidRequestException", "clientName and clientType are required")
		return op
	}
	if in.ClientType != "public" {
		rp.oidcError("InvalidClientMetadataException", "Invalid client type: "+in.ClientType)
		return op
	}
	for _, g := range in.GrantTypes {
		switch g {
		case grantDeviceCode, grantRefreshToken, "authorization_code":
		default:
			rp.oidcError("InvalidClientMetadataException", "Invalid grant type: "+g)
			return op
		}
	}
	s.mu.Lock()
	c := s.registerLocked(in.ClientName, in.Scopes)
	s.mu.Unlock()
	rp.json(http.StatusOK, map[string]any{
		"clientId":              c.id,
		"clientSecret":          c.secret,
		"clientIdIssuedAt":      c.issuedAt.Unix(),
		"clientSecretExpiresAt": c.secretExpiresAt.Unix(),
	})
	return op
}

// clientLocked authenticates clientId/clientSecret; it answers
// InvalidClientException and returns nil when they do not match a live
// registration.
func (s *Server) clientLocked(rp *reply, id, secret string) *client {
	c := s.clients[id]
	if c == nil || c.secret != secret {
		rp.oidcError("InvalidClientException", "Invalid client provided")
		return nil
	}
	if !time.Now().Before(c.secretExpiresAt) {
		rp.oidcError("InvalidClientException", "Client secret has expired")
		return nil
	}
	return c
}

// POST /device_authorization
func (s *Server) startDeviceAuthorization(rp *reply, r *http.Request) string {
	const op = "StartDeviceAuthorization"
	var in struct {
		ClientID     string `json:"clientId"`
		ClientSecret string `json:"clientSecret"`
		StartURL     string `json:"startUrl"`
	}
	if err := decodeBody(r, &in); err != nil {
		rp.oidcError("InvalidRequestException", err.Error())
		return op
	}
	if in.ClientID == "" || in.ClientSecret == "" || in.StartURL == "" {
		rp.oidcError("InvalidRequestException", "clientId, clientSecret and startUrl are required")
		return op
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clientLocked(rp, in.ClientID, in.ClientSecret)
	if c == nil {
		return op
	}
	d := &deviceAuth{
		deviceCode: randToken("", 86),
		userCode:   randUserCode(),
		clientID:   c.id,
		startURL:   in.StartURL,
		expiresAt:  time.Now().Add(s.deviceTTL),
	}
	if s.autoApprove {
		d.state = deviceApproved
	}
	s.devices[d.deviceCode] = d
	s.deviceOrder = append(s.deviceOrder, d)
	verify := s.URL + "/device"
	rp.json(http.StatusOK, map[string]any{
		"deviceCode":              d.deviceCode,
		"userCode":                d.userCode,
		"verificationUri":         verify,
		"verificationUriComplete": verify + "?user_code=" + d.userCode,
		"expiresIn":               ceilSeconds(s.deviceTTL),
		"interval":                int64(pollInterval / time.Second),
	})
	return op
}

// POST /token
func (s *Server) createToken(rp *reply, r *http.Request) string {
	if r.URL.RawQuery != "" {
		// /token?aws_iam=t is CreateTokenWithIAM (SigV4-signed, for
		// trusted token issuers): not part of the CLI's SSO login.
		rp.oidcError("InvalidRequestException", "CreateTokenWithIAM is not supported by this fake")
		return "CreateTokenWithIAM"
	}
	var in struct {
		ClientID     string   `json:"clientId"`
		ClientSecret string   `json:"clientSecret"`
		GrantType    string   `json:"grantType"`
		DeviceCode   string   `json:"deviceCode"`
		Code         string   `json:"code"`
		RefreshToken string   `json:"refreshToken"`
		Scope        []string `json:"scope"`
		RedirectURI  string   `json:"redirectUri"`
		CodeVerifier string   `json:"codeVerifier"`
	}
	if err := decodeBody(r, &in); err != nil {
		rp.oidcError("InvalidRequestException", err.Error())
		return "CreateToken"
	}
	op := "CreateToken:" + in.GrantType
	switch in.GrantType {
	case grantDeviceCode:
		op = "CreateToken:device_code"
	case "":
		op = "CreateToken"
	}
	if in.ClientID == "" || in.ClientSecret == "" || in.GrantType == "" {
		rp.oidcError("InvalidRequestException", "clientId, clientSecret and grantType are required")
		return op
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clientLocked(rp, in.ClientID, in.ClientSecret)
	if c == nil {
		return op
	}
	switch in.GrantType {
	case grantDeviceCode:
		s.deviceCodeGrantLocked(rp, c, in.DeviceCode)
	case grantRefreshToken:
		s.refreshGrantLocked(rp, c, in.RefreshToken)
	default:
		rp.oidcError("UnsupportedGrantTypeException", "Unsupported grant type: "+in.GrantType)
	}
	return op
}

func (s *Server) deviceCodeGrantLocked(rp *reply, c *client, deviceCode string) {
	if deviceCode == "" {
		rp.oidcError("InvalidRequestException", "deviceCode is required for the device_code grant")
		return
	}
	d := s.devices[deviceCode]
	if d == nil || d.clientID != c.id {
		rp.oidcError("InvalidGrantException", "Invalid device code provided")
		return
	}
	now := time.Now()
	if !now.Before(d.expiresAt) {
		rp.oidcError("ExpiredTokenException", "Device code has expired")
		return
	}
	switch d.state {
	case devicePending:
		last := d.lastPoll
		d.lastPoll = now
		if !last.IsZero() && now.Sub(last) < pollInterval-slowDownSlack {
			rp.oidcError("SlowDownException", "Client is polling too frequently")
			return
		}
		rp.oidcError("AuthorizationPendingException", "Authorization is still pending")
	case deviceDenied:
		rp.oidcError("AccessDeniedException", "Authorization was denied by the user")
	case deviceRedeemed:
		rp.oidcError("InvalidGrantException", "Device code has already been used")
	case deviceApproved:
		d.state = deviceRedeemed
		sess := &session{startURL: d.startURL, clientID: c.id}
		s.sessions = append(s.sessions, sess)
		s.tokenResponseLocked(rp, sess, c.id)
	}
}

func (s *Server) refreshGrantLocked(rp *reply, c *client, refresh string) {
	if refresh == "" {
		rp.oidcError("InvalidRequestException", "refreshToken is required for the refresh_token grant")
		return
	}
	rt := s.refreshTokens[refresh]
	if rt == nil || rt.used || rt.sess.ended || rt.clientID != c.id {
		rp.oidcError("InvalidGrantException", "Invalid refresh token provided")
		return
	}
	rt.used = true // rotated: the old refresh token is single-use
	s.tokenResponseLocked(rp, rt.sess, c.id)
}

func (s *Server) tokenResponseLocked(rp *reply, sess *session, clientID string) {
	at, _ := s.newAccessTokenLocked(sess)
	rt := s.newRefreshTokenLocked(sess, clientID)
	rp.json(http.StatusOK, map[string]any{
		"accessToken":  at,
		"tokenType":    "Bearer",
		"expiresIn":    ceilSeconds(s.accessTTL),
		"refreshToken": rt,
	})
}

// GET /device?user_code=X shows the state of a device authorization; POST
// /device with form fields user_code and action=approve|deny is the user's
// decision, for tests that drive the "browser" over HTTP. Approve and Deny
// do the same from Go.
func (s *Server) verificationPage(rp *reply, r *http.Request) string {
	const op = "VerificationPage"
	code := r.FormValue("user_code")
	switch r.Method {
	case http.MethodGet:
		state := "unknown"
		s.mu.Lock()
		for _, d := range s.deviceOrder {
			if d.userCode == code {
				state = [...]string{"pending", "approved", "denied", "approved"}[d.state]
				if d.state == devicePending && !time.Now().Before(d.expiresAt) {
					state = "expired"
				}
			}
		}
		s.mu.Unlock()
		rp.w.Header().Set("Content-Type", "text/html; charset=utf-8")
		rp.status = http.StatusOK
		rp.w.WriteHeader(http.StatusOK)
		_, _ = rp.w.Write([]byte("<!doctype html><title>Authorize request</title><p>Fake IAM Identity Center. User code <code>" +
			html.EscapeString(code) + "</code>: " + state + ".</p>"))
	case http.MethodPost:
		var err error
		switch strings.ToLower(r.FormValue("action")) {
		case "approve":
			err = s.Approve(code)
		case "deny":
			err = s.Deny(code)
		default:
			rp.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			rp.status = http.StatusBadRequest
			rp.w.WriteHeader(http.StatusBadRequest)
			_, _ = rp.w.Write([]byte("action must be approve or deny\n"))
			return op
		}
		rp.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err != nil {
			rp.status = http.StatusBadRequest
			rp.w.WriteHeader(http.StatusBadRequest)
			_, _ = rp.w.Write([]byte(err.Error() + "\n"))
			return op
		}
		rp.status = http.StatusOK
		rp.w.WriteHeader(http.StatusOK)
		_, _ = rp.w.Write([]byte("ok\n"))
	default:
		rp.empty(http.StatusMethodNotAllowed)
	}
	return op
}
