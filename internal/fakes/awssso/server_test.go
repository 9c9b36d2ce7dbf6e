package awssso_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sso"
	ssotypes "github.com/aws/aws-sdk-go-v2/service/sso/types"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
	oidctypes "github.com/aws/aws-sdk-go-v2/service/ssooidc/types"
	"github.com/aws/smithy-go"

	"github.com/alchemy-go/alchemy/internal/fakes/awssso"
	"github.com/alchemy-go/alchemy/internal/testpeers"
)

const (
	deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"
	startURL    = "https://d-1234567890.awsapps.com/start"
	accountID   = "111122223333"
	roleName    = "Admin"
)

// leakGuards points every AWS client away from the network and the real
// home directory.
func leakGuards(t *testing.T) string {
	t.Helper()
	home := testpeers.IsolateAWS(t)
	t.Setenv("AWS_ENDPOINT_URL_SSO", "")
	t.Setenv("AWS_ENDPOINT_URL_SSO_OIDC", "")
	return home
}

func clients(s *awssso.Server) (*ssooidc.Client, *sso.Client) {
	cfg := aws.Config{Region: "us-east-1", Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1}
	o := ssooidc.NewFromConfig(cfg, func(o *ssooidc.Options) { o.BaseEndpoint = aws.String(s.URL) })
	p := sso.NewFromConfig(cfg, func(o *sso.Options) { o.BaseEndpoint = aws.String(s.URL) })
	return o, p
}

type login struct {
	clientID, clientSecret string
	deviceCode, userCode   string
}

func startLogin(t *testing.T, ctx context.Context, o *ssooidc.Client) login {
	t.Helper()
	reg, err := o.RegisterClient(ctx, &ssooidc.RegisterClientInput{
		ClientName: aws.String("alchemy-test"),
		ClientType: aws.String("public"),
		Scopes:     []string{"sso:account:access"},
	})
	if err != nil {
		t.Fatalf("RegisterClient: %v", err)
	}
	if aws.ToString(reg.ClientId) == "" || aws.ToString(reg.ClientSecret) == "" {
		t.Fatalf("RegisterClient: empty client: %+v", reg)
	}
	now := time.Now().Unix()
	if reg.ClientIdIssuedAt < now-5 || reg.ClientIdIssuedAt > now+5 {
		t.Errorf("clientIdIssuedAt = %d, want about %d", reg.ClientIdIssuedAt, now)
	}
	if d := reg.ClientSecretExpiresAt - reg.ClientIdIssuedAt; d != 90*24*3600 {
		t.Errorf("clientSecretExpiresAt - issuedAt = %ds, want 90 days", d)
	}
	da, err := o.StartDeviceAuthorization(ctx, &ssooidc.StartDeviceAuthorizationInput{
		ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, StartUrl: aws.String(startURL),
	})
	if err != nil {
		t.Fatalf("StartDeviceAuthorization: %v", err)
	}
	uc := aws.ToString(da.UserCode)
	if len(uc) != 9 || uc[4] != '-' {
		t.Errorf("userCode = %q, want like ABCD-EFGH", uc)
	}
	if da.ExpiresIn != 600 || da.Interval != 1 {
		t.Errorf("expiresIn, interval = %d, %d; want 600, 1", da.ExpiresIn, da.Interval)
	}
	if got, want := aws.ToString(da.VerificationUriComplete), aws.ToString(da.VerificationUri)+"?user_code="+uc; got != want {
		t.Errorf("verificationUriComplete = %q, want %q", got, want)
	}
	return login{aws.ToString(reg.ClientId), aws.ToString(reg.ClientSecret), aws.ToString(da.DeviceCode), uc}
}

func (l login) poll(ctx context.Context, o *ssooidc.Client) (*ssooidc.CreateTokenOutput, error) {
	return o.CreateToken(ctx, &ssooidc.CreateTokenInput{
		ClientId: &l.clientID, ClientSecret: &l.clientSecret,
		GrantType: aws.String(deviceGrant), DeviceCode: &l.deviceCode,
	})
}

