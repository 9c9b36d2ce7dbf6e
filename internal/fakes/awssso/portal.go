package awssso

import (
	"net/http"
	"strconv"
	"time"
)

// bearerHeader carries the access token on every portal operation (the
// @httpHeader trait in service/sso/schemas).
const bearerHeader = "x-amz-sso_bearer_token"

const invalidSessionMessage = "Session token not found or invalid"

// authLocked checks the bearer token; it answers UnauthorizedException and
// returns false when the token is missing, unknown, expired or its session
// has ended.
func (s *Server) authLocked(rp *reply, r *http.Request) (*accessToken, bool) {
	t, ok := s.validAccessLocked(r.Header.Get(bearerHeader))
	if !ok {
		rp.portalError("UnauthorizedException", invalidSessionMessage)
	}
	return t, ok
}

// GET /federation/credentials?account_id=&role_name=
func (s *Server) getRoleCredentials(rp *reply, r *http.Request) string {
	const op = "GetRoleCredentials"
	q := r.URL.Query()
	accountID, roleName := q.Get("account_id"), q.Get("role_name")
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.authLocked(rp, r); !ok {
		return op
	}
	if accountID == "" || roleName == "" {
		rp.portalError("InvalidRequestException", "account_id and role_name are required")
		return op
	}
	if !s.assignedLocked(accountID, roleName) {
		rp.portalError("ForbiddenException", "No access")
		return op
	}
	exp := time.Now().Add(s.roleTTL)
	issued := IssuedCredentials{AccountID: accountID, RoleName: roleName, Expiration: exp,
		AccessKeyID:     "ASIA" + randString("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
		SecretAccessKey: randString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 40),
		SessionToken:    "IQoJb3JpZ2luX2Vj" + randToken("", 200),
	}
	s.issued = append(s.issued, issued)
	rp.json(http.StatusOK, map[string]any{
		"roleCredentials": map[string]any{
			"accessKeyId":     issued.AccessKeyID,
			"secretAccessKey": issued.SecretAccessKey,
			"sessionToken":    issued.SessionToken,
			"expiration":      exp.UnixMilli(),
		},
	})
	return op
}

func (s *Server) assignedLocked(accountID, roleName string) bool {
	a := s.accounts[accountID]
	if a == nil {
		return false
	}
	for _, r := range a.roles {
		if r == roleName {
			return true
		}
	}
	return false
}

// page applies the portal's max_result / next_token paging to n items. It
// answers InvalidRequestException and returns ok=false on bad parameters.
func page(rp *reply, r *http.Request, n int) (from, to int, next any, ok bool) {
	q := r.URL.Query()
	if nt := q.Get("next_token"); nt != "" {
		v, err := strconv.Atoi(nt)
		if err != nil || v < 0 || v > n {
			rp.portalError("InvalidRequestException", "Invalid next token")
			return 0, 0, nil, false
		}
		from = v
	}
	to = n
	if mr := q.Get("max_result"); mr != "" {
		v, err := strconv.Atoi(mr)
		if err != nil || v < 1 {
			rp.portalError("InvalidRequestException", "Invalid max_result")
			return 0, 0, nil, false
		}
		if from+v < n {
			to = from + v
		}
	}
	if to < n {
		next = strconv.Itoa(to)
	}
	return from, to, next, true
}

// GET /assignment/accounts
func (s *Server) listAccounts(rp *reply, r *http.Request) string {
	const op = "ListAccounts"
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.authLocked(rp, r); !ok {
		return op
	}
	var ids []string
	for _, id := range s.accountOrder {
		if len(s.accounts[id].roles) > 0 {
			ids = append(ids, id)
		}
	}
	from, to, next, ok := page(rp, r, len(ids))
	if !ok {
		return op
	}
	list := []map[string]string{}
	for _, id := range ids[from:to] {
		a := s.accounts[id]
		list = append(list, map[string]string{"accountId": a.id, "accountName": a.name, "emailAddress": a.email})
	}
	rp.json(http.StatusOK, map[string]any{"nextToken": next, "accountList": list})
	return op
}

// GET /assignment/roles?account_id=
func (s *Server) listAccountRoles(rp *reply, r *http.Request) string {
	const op = "ListAccountRoles"
	accountID := r.URL.Query().Get("account_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.authLocked(rp, r); !ok {
		return op
	}
	if accountID == "" {
		rp.portalError("InvalidRequestException", "account_id is required")
		return op
	}
	var roles []string
	if a := s.accounts[accountID]; a != nil {
		roles = a.roles
	}
	from, to, next, ok := page(rp, r, len(roles))
	if !ok {
		return op
	}
	list := []map[string]string{}
	for _, role := range roles[from:to] {
		list = append(list, map[string]string{"roleName": role, "accountId": accountID})
	}
	rp.json(http.StatusOK, map[string]any{"nextToken": next, "roleList": list})
	return op
}

// POST /logout: ends the sign-in session behind the token (its access and
// refresh tokens), as the API reference describes ("invalidate the
// corresponding server-side IAM Identity Center sign in session").
func (s *Server) logout(rp *reply, r *http.Request) string {
	const op = "Logout"
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.authLocked(rp, r)
	if !ok {
		return op
	}
	t.sess.ended = true
	rp.empty(http.StatusOK)
	return op
}
