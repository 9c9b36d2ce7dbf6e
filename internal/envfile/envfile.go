// Package envfile is the one place alchemy reads configuration from the
// environment: the process environment, and under it a dotenv file
// (--env-file, else ./.env), so a project's .env can pin ALCHEMY_PROFILE or a
// provider's variables without exporting them.
//
// Two rules keep a project file from turning alchemy against its user (a
// cloned repository's .env is written by someone else):
//
//   - the process environment wins, as with every dotenv tool: a committed
//     .env never beats the secrets a CI job or a shell exports;
//   - keys that decide where credentials are sent or kept (API and OAuth
//     endpoints, proxies and trust stores, ALCHEMY_HOME, ALCHEMY_STATE,
//     BROWSER, CI) are never taken from a file at all. Load lists the ones it ignored, so the
//     user is told.
package envfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/joho/godotenv"
)

// Source answers environment lookups.
type Source interface {
	Lookup(key string) (string, bool)
}

// Env is the process environment over a dotenv file.
type Env struct {
	// File is the dotenv file in use, "" when none.
	File string
	// Ignored are the protected keys the file sets, which are not used
	// (sorted).
	Ignored []string
	values  map[string]string
	lookup  func(string) (string, bool)
}

// protectedKeys and protectedParts name the keys a file may not set: each
// decides where alchemy sends a credential, where it keeps one (or the
// state, which holds secrets and says what exists: a cloned repository's
// .env pointing ALCHEMY_STATE elsewhere would deploy everything again, or
// hand the state to a stranger), or whether it may ask a person for one.
var protectedKeys = map[string]bool{
	"ALCHEMY_HOME": true, "ALCHEMY_CACHE_DIR": true, "BROWSER": true, "CI": true,
	"AWS_CONFIG_FILE": true, "AWS_SHARED_CREDENTIALS_FILE": true, "AWS_CA_BUNDLE": true,
	"AWS_EC2_METADATA_SERVICE_ENDPOINT": true, "AWS_CONTAINER_CREDENTIALS_FULL_URI": true,
	"HTTP_PROXY": true, "HTTPS_PROXY": true, "ALL_PROXY": true, "NO_PROXY": true,
	"SSL_CERT_FILE": true, "SSL_CERT_DIR": true,
	"ALCHEMY_PLAIN": true, "ALCHEMY_NO_TUI": true, "ALCHEMY_STATE": true,
}

// Protected reports whether key may only come from the process
// environment: the keys above, any endpoint (*_BASE_URL, *_API_URL,
// *_ENDPOINT*, AWS_ENDPOINT_URL*) and any OAuth setting (*_OAUTH_*).
func Protected(key string) bool {
	k := strings.ToUpper(key)
	return protectedKeys[k] || strings.HasSuffix(k, "_BASE_URL") || strings.HasSuffix(k, "_API_URL") ||
		strings.Contains(k, "_ENDPOINT") || strings.Contains(k, "_OAUTH_") || strings.HasPrefix(k, "AWS_ENDPOINT_URL")
}

// Load builds the source for a command. With explicit set, path must exist;
// otherwise ./.env is used when present.
func Load(path string, explicit bool) (*Env, error) {
	e := &Env{lookup: os.LookupEnv}
	if !explicit {
		path = ".env"
	}
	if path == "" {
		return e, nil
	}
	values, err := godotenv.Read(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return e, nil
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("env file %s does not exist: check the --env-file path", path)
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("could not read env file %s: %v", path, pe.Err)
		}
		// The parser's message quotes the offending line, which may hold a secret.
		return nil, fmt.Errorf("could not parse env file %s: expected KEY=value lines; fix the file or pass another with --env-file", path)
	}
	for k := range values {
		if Protected(k) {
			e.Ignored = append(e.Ignored, k)
		}
	}
	sort.Strings(e.Ignored)
	e.File, e.values = path, values
	return e, nil
}

// IgnoredWarning is the warning for the protected keys the file set, ""
// when none.
func (e *Env) IgnoredWarning() string {
	if len(e.Ignored) == 0 {
		return ""
	}
	return fmt.Sprintf("%s sets %s, which decide%s where alchemy sends or keeps credentials: ignored. Only the environment can set %s (export %s in your shell to use %s).",
		e.File, strings.Join(e.Ignored, ", "), map[bool]string{true: "", false: "s"}[len(e.Ignored) > 1],
		map[bool]string{true: "them", false: "it"}[len(e.Ignored) > 1],
		map[bool]string{true: "them", false: "it"}[len(e.Ignored) > 1], map[bool]string{true: "them", false: "it"}[len(e.Ignored) > 1])
}

// FromMap is a source whose environment is m alone (no file, no process
// environment), for tests and for callers that already resolved their
// variables.
func FromMap(m map[string]string) *Env {
	return &Env{lookup: func(k string) (string, bool) { v, ok := m[k]; return v, ok }}
}

// Lookup returns the process value, else the dotenv value unless key is
// protected. A process variable set to "" counts as unset (VAR= in a shell
// or a CI config means "not this").
func (e *Env) Lookup(key string) (string, bool) {
	pv, pset := e.lookup(key)
	if pset && pv != "" {
		return pv, true
	}
	if v, ok := e.values[key]; ok && !Protected(key) {
		return v, true
	}
	return pv, pset
}

// FromFile reports whether key is answered by the dotenv file.
func (e *Env) FromFile(key string) bool {
	if v, _ := e.lookup(key); v != "" {
		return false
	}
	_, ok := e.values[key]
	return ok && !Protected(key)
}

// Shadowed reports whether the file sets key but the process environment
// wins.
func (e *Env) Shadowed(key string) bool {
	_, inFile := e.values[key]
	v, _ := e.lookup(key)
	return inFile && v != ""
}

// Get returns the value of key, "" when unset.
func Get(s Source, key string) string {
	v, _ := s.Lookup(key)
	return v
}

// Bool parses a boolean variable the forgiving way: true/1/yes/on are true,
// false/0/no/off and "" are false, and anything else non-empty is true rather
// than an error, because CI systems set CI to all sorts of values.
func Bool(s Source, key string) bool {
	v, _ := s.Lookup(key)
	return IsTrue(v)
}

// IsTrue is Bool's reading of one value.
func IsTrue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "false", "0", "no", "off":
		return false
	}
	return true
}

// MissingError names every required variable that is not set, so that
// one run says all that is missing rather than one variable a run.
type MissingError struct{ Names []string }

func (e *MissingError) Error() string { return "Missing required env: " + strings.Join(e.Names, ", ") }

// Required returns the value of key or a *MissingError.
func Required(s Source, key string) (string, error) {
	if err := RequireAll(s, key); err != nil {
		return "", err
	}
	return Get(s, key), nil
}

// RequireAll returns a *MissingError naming those of keys that are unset
// or empty, nil when all are set.
func RequireAll(s Source, keys ...string) error {
	var missing []string
	for _, k := range keys {
		if v, ok := s.Lookup(k); !ok || v == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return &MissingError{Names: missing}
	}
	return nil
}