func refresh(ctx context.Context, o *ssooidc.Client, clientID, clientSecret, rt string) (*ssooidc.CreateTokenOutput, error) {
	return o.CreateToken(ctx, &ssooidc.CreateTokenInput{
		ClientId: &clientID, ClientSecret: &clientSecret,
		GrantType: aws.String("refresh_token"), RefreshToken: &rt,
	})
}

func roleCreds(ctx context.Context, p *sso.Client, token string) (*sso.GetRoleCredentialsOutput, error) {
	return p.GetRoleCredentials(ctx, &sso.GetRoleCredentialsInput{
		AccessToken: &token, AccountId: aws.String(accountID), RoleName: aws.String(roleName),
	})
}

func wantErr[T error](t *testing.T, what string, err error) T {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Fatalf("%s: error = %v (%T), want %T", what, err, err, target)
	}
	return target
}

func TestDeviceLoginRefreshAndRoleCredentials(t *testing.T) {
	leakGuards(t)
	ctx := context.Background()
	s := awssso.Start(t)
	s.AddAssignment(accountID, roleName)
	o, p := clients(s)

	l := startLogin(t, ctx, o)
	if got := s.PendingUserCodes(); len(got) != 1 || got[0] != l.userCode {
		t.Fatalf("PendingUserCodes = %v, want [%s]", got, l.userCode)
	}

	_, err := l.poll(ctx, o)
	pending := wantErr[*oidctypes.AuthorizationPendingException](t, "first poll", err)
	if aws.ToString(pending.Error_) != "authorization_pending" || aws.ToString(pending.Error_description) == "" {
		t.Errorf("pending error body = %q / %q", aws.ToString(pending.Error_), aws.ToString(pending.Error_description))
	}
	_, err = l.poll(ctx, o)
	wantErr[*oidctypes.SlowDownException](t, "immediate second poll", err)
	time.Sleep(time.Second)
	_, err = l.poll(ctx, o)
	wantErr[*oidctypes.AuthorizationPendingException](t, "poll after interval", err)

	if err := s.Approve(l.userCode); err != nil {
		t.Fatal(err)
	}
	if got := s.PendingUserCodes(); len(got) != 0 {
		t.Errorf("PendingUserCodes after Approve = %v", got)
	}
	tok, err := l.poll(ctx, o)
	if err != nil {
		t.Fatalf("poll after Approve: %v", err)
	}
	if aws.ToString(tok.TokenType) != "Bearer" || tok.ExpiresIn != 8*3600 ||
		aws.ToString(tok.AccessToken) == "" || aws.ToString(tok.RefreshToken) == "" {
		t.Fatalf("CreateToken = %+v", tok)
	}
	_, err = l.poll(ctx, o)
	wantErr[*oidctypes.InvalidGrantException](t, "redeeming the device code twice", err)

	// Refresh rotates the refresh token.
	r1, err := refresh(ctx, o, l.clientID, l.clientSecret, aws.ToString(tok.RefreshToken))
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if aws.ToString(r1.AccessToken) == aws.ToString(tok.AccessToken) || aws.ToString(r1.RefreshToken) == aws.ToString(tok.RefreshToken) {
		t.Fatalf("refresh did not rotate tokens")
	}
	_, err = refresh(ctx, o, l.clientID, l.clientSecret, aws.ToString(tok.RefreshToken))
	ig := wantErr[*oidctypes.InvalidGrantException](t, "reusing the old refresh token", err)
	if aws.ToString(ig.Error_) != "invalid_grant" {
		t.Errorf("InvalidGrantException error = %q", aws.ToString(ig.Error_))
	}
	_, err = refresh(ctx, o, l.clientID, "wrong-secret", aws.ToString(r1.RefreshToken))
	wantErr[*oidctypes.InvalidClientException](t, "refresh with a wrong client secret", err)

	// Role credentials with the refreshed token.
	before := time.Now()
	rc, err := roleCreds(ctx, p, aws.ToString(r1.AccessToken))
	if err != nil {
		t.Fatalf("GetRoleCredentials: %v", err)
	}
	c := rc.RoleCredentials
	if !strings.HasPrefix(aws.ToString(c.AccessKeyId), "ASIA") || aws.ToString(c.SecretAccessKey) == "" || aws.ToString(c.SessionToken) == "" {
		t.Fatalf("role credentials = %+v", c)
	}
	exp := time.UnixMilli(c.Expiration)
	if exp.Before(before.Add(59*time.Minute)) || exp.After(time.Now().Add(61*time.Minute)) {
		t.Errorf("expiration = %v, want about 1h from now", exp)
	}
	if iss := s.Issued(); len(iss) != 1 || iss[0].AccessKeyID != aws.ToString(c.AccessKeyId) || iss[0].RoleName != roleName {
		t.Errorf("Issued = %+v", iss)
	}
	// The pre-refresh access token is still valid until it expires.
	if _, err := roleCreds(ctx, p, aws.ToString(tok.AccessToken)); err != nil {
		t.Errorf("GetRoleCredentials with the first access token: %v", err)
	}

	// Unassigned role: ForbiddenException "No access" (not in the SDK model).
	_, err = p.GetRoleCredentials(ctx, &sso.GetRoleCredentialsInput{
		AccessToken: r1.AccessToken, AccountId: aws.String(accountID), RoleName: aws.String("Other"),
	})
	ae := wantErr[smithy.APIError](t, "unassigned role", err)
	if ae.ErrorCode() != "ForbiddenException" || ae.ErrorMessage() != "No access" {
		t.Errorf("unassigned role: %s / %s", ae.ErrorCode(), ae.ErrorMessage())
	}

	// The session ends: refresh and portal both refuse.
	s.EndSessions()
	_, err = refresh(ctx, o, l.clientID, l.clientSecret, aws.ToString(r1.RefreshToken))
	wantErr[*oidctypes.InvalidGrantException](t, "refresh after EndSessions", err)
	_, err = roleCreds(ctx, p, aws.ToString(r1.AccessToken))
	ue := wantErr[*ssotypes.UnauthorizedException](t, "GetRoleCredentials after EndSessions", err)
	if ue.ErrorMessage() != "Session token not found or invalid" {
		t.Errorf("UnauthorizedException message = %q", ue.ErrorMessage())
	}

	var ops []string
	for _, r := range s.Requests() {
		ops = append(ops, r.Operation)
		for _, secret := range []string{l.clientSecret, l.deviceCode, aws.ToString(tok.AccessToken), aws.ToString(tok.RefreshToken)} {
			if strings.Contains(r.Path+r.Query, secret) {
				t.Errorf("request record %+v holds a secret", r)
			}
		}
	}
	want := "RegisterClient StartDeviceAuthorization CreateToken:device_code CreateToken:device_code CreateToken:device_code " +
		"CreateToken:device_code CreateToken:device_code CreateToken:refresh_token CreateToken:refresh_token CreateToken:refresh_token " +
		"GetRoleCredentials GetRoleCredentials GetRoleCredentials CreateToken:refresh_token GetRoleCredentials"
	if got := strings.Join(ops, " "); got != want {
		t.Errorf("operations:\n got %s\nwant %s", got, want)
	}
	reqs := s.Requests()
	if r := reqs[2]; r.Status != 400 || r.ErrorCode != "AuthorizationPendingException" {
		t.Errorf("first poll recorded as %+v", r)
	}
	if r := reqs[len(reqs)-1]; r.Method != "GET" || r.Path != "/federation/credentials" || r.Status != 401 || r.ErrorCode != "UnauthorizedException" {
		t.Errorf("last request recorded as %+v", r)
	}
}

