// Package cloudflarefake is an in-memory, stateful fake of the Cloudflare
// REST API v4, served on 127.0.0.1 so that alchemy's tests run offline.
//
// One Server holds all state (accounts, users, API tokens, global API keys,
// and later resources such as KV, R2, Workers, D1 and DNS) behind one mutex.
// Routes are declared in one table (routes.go); each declares how it
// authenticates, because the real API answers a bad credential differently
// on different endpoint families. New resource endpoints add a handler file
// and a line in that table.
//
// Bearer credentials are registered with AddToken whether they stand for an
// API token or an OAuth access token: the API reads both from
// "Authorization: Bearer", and the fake answers them alike.
//
// # Real behaviours reproduced, and where they were looked up
//
// Envelope: every JSON answer is
// {"success","errors":[{"code","message"}],"messages","result"} plus
// "result_info" {page, per_page, count, total_count, total_pages} on lists
// (developers.cloudflare.com/fundamentals/api/troubleshooting and the
// /api/go/resources/... reference pages).
//
// GET /user/tokens/verify (favonia/cloudflare-ddns,
// scripts/github-actions/cloudflare-verify-contract/config/verify-contract.json
// and cloudflare-token-verify-watch/cases.go, live probes dated 2026-03-22):
//   - active user token: 200, result {"id","status":"active"[,"expires_on",
//     "not_before"]}, messages [{10000 "This API Token is valid and active"}]
//     (that message as observed in putyourlightson/craft-cloudflare#88);
//   - unknown or revoked token: 401, code 1000 "Invalid API Token";
//   - no Authorization header (including a global key sent as X-Auth-*):
//     400, code 1001 `Missing "Authorization" header` (also seen with
//     X-Auth-Email/X-Auth-Key in kissgyorgy/cloudflare-dyndns#40);
//   - malformed Authorization value: 400, code 6003 "Invalid request headers"
//     with error_chain [6111 "Invalid format for Authorization header"];
//   - an account-owned token: 401, code 1000 (benvinegar/counterscale#268:
//     "returns 401 for account-owned tokens"; several repositories record
//     "Invalid API Token" for it);
//   - "disabled" / "expired" token: 200 with that status. The status enum
//     {active, disabled, expired} is the documented result schema
//     (developers.cloudflare.com/api/go/resources/user/subresources/tokens/methods/verify);
//     no live capture of a disabled token was found, so this follows the
//     schema.
//
// GET /accounts/{account_id}/tokens/verify: the same answers for an
// account-owned token of that account (the endpoint Cloudflare documents for
// account API tokens, cloudflare/cloudflare-docs#29486). A user token, or an
// account token of another account, gets 401 code 1000 — inferred by symmetry
// with the user endpoint, not observed live.
//
// Other endpoints with a bad bearer token (favonia/cloudflare-ddns
// cloudflare-auth-error-watch/cases.go, snapshot 2026-06-30):
//   - general endpoints (/user, /accounts, /zones): 403, code 9109
//     "Invalid access token";
//   - account service endpoints (/accounts/{id}/<product>/...): 401, code
//     10000 "Authentication error".
//
// Global API key (X-Auth-Email + X-Auth-Key):
//   - wrong key or e-mail: 403, code 9103 "Unknown X-Auth-Key or
//     X-Auth-Email" (saltyorg/docs docs/faq/Cloudflare.md quotes
//     "Status: 403 ... code: 9103");
//   - no credential at all: 403 with 9106 "Missing X-Auth-Email header" and
//     9107 "Missing X-Auth-Key header" (terraform docs and client tests
//     quoting "403 Missing X-Auth-Email header"); only one of the two headers
//     missing gives that one code.
//
// GET /user with a credential that has no user (an account-owned token, or a
// token registered without UserEmail): 403, code 9109 "Unauthorized to
// access requested resource".
//
// GET /accounts: only the accounts the credential can see; page (default 1)
// and per_page (default 20, clamped to 5..50 as documented at
// developers.cloudflare.com/api/go/resources/accounts/methods/list). With an
// account-owned token: 400, code 1001 "List accounts endpoint does not
// support account owned tokens." (edgefirst-dev/starter#3, observed
// 2024-12-31; one later report claims /accounts works with account tokens,
// so this may have changed).
//
// GET /accounts/{id} for an account the credential cannot see: 403, code
// 9109 "Unauthorized to access requested resource".
//
// Unknown routes, and an {account_id} that is neither registered nor 32 hex
// digits: 400 with 7003 "Could not route to /client/v4/..., perhaps your
// object identifier is invalid?" and 7000 "No route for that URI"
// (cloudflare/cloudflare-go#118 shows HTTP 400 with both codes;
// cloudflare/workers-sdk#3862 shows an e-mail used as account ID ending in
// 7003). Note: the real answer is 400, not 404.
//
// Account storage (kv.go, r2.go, where each shape and code is sourced):
// Workers KV namespaces (create, paginated list, get, rename, delete; 400
// code 10014 for a duplicate title, 404 code 10013 for a missing namespace)
// and R2 buckets (create, cursor list, get, delete; 409 code 10004 for a
// bucket that exists, 404 code 10006 for a missing one, 400 code 10005 for
// an invalid name). State is per account. A valid credential that cannot
// see the path's account gets 403, code 10000 "Authentication error" — the
// code wrangler users report for tokens without access to an account; the
// 403 status is inferred, not captured.
//
// SetDown(status) answers every request with that 5xx status and an HTML
// edge error page, not JSON, as Cloudflare's edge does for 502/503/504.
// FailNext(n, status) does the same for the next n requests only (and, for
// 429, answers the JSON envelope with code 971 "Please wait and consider
// throttling your request speed" and Retry-After: 0), to test retries.
// FailNextOn(method, path, n, status) does so for the next n requests of one
// method and path only; LoseNextAnswers(method, path, n) serves them and
// then answers 502, as when a connection drops after the API acted (a
// create that landed although the client saw it fail).
//
// Requests records method, path (relative to URL()), query, and which
// credential style was presented ("token", "key" or "none"), plus the
// registered token ID or key e-mail when recognised. It never records a
// secret.
package cloudflarefake
