// Package envfile is the one place alchemy reads configuration from the
// environment. A dotenv file (--env-file, else ./.env) is consulted before the
// process environment, so a project's .env can pin ALCHEMY_PROFILE or a
// provider's variables without exporting them.
package envfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/joho/godotenv"
)

// Source answers environment lookups.
type Source interface {
	Lookup(key string) (string, bool)
}

// Env is a dotenv file layered over the process environment.
type Env struct {
	// File is the dotenv file in use, "" when none.
	File   string
	values map[string]string
	lookup func(string) (string, bool)
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
	e.File, e.values = path, values
	return e, nil
}

// FromMap is a source with no process environment behind it, for tests and
// for callers that already resolved their variables.
func FromMap(m map[string]string) *Env {
	return &Env{values: m, lookup: func(string) (string, bool) { return "", false }}
}

// Lookup returns the dotenv value, else the process value.
func (e *Env) Lookup(key string) (string, bool) {
	if v, ok := e.values[key]; ok {
		return v, true
	}
	return e.lookup(key)
}

// FromFile reports whether key is answered by the dotenv file.
func (e *Env) FromFile(key string) bool {
	_, ok := e.values[key]
	return ok
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
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "false", "0", "no", "off":
		return false
	}
	return true
}

// MissingError is returned when a required variable is not set.
type MissingError struct{ Name string }

func (e *MissingError) Error() string { return "Missing required env: " + e.Name }

// Required returns the value of key or a *MissingError.
func Required(s Source, key string) (string, error) {
	v, ok := s.Lookup(key)
	if !ok || v == "" {
		return "", &MissingError{Name: key}
	}
	return v, nil
}