func TestDenyAndExpiry(t *testing.T) {
	leakGuards(t)
	ctx := context.Background()
	s := awssso.Start(t)
	o, _ := clients(s)

	l := startLogin(t, ctx, o)
	if err := s.Deny(l.userCode); err != nil {
		t.Fatal(err)
	}
	_, err := l.poll(ctx, o)
	ad := wantErr[*oidctypes.AccessDeniedException](t, "poll after Deny", err)
	if aws.ToString(ad.Error_) != "access_denied" {
		t.Errorf("AccessDeniedException error = %q", aws.ToString(ad.Error_))
	}
	if err := s.Approve(l.userCode); err == nil {
		t.Error("Approve after Deny succeeded")
	}
	if err := s.Approve("NOPE-NOPE"); err == nil {
		t.Error("Approve of an unknown code succeeded")
	}

	s.SetDeviceAuthorizationTTL(150 * time.Millisecond)
	reg, err := o.RegisterClient(ctx, &ssooidc.RegisterClientInput{ClientName: aws.String("x"), ClientType: aws.String("public")})
	if err != nil {
		t.Fatal(err)
	}
	da, err := o.StartDeviceAuthorization(ctx, &ssooidc.StartDeviceAuthorizationInput{
		ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, StartUrl: aws.String(startURL),
	})
	if err != nil {
		t.Fatal(err)
	}
	if da.ExpiresIn != 1 {
		t.Errorf("expiresIn = %d, want 1 (150ms rounded up)", da.ExpiresIn)
	}
	time.Sleep(200 * time.Millisecond)
	if got := s.PendingUserCodes(); len(got) != 0 {
		t.Errorf("PendingUserCodes lists expired codes: %v", got)
	}
	l2 := login{aws.ToString(reg.ClientId), aws.ToString(reg.ClientSecret), aws.ToString(da.DeviceCode), aws.ToString(da.UserCode)}
	_, err = l2.poll(ctx, o)
	wantErr[*oidctypes.ExpiredTokenException](t, "poll after expiry", err)
	if err := s.Approve(l2.userCode); err == nil {
		t.Error("Approve of an expired code succeeded")
	}
}

