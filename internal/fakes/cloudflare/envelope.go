package cloudflarefake

import (
	"encoding/json"
	"net/http"
)

// apiMessage is an entry of "errors" or "messages".
type apiMessage struct {
	Code       int          `json:"code"`
	Message    string       `json:"message"`
	ErrorChain []apiMessage `json:"error_chain,omitempty"`
}

type resultInfo struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	Count      int `json:"count"`
	TotalCount int `json:"total_count"`
	TotalPages int `json:"total_pages"`
}

type envelope struct {
	Success  bool         `json:"success"`
	Errors   []apiMessage `json:"errors"`
	Messages []apiMessage `json:"messages"`
	Result   any          `json:"result"`
	// ResultInfo is a *resultInfo on page-based lists, or the cursor form
	// some products use (R2: {"cursor","per_page"}).
	ResultInfo any `json:"result_info,omitempty"`
}

// reply is what a handler returns; the router writes it after releasing the
// server lock.
type reply struct {
	status int
	env    envelope
}

func ok(result any, messages ...apiMessage) reply {
	return reply{status: http.StatusOK, env: envelope{
		Success:  true,
		Errors:   []apiMessage{},
		Messages: append([]apiMessage{}, messages...),
		Result:   result,
	}}
}

func okList(result any, info resultInfo) reply {
	r := ok(result)
	r.env.ResultInfo = &info
	return r
}

func fail(status int, errs ...apiMessage) reply {
	return reply{status: status, env: envelope{
		Success:  false,
		Errors:   errs,
		Messages: []apiMessage{},
		Result:   nil,
	}}
}

func (r reply) write(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(r.status)
	_ = json.NewEncoder(w).Encode(r.env)
}

// Error codes and messages, as the real API spells them (sources in doc.go).
var (
	errInvalidAPIToken      = apiMessage{Code: 1000, Message: "Invalid API Token"}
	errMissingAuthorization = apiMessage{Code: 1001, Message: `Missing "Authorization" header`}
	errListAccountsAcctTok  = apiMessage{Code: 1001, Message: "List accounts endpoint does not support account owned tokens."}
	errInvalidHeaders       = apiMessage{Code: 6003, Message: "Invalid request headers"}
	errBadAuthorizationFmt  = apiMessage{Code: 6111, Message: "Invalid format for Authorization header"}
	errNoRoute              = apiMessage{Code: 7000, Message: "No route for that URI"}
	errUnknownKey           = apiMessage{Code: 9103, Message: "Unknown X-Auth-Key or X-Auth-Email"}
	errMissingEmail         = apiMessage{Code: 9106, Message: "Missing X-Auth-Email header"}
	errMissingKey           = apiMessage{Code: 9107, Message: "Missing X-Auth-Key header"}
	errInvalidAccessToken   = apiMessage{Code: 9109, Message: "Invalid access token"}
	errUnauthorizedResource = apiMessage{Code: 9109, Message: "Unauthorized to access requested resource"}
	errAuthentication       = apiMessage{Code: 10000, Message: "Authentication error"}
	errRateLimited          = apiMessage{Code: 971, Message: "Please wait and consider throttling your request speed"}
	msgTokenActive          = apiMessage{Code: 10000, Message: "This API Token is valid and active"}
)

// couldNotRoute is the answer to an unknown route (HTTP 400, 7003 + 7000).
func couldNotRoute(fullPath string) reply {
	return fail(http.StatusBadRequest,
		apiMessage{Code: 7003, Message: "Could not route to " + fullPath + ", perhaps your object identifier is invalid?"},
		errNoRoute,
	)
}
