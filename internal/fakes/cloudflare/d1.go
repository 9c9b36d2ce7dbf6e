package cloudflarefake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// D1 databases: /accounts/{account_id}/d1/database.
//
// Shapes (developers.cloudflare.com/api/resources/d1/subresources/database:
// list, get, create, delete; cloudflare-typescript src/resources/d1):
//   - a database is {"uuid", "name", "created_at", "version", "num_tables",
//     "file_size", ...}; uuid is a UUID (not a 32-hex tag);
//   - POST {"name", "primary_location_hint"?, "jurisdiction"?} creates;
//     location hints are wnam, enam, weur, eeur, apac, oc
//     (developers.cloudflare.com/d1/configuration/data-location);
//   - GET lists, page-based: name ("a database name to search for"), page
//     (min 1), per_page (10..10000), with result_info;
//   - GET /{database_id} reads one, DELETE /{database_id} removes it;
//   - a name the account already has: code 7502, which wrangler turns into
//     "A database with that name already exists" (workers-sdk d1/create.ts,
//     and workers-sdk#2143, where the raw answer was "Internal error [code:
//     7502]"). NOT CONFIRMED: the HTTP status (400 here) and the exact
//     message text;
//   - a missing database: code 7404 "The database <uuid> could not be found"
//     (wrangler output quoted in many projects' docs). NOT CONFIRMED: the
//     HTTP status (404 here; alchemy-run/alchemy's D1 delete treats 404 as
//     gone).
// Not looked up: whether the name filter is exact or a substring match (a
// substring match here; callers must compare names), the default per_page
// (1000 here), and the code of an invalid name or location hint.

type d1Database struct {
	uuid, name, hint string
	created          time.Time
}

type d1DatabaseJSON struct {
	UUID      string `json:"uuid"`
	Name      string `json:"name"`
	CreatedAt string `json:"created_at"`
	Version   string `json:"version"`
	NumTables int    `json:"num_tables"`
	FileSize  int    `json:"file_size"`
}

func (d *d1Database) json() d1DatabaseJSON {
	return d1DatabaseJSON{UUID: d.uuid, Name: d.name, CreatedAt: d.created.Format(time.RFC3339Nano), Version: "production"}
}

var (
	errD1Exists = apiMessage{Code: 7502, Message: "A database with that name already exists"}
	// Not looked up: the codes of an invalid name or location hint.
	errD1InvalidName     = apiMessage{Code: 7400, Message: "The request is malformed: a database name is required"}
	errD1InvalidLocation = apiMessage{Code: 7400, Message: "The request is malformed: unknown primary_location_hint"}
)

func errD1NotFound(id string) apiMessage {
	return apiMessage{Code: 7404, Message: "The database " + id + " could not be found"}
}

var d1Locations = map[string]bool{"wnam": true, "enam": true, "weur": true, "eeur": true, "apac": true, "oc": true}

const (
	d1DefaultPerPage = 1000
	d1MinPerPage     = 10
	d1MaxPerPage     = 10000
)

func (s *Server) d1Of(account string) map[string]*d1Database {
	m := s.d1[account]
	if m == nil {
		m = map[string]*d1Database{}
		s.d1[account] = m
	}
	return m
}

func (s *Server) d1ByName(account, name string) *d1Database {
	for _, d := range s.d1[account] {
		if d.name == name {
			return d
		}
	}
	return nil
}

// nextUUID returns a fresh version-4-shaped UUID.
func (s *Server) nextUUID() string {
	s.seq++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", s.seq, s.seq)
}

func (s *Server) addD1Locked(account, name, hint string) *d1Database {
	d := &d1Database{uuid: s.nextUUID(), name: name, hint: strings.ToLower(hint), created: s.now().UTC()}
	s.d1Of(account)[d.uuid] = d
	return d
}

// POST /accounts/{account_id}/d1/database
func (s *Server) createD1Database(c *call) reply {
	account, rep := s.accountFor(c)
	if rep != nil {
		return *rep
	}
	var in struct {
		Name                string `json:"name"`
		PrimaryLocationHint string `json:"primary_location_hint"`
	}
	if err := json.Unmarshal(c.body, &in); err != nil {
		return fail(http.StatusBadRequest, errBadJSON)
	}
	if strings.TrimSpace(in.Name) == "" {
		return fail(http.StatusBadRequest, errD1InvalidName)
	}
	if in.PrimaryLocationHint != "" && !d1Locations[strings.ToLower(in.PrimaryLocationHint)] {
		return fail(http.StatusBadRequest, errD1InvalidLocation)
	}
	if s.d1ByName(account, in.Name) != nil {
		return fail(http.StatusBadRequest, errD1Exists)
	}
	return ok(s.addD1Locked(account, in.Name, in.PrimaryLocationHint).json())
}

// GET /accounts/{account_id}/d1/database
func (s *Server) listD1Databases(c *call) reply {
	account, rep := s.accountFor(c)
	if rep != nil {
		return *rep
	}
	q := c.r.URL.Query()
	page := max(atoiDefault(q.Get("page"), 1), 1)
	perPage := min(max(atoiDefault(q.Get("per_page"), d1DefaultPerPage), d1MinPerPage), d1MaxPerPage)
	name := q.Get("name")
	var all []*d1Database
	for _, d := range s.d1[account] {
		if strings.Contains(d.name, name) {
			all = append(all, d)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].created.Equal(all[j].created) {
			return all[i].created.After(all[j].created)
		}
		return all[i].uuid > all[j].uuid
	})
	total := len(all)
	start := min((page-1)*perPage, total)
	end := min(start+perPage, total)
	result := make([]d1DatabaseJSON, 0, end-start)
	for _, d := range all[start:end] {
		result = append(result, d.json())
	}
	return okList(result, resultInfo{Page: page, PerPage: perPage, Count: len(result), TotalCount: total,
		TotalPages: (total + perPage - 1) / perPage})
}

func (s *Server) d1DatabaseFor(c *call) (string, *d1Database, *reply) {
	account, rep := s.accountFor(c)
	if rep != nil {
		return "", nil, rep
	}
	id := c.r.PathValue("database_id")
	d := s.d1[account][id]
	if d == nil {
		rep := fail(http.StatusNotFound, errD1NotFound(id))
		return "", nil, &rep
	}
	return account, d, nil
}

// GET /accounts/{account_id}/d1/database/{database_id}
func (s *Server) getD1Database(c *call) reply {
	_, d, rep := s.d1DatabaseFor(c)
	if rep != nil {
		return *rep
	}
	return ok(d.json())
}

// DELETE /accounts/{account_id}/d1/database/{database_id}
func (s *Server) deleteD1Database(c *call) reply {
	account, d, rep := s.d1DatabaseFor(c)
	if rep != nil {
		return *rep
	}
	delete(s.d1[account], d.uuid)
	return ok(nil)
}

// D1Database is a database as the fake holds it.
type D1Database struct {
	ID, Name, PrimaryLocationHint string
}

// D1Databases returns the account's databases, sorted by name.
func (s *Server) D1Databases(account string) []D1Database {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []D1Database
	for _, d := range s.d1[account] {
		out = append(out, D1Database{ID: d.uuid, Name: d.name, PrimaryLocationHint: d.hint})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// AddD1Database creates a database directly (as another tool or an
// interrupted run would have) and returns its UUID.
func (s *Server) AddD1Database(account, name, locationHint string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addD1Locked(account, name, locationHint).uuid
}

// RemoveD1Database deletes a database behind the client's back.
func (s *Server) RemoveD1Database(account, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.d1[account], id)
}