func TestClientErrors(t *testing.T) {
	leakGuards(t)
	ctx := context.Background()
	s := awssso.Start(t)
	o, _ := clients(s)

	_, err := o.StartDeviceAuthorization(ctx, &ssooidc.StartDeviceAuthorizationInput{
		ClientId: aws.String("nope"), ClientSecret: aws.String("nope"), StartUrl: aws.String(startURL),
	})
	ic := wantErr[*oidctypes.InvalidClientException](t, "unknown client", err)
	if aws.ToString(ic.Error_) != "invalid_client" {
		t.Errorf("InvalidClientException error = %q", aws.ToString(ic.Error_))
	}
	_, err = o.RegisterClient(ctx, &ssooidc.RegisterClientInput{ClientName: aws.String("x"), ClientType: aws.String("confidential")})
	wantErr[*oidctypes.InvalidClientMetadataException](t, "confidential client", err)

	reg, err := o.RegisterClient(ctx, &ssooidc.RegisterClientInput{ClientName: aws.String("x"), ClientType: aws.String("public")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = o.CreateToken(ctx, &ssooidc.CreateTokenInput{
		ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, GrantType: aws.String("client_credentials"),
	})
	wantErr[*oidctypes.UnsupportedGrantTypeException](t, "client_credentials grant", err)
	_, err = o.CreateToken(ctx, &ssooidc.CreateTokenInput{
		ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, GrantType: aws.String(deviceGrant), DeviceCode: aws.String("nope"),
	})
	wantErr[*oidctypes.InvalidGrantException](t, "unknown device code", err)
	if got := s.Requests()[len(s.Requests())-2].Operation; got != "CreateToken:client_credentials" {
		t.Errorf("operation = %q", got)
	}
}

func TestWireFormat(t *testing.T) {
	s := awssso.Start(t)

	// OIDC error: header + OAuth body, as botocore logs show for the real
	// service.
	resp, err := http.Post(s.URL+"/device_authorization", "application/json",
		strings.NewReader(`{"clientId":"x","clientSecret":"y","startUrl":"z"}`))
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 401 ||
		resp.Header.Get("X-Amzn-ErrorType") != "InvalidClientException:http://internal.amazon.com/coral/com.amazonaws.sso.oidc/" ||
		body["error"] != "invalid_client" || resp.Header.Get("Content-Type") != "application/json" ||
		resp.Header.Get("X-Amzn-RequestId") == "" {
		t.Errorf("invalid client: %d %v %v", resp.StatusCode, resp.Header, body)
	}

	// Member names are case-sensitive, as the SDK serialises them.
	resp, err = http.Post(s.URL+"/client/register", "application/json",
		strings.NewReader(`{"ClientName":"x","clientType":"public"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.HasPrefix(resp.Header.Get("X-Amzn-ErrorType"), "InvalidRequestException:") {
		t.Errorf("mis-cased member: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}

	// Portal error: body __type, 401.
	req, _ := http.NewRequest("GET", s.URL+"/federation/credentials?account_id=1&role_name=r", nil)
	req.Header.Set("x-amz-sso_bearer_token", "bogus")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body = nil
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 401 || body["__type"] != "com.amazonaws.switchboard.portal#UnauthorizedException" ||
		body["message"] != "Session token not found or invalid" {
		t.Errorf("portal unauthorized: %d %v", resp.StatusCode, body)
	}

	// Wrong method.
	resp, err = http.Get(s.URL + "/logout")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET /logout = %d, want 405", resp.StatusCode)
	}

	reqs := s.Requests()
	if reqs[0].Operation != "StartDeviceAuthorization" || reqs[0].ErrorCode != "InvalidClientException" || reqs[0].Status != 401 {
		t.Errorf("request record = %+v", reqs[0])
	}
}

func TestVerificationPage(t *testing.T) {
	leakGuards(t)
	ctx := context.Background()
	s := awssso.Start(t)
	o, _ := clients(s)
	l := startLogin(t, ctx, o)

	resp, err := http.Get(s.URL + "/device?user_code=" + l.userCode)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /device = %d", resp.StatusCode)
	}
	resp, err = http.PostForm(s.URL+"/device", url.Values{"user_code": {l.userCode}, "action": {"approve"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST /device approve = %d", resp.StatusCode)
	}
	if _, err := l.poll(ctx, o); err != nil {
		t.Fatalf("poll after browser approval: %v", err)
	}
}

func TestAutoApproveListsLogoutAndExpiry(t *testing.T) {
	leakGuards(t)
	ctx := context.Background()
	s := awssso.Start(t)
	s.AutoApprove(true)
	s.AddAssignment(accountID, roleName)
	s.AddAssignment(accountID, "ReadOnly")
	s.AddAssignment("444455556666", "Deploy")
	s.SetAccount("444455556666", "prod", "prod@example.com")
	s.SetAccessTokenTTL(2 * time.Hour)
	s.SetRoleCredentialTTL(15 * time.Minute)
	o, p := clients(s)

	l := startLogin(t, ctx, o)
	tok, err := l.poll(ctx, o)
	if err != nil {
		t.Fatalf("poll with AutoApprove: %v", err)
	}
	if tok.ExpiresIn != 7200 {
		t.Errorf("expiresIn = %d, want 7200", tok.ExpiresIn)
	}
	at := tok.AccessToken

	accts, err := p.ListAccounts(ctx, &sso.ListAccountsInput{AccessToken: at})
	if err != nil {
		t.Fatalf("ListAccounts: %v", err)
	}
	if accts.NextToken != nil || len(accts.AccountList) != 2 ||
		aws.ToString(accts.AccountList[0].AccountId) != accountID ||
		aws.ToString(accts.AccountList[1].AccountName) != "prod" || aws.ToString(accts.AccountList[1].EmailAddress) != "prod@example.com" {
		t.Errorf("ListAccounts = %+v", accts)
	}
	// Paging through the SDK paginator, one per page.
	var roles []string
	pg := sso.NewListAccountRolesPaginator(p, &sso.ListAccountRolesInput{AccessToken: at, AccountId: aws.String(accountID), MaxResults: aws.Int32(1)})
	pages := 0
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListAccountRoles: %v", err)
		}
		pages++
		for _, r := range out.RoleList {
			if aws.ToString(r.AccountId) != accountID {
				t.Errorf("role %+v has the wrong account", r)
			}
			roles = append(roles, aws.ToString(r.RoleName))
		}
	}
	if strings.Join(roles, ",") != "Admin,ReadOnly" || pages != 2 {
		t.Errorf("roles = %v in %d pages", roles, pages)
	}

	rc, err := roleCreds(ctx, p, aws.ToString(at))
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(time.UnixMilli(rc.RoleCredentials.Expiration)); d < 14*time.Minute || d > 16*time.Minute {
		t.Errorf("role credential TTL = %v, want 15m", d)
	}

	// ExpireAccessTokens: the portal refuses, refresh still works.
	s.ExpireAccessTokens()
	_, err = roleCreds(ctx, p, aws.ToString(at))
	wantErr[*ssotypes.UnauthorizedException](t, "expired access token", err)
	r1, err := refresh(ctx, o, l.clientID, l.clientSecret, aws.ToString(tok.RefreshToken))
	if err != nil {
		t.Fatalf("refresh after ExpireAccessTokens: %v", err)
	}
	if _, err := roleCreds(ctx, p, aws.ToString(r1.AccessToken)); err != nil {
		t.Fatalf("GetRoleCredentials with the refreshed token: %v", err)
	}

	// Logout ends the session.
	if _, err := p.Logout(ctx, &sso.LogoutInput{AccessToken: r1.AccessToken}); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	_, err = p.ListAccounts(ctx, &sso.ListAccountsInput{AccessToken: r1.AccessToken})
	wantErr[*ssotypes.UnauthorizedException](t, "ListAccounts after Logout", err)
	_, err = refresh(ctx, o, l.clientID, l.clientSecret, aws.ToString(r1.RefreshToken))
	wantErr[*oidctypes.InvalidGrantException](t, "refresh after Logout", err)
}

// writeSSOConfig writes an sso-session profile and the AWS CLI token cache
// for it, as "aws sso login --sso-session s" leaves them.
func writeSSOConfig(t *testing.T, home string, s *awssso.Server, expiresAt time.Time) (cachePath string) {
	t.Helper()
	cfg := "[sso-session s]\nsso_start_url = " + startURL + "\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n\n" +
		"[profile dev]\nsso_session = s\nsso_account_id = " + accountID + "\nsso_role_name = " + roleName + "\nregion = us-east-1\n"
	if err := os.MkdirAll(filepath.Dir(os.Getenv("AWS_CONFIG_FILE")), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(os.Getenv("AWS_CONFIG_FILE"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	at, rt, cid, csec, _ := s.IssueToken(startURL)
	sum := sha1.Sum([]byte("s"))
	cachePath = filepath.Join(home, ".aws", "sso", "cache", hex.EncodeToString(sum[:])+".json")
	if err := os.MkdirAll(filepath.Dir(cachePath), 0o700); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]string{
		"accessToken":           at,
		"expiresAt":             expiresAt.UTC().Format(time.RFC3339),
		"refreshToken":          rt,
		"clientId":              cid,
		"clientSecret":          csec,
		"registrationExpiresAt": time.Now().Add(90 * 24 * time.Hour).UTC().Format(time.RFC3339),
		"region":                "us-east-1",
		"startUrl":              startURL,
	})
	if err := os.WriteFile(cachePath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range s.Env() {
		t.Setenv(k, v)
	}
	return cachePath
}

func loadDev(t *testing.T) aws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithSharedConfigProfile("dev"))
	if err != nil {
		t.Fatalf("LoadDefaultConfig: %v", err)
	}
	return cfg
}

func TestLoadDefaultConfigSSOProfile(t *testing.T) {
	home := leakGuards(t)
	s := awssso.Start(t)
	s.AddAssignment(accountID, roleName)
	writeSSOConfig(t, home, s, time.Now().Add(time.Hour))

	creds, err := loadDev(t).Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatalf("Retrieve: %v", err)
	}
	iss := s.Issued()
	if !strings.Contains(creds.Source, "SSOProvider") || len(iss) != 1 || creds.AccessKeyID != iss[0].AccessKeyID ||
		!creds.CanExpire || !creds.Expires.Equal(iss[0].Expiration.Truncate(time.Millisecond)) {
		t.Fatalf("credentials = %+v, issued %+v", creds, iss)
	}
	reqs := s.Requests()
	if len(reqs) != 1 || reqs[0].Operation != "GetRoleCredentials" || reqs[0].Query == "" ||
		!strings.Contains(reqs[0].Query, "account_id="+accountID) || !strings.Contains(reqs[0].Query, "role_name="+roleName) {
		t.Errorf("requests = %+v", reqs)
	}

	// The session ends on the server while the cache still looks valid.
	s.EndSessions()
	_, err = loadDev(t).Credentials.Retrieve(context.Background())
	wantErr[*ssotypes.UnauthorizedException](t, "Retrieve after EndSessions", err)
}

func TestLoadDefaultConfigRefreshesExpiredToken(t *testing.T) {
	home := leakGuards(t)
	s := awssso.Start(t)
	s.AddAssignment(accountID, roleName)
	cachePath := writeSSOConfig(t, home, s, time.Now().Add(-time.Minute))
	s.ExpireAccessTokens() // the server agrees the cached access token is stale
	before, err := os.ReadFile(cachePath)
	if err != nil {
		t.Fatal(err)
	}

	creds, err := loadDev(t).Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatalf("Retrieve: %v", err)
	}
	if !strings.Contains(creds.Source, "SSOProvider") || !strings.HasPrefix(creds.AccessKeyID, "ASIA") {
		t.Fatalf("credentials = %+v", creds)
	}
	var ops []string
	for _, r := range s.Requests() {
		ops = append(ops, r.Operation)
	}
	if got := strings.Join(ops, " "); got != "CreateToken:refresh_token GetRoleCredentials" {
		t.Errorf("operations = %s", got)
	}

	after, err := os.ReadFile(cachePath)
	if err != nil {
		t.Fatal(err)
	}
	if string(after) == string(before) {
		t.Fatal("the SDK did not rewrite the token cache")
	}
	var b, a map[string]any
	_ = json.Unmarshal(before, &b)
	_ = json.Unmarshal(after, &a)
	if a["accessToken"] == b["accessToken"] || a["refreshToken"] == b["refreshToken"] || a["expiresAt"] == b["expiresAt"] {
		t.Errorf("cache not refreshed:\nbefore %s\nafter  %s", before, after)
	}
	exp, err := time.Parse(time.RFC3339, a["expiresAt"].(string))
	if err != nil || time.Until(exp) < 7*time.Hour {
		t.Errorf("new expiresAt = %v (%v), want about 8h ahead", a["expiresAt"], err)
	}
	if a["startUrl"] != startURL || a["clientId"] != b["clientId"] {
		t.Errorf("cache lost fields: %s", after)
	}

	// The old refresh token was rotated away.
	o, _ := clients(s)
	_, err = refresh(context.Background(), o, b["clientId"].(string), b["clientSecret"].(string), b["refreshToken"].(string))
	wantErr[*oidctypes.InvalidGrantException](t, "old refresh token", err)

	// Once the session has ended, an expired cache cannot be refreshed.
	s.EndSessions()
	if err := os.WriteFile(cachePath, before, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = loadDev(t).Credentials.Retrieve(context.Background())
	wantErr[*oidctypes.InvalidGrantException](t, "Retrieve with an ended session", err)
}
