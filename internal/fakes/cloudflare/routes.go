package cloudflarefake

import (
	"io"
	"net/http"
	"strings"
)

// handlerFunc serves one endpoint. It runs with s.mu held and returns the
// reply; the router writes it after unlocking.
type handlerFunc func(c *call) reply

// call is one authenticated request.
type call struct {
	s    *Server
	r    *http.Request
	p    *principal
	body []byte
}

// registerRoutes is the route table: every endpoint the fake knows, with the
// way it authenticates. Add new resources (KV, R2, Workers, D1, DNS) here;
// account product endpoints use authService.
func (s *Server) registerRoutes(mux *http.ServeMux) {
	routes := []struct {
		pattern string
		style   authStyle
		h       handlerFunc
	}{
		{"GET /user/tokens/verify", authVerify, s.verifyUserToken},
		{"GET /accounts/{account_id}/tokens/verify", authVerify, s.verifyAccountToken},
		{"GET /user", authGateway, s.getUser},
		{"GET /accounts", authGateway, s.listAccounts},
		{"GET /accounts/{account_id}", authGateway, s.getAccount},

		{"GET /accounts/{account_id}/storage/kv/namespaces", authService, s.listKVNamespaces},
		{"POST /accounts/{account_id}/storage/kv/namespaces", authService, s.createKVNamespace},
		{"GET /accounts/{account_id}/storage/kv/namespaces/{namespace_id}", authService, s.getKVNamespace},
		{"PUT /accounts/{account_id}/storage/kv/namespaces/{namespace_id}", authService, s.renameKVNamespace},
		{"DELETE /accounts/{account_id}/storage/kv/namespaces/{namespace_id}", authService, s.deleteKVNamespace},

		{"GET /accounts/{account_id}/r2/buckets", authService, s.listR2Buckets},
		{"POST /accounts/{account_id}/r2/buckets", authService, s.createR2Bucket},
		{"GET /accounts/{account_id}/r2/buckets/{bucket_name}", authService, s.getR2Bucket},
		{"DELETE /accounts/{account_id}/r2/buckets/{bucket_name}", authService, s.deleteR2Bucket},

		{"GET /accounts/{account_id}/d1/database", authService, s.listD1Databases},
		{"POST /accounts/{account_id}/d1/database", authService, s.createD1Database},
		{"GET /accounts/{account_id}/d1/database/{database_id}", authService, s.getD1Database},
		{"DELETE /accounts/{account_id}/d1/database/{database_id}", authService, s.deleteD1Database},

		{"PUT /accounts/{account_id}/workers/scripts/{script_name}", authService, s.uploadWorkerScript},
		{"DELETE /accounts/{account_id}/workers/scripts/{script_name}", authService, s.deleteWorkerScript},
		{"GET /accounts/{account_id}/workers/scripts/{script_name}/subdomain", authService, s.getWorkerScriptSubdomain},
		{"POST /accounts/{account_id}/workers/scripts/{script_name}/subdomain", authService, s.setWorkerScriptSubdomain},
		{"GET /accounts/{account_id}/workers/scripts/{script_name}/script-settings", authService, s.getWorkerScriptSettings},
		{"PATCH /accounts/{account_id}/workers/scripts/{script_name}/script-settings", authService, s.editWorkerScriptSettings},
		{"GET /accounts/{account_id}/workers/subdomain", authService, s.getWorkersSubdomain},

		{"GET /zones/{zone_id}/dns_records", authGateway, s.listDNSRecords},
		{"POST /zones/{zone_id}/dns_records", authGateway, s.createDNSRecord},
		{"GET /zones/{zone_id}/dns_records/{dns_record_id}", authGateway, s.getDNSRecord},
		{"PUT /zones/{zone_id}/dns_records/{dns_record_id}", authGateway, s.updateDNSRecord},
		{"PATCH /zones/{zone_id}/dns_records/{dns_record_id}", authGateway, s.updateDNSRecord},
		{"DELETE /zones/{zone_id}/dns_records/{dns_record_id}", authGateway, s.deleteDNSRecord},
	}
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt.pattern, " ")
		mux.Handle(method+" "+APIPrefix+path, s.endpoint(rt.style, rt.h))
	}
	// Anything else, including a known path with another method.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		couldNotRoute(r.URL.Path).write(w)
	})
}

// maxRequestBody bounds what the fake reads of a request body.
const maxRequestBody = 64 << 20

func (s *Server) endpoint(style authStyle, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
		s.mu.Lock()
		rep := s.dispatch(r, style, h, body)
		s.mu.Unlock()
		rep.write(w)
	})
}

func (s *Server) dispatch(r *http.Request, style authStyle, h handlerFunc, body []byte) reply {
	// Routing comes before authentication: an {account_id} that cannot be
	// an account ID does not route, whatever the credential.
	if id := r.PathValue("account_id"); id != "" && s.accounts[id] == nil && !isTag(id) {
		return couldNotRoute(r.URL.Path)
	}
	p, refused := s.authenticate(r, style)
	if refused != nil {
		return *refused
	}
	return h(&call{s: s, r: r, p: p, body: body})
}

// isTag reports whether id has the shape of a Cloudflare identifier tag:
// 32 lowercase hex digits.
func isTag(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
