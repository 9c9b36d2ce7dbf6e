// Package awssso is a stateful, in-memory fake of AWS IAM Identity Center's
// two client-facing APIs, for tests only: the SSO OIDC service
// (oidc.<region>.amazonaws.com: RegisterClient, StartDeviceAuthorization,
// CreateToken) and the SSO portal (portal.sso.<region>.amazonaws.com:
// GetRoleCredentials, ListAccounts, ListAccountRoles, Logout). Both are
// served on one 127.0.0.1 port; point aws-sdk-go-v2 at it with
// AWS_ENDPOINT_URL_SSO_OIDC and AWS_ENDPOINT_URL_SSO (Env), which
// config.LoadDefaultConfig honours for the SSO credential provider and its
// token refresh. No installable emulator of these services exists
// (shared/spec/test-peers.md §2.8, §3).
//
// The test plays the person at the browser: PendingUserCodes, Approve and
// Deny (or POST /device user_code=..&action=approve|deny), or AutoApprove.
// IssueToken creates a ready session for tests that pre-write the AWS CLI
// token cache; ExpireAccessTokens and EndSessions age it.
//
// # Where the shapes come from
//
// Paths, methods, member names, HTTP bindings and error statuses are those
// of the Smithy models compiled into aws-sdk-go-v2 service/ssooidc v1.44.5
// and service/sso v1.39.5 (schemas/schemas.go; the models are restJson1):
//
//   - POST /client/register {clientName, clientType, scopes, redirectUris,
//     grantTypes, issuerUrl, entitledApplicationArn} → {clientId,
//     clientSecret, clientIdIssuedAt, clientSecretExpiresAt} (epoch seconds;
//     the secret lives 90 days). clientType must be "public".
//   - POST /device_authorization {clientId, clientSecret, startUrl} →
//     {deviceCode, userCode ("BCDF-GHJK"), verificationUri,
//     verificationUriComplete (verificationUri?user_code=..), expiresIn 600,
//     interval 1}.
//   - POST /token {clientId, clientSecret, grantType, deviceCode, code,
//     refreshToken, scope, redirectUri, codeVerifier} → {accessToken,
//     tokenType "Bearer", expiresIn (28800), refreshToken}. Grant types
//     "urn:ietf:params:oauth:grant-type:device_code" and "refresh_token"
//     (what ssocreds.SSOTokenProvider sends); others answer
//     UnsupportedGrantTypeException. Refresh tokens rotate: a used one
//     answers InvalidGrantException.
//   - GET /federation/credentials?account_id=&role_name= with header
//     x-amz-sso_bearer_token → {"roleCredentials":{accessKeyId ("ASIA…"),
//     secretAccessKey, sessionToken, expiration (epoch milliseconds)}}.
//   - GET /assignment/accounts and /assignment/roles?account_id= (paged by
//     max_result / next_token) → {"nextToken":null,"accountList":[{accountId,
//     accountName, emailAddress}]} / {"nextToken":null,"roleList":[{roleName,
//     accountId}]}.
//   - POST /logout with the bearer header → 200, empty body; the sign-in
//     session behind the token ends (its access and refresh tokens).
//
// Request bodies are decoded strictly: member names must be spelled exactly
// as the SDK serialises them (encoding/json alone would accept any case),
// and unknown members answer InvalidRequestException.
//
// # How errors are encoded, and why
//
// aws-sdk-go-v2 (smithy-go v1.28.9, transport/http/protocol/restjson1 and
// internal/json/error.go) reads the error code from the X-Amzn-ErrorType
// header, else the body's "__type", else a body "code"; it cuts the value at
// the first ':' and keeps what follows a '#', then looks the name up in the
// service's TypeRegistry (which also matches short names). A name that is
// not in the model decodes as *smithy.GenericAPIError.
//
// SSO OIDC errors are answered as the real service does (botocore debug
// logs in aws/aws-cli#5955 and #8561): the header
// "X-Amzn-ErrorType: <Shape>:http://internal.amazon.com/coral/com.amazonaws.sso.oidc/"
// and an OAuth body {"error":"authorization_pending","error_description":
// "Authorization is still pending"}. Statuses follow the model: 401 for
// InvalidClientException, 500 for InternalServerException, 400 otherwise.
// They decode to *types.AuthorizationPendingException, SlowDownException,
// AccessDeniedException, ExpiredTokenException, InvalidGrantException,
// InvalidClientException, InvalidRequestException,
// InvalidClientMetadataException and UnsupportedGrantTypeException, with
// Error_ and Error_description set.
//
// SSO portal errors are answered as captured portal answers look:
// {"message":"Session token not found or invalid",
// "__type":"com.amazonaws.switchboard.portal#UnauthorizedException"}, no
// X-Amzn-ErrorType header (none appeared in the captures). Cases:
//   - missing, unknown, expired or ended token: 401 UnauthorizedException
//     "Session token not found or invalid" (*types.UnauthorizedException);
//   - role not assigned: 403 ForbiddenException "No access" (the familiar
//     "An error occurred (ForbiddenException) when calling the
//     GetRoleCredentials operation: No access"). ForbiddenException is not
//     in the SDK's model, so Go callers get a *smithy.GenericAPIError with
//     Code "ForbiddenException", exactly as against AWS.
//   - missing parameters or a bad next_token: 400 InvalidRequestException.
//
// # Device authorization
//
// CreateToken with the device_code grant answers AuthorizationPendingException
// until the user decides; AccessDeniedException once denied;
// ExpiredTokenException after expiresIn (SetDeviceAuthorizationTTL shortens
// it for tests); InvalidGrantException for an unknown, foreign or already
// redeemed device code. While the authorization is pending, two polls closer
// than interval-100ms answer SlowDownException (RFC 8628 §3.5); once the
// user has decided, the answer is given at once, so a test need not sleep
// between Approve and the next poll.
//
// # Not modelled
//
// Sign-in session maximum duration (only EndSessions ends a session), the
// authorization_code grant with PKCE, CreateTokenWithIAM, start URL or
// region validation, scope checks, and refresh tokens being issued only to
// clients registered with scopes.
package awssso
