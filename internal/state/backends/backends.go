// Package backends opens the state backend a URL names: the local store
// (file://PATH or a plain path), PostgreSQL (postgres://…) or S3
// (s3://bucket/prefix?region=…&endpoint=…). It is the one place that knows
// every backend; the CLI only hands it a URL and the means to reach a
// store (environment, AWS configuration).
package backends

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/state"
	"github.com/alchemy-go/alchemy/internal/state/s3state/s3url"
)

// OpenPostgres opens a PostgreSQL store: pgstate's, set by importing
// internal/state/pgstate/pglink. The alchemy binary always links it; a
// stack program only when its state is on PostgreSQL (the driver is a
// fifth of the program, and of the time it takes to link): nil there
// otherwise, and Open says so with a *NotLinkedError.
var OpenPostgres func(ctx context.Context, dsn string, warn func(string)) (state.Backend, error)

// OpenS3 opens an S3 store: s3state's, set by importing
// internal/state/s3state/s3link, which also links the AWS auth provider
// whose credentials sign its requests. Linked like OpenPostgres: always in
// the alchemy binary, in a stack program only when its state is on S3.
var OpenS3 func(ctx context.Context, loc s3url.Location, o Options) (state.Backend, error)

// NotLinkedError is a store this program was built without.
type NotLinkedError struct {
	Display string // the store, without secrets
	Feature string // what links it: "postgres", "s3"
}

func (e *NotLinkedError) Error() string {
	return fmt.Sprintf("this program was built without the %s state store (%s); run the stack with the alchemy command, which builds it in when a stack needs it", e.Feature, e.Display)
}

// Needs reports which store a program must link to open rawURL, when this
// one did not: "" when it can open it (or rawURL is not a valid URL, for
// Open to say why).
func Needs(rawURL, root string) string {
	loc, err := Parse(rawURL, root)
	switch {
	case err != nil:
	case loc.Kind == Postgres && OpenPostgres == nil:
		return "postgres"
	case loc.Kind == S3 && OpenS3 == nil:
		return "s3"
	}
	return ""
}

// Options are what opening a backend may need.
type Options struct {
	// Root is the stack's module root: the default store lives in
	// Root/.alchemy, and a relative local path is relative to it.
	Root string
	// Getenv reads the environment (ALCHEMY_PASSWORD, a DSN's password
	// variables); nil reads nothing.
	Getenv func(string) string
	// AWSCredentials resolves the credentials of a profile, for an s3://
	// store: the one its URL names (?profile=), or the selected one when
	// profile is "". Called only when one is opened, which then asks the
	// result for the AWS provider's credentials.
	AWSCredentials func(ctx context.Context, profile string) (Credentials, error)
	// Warn receives warnings (a lease found lost).
	Warn func(string)
}

func (o Options) getenv(k string) string {
	if o.Getenv == nil {
		return ""
	}
	return o.Getenv(k)
}

// Credentials resolves a provider's credentials by name (an
// auth.Resolver's Credentials).
type Credentials func(ctx context.Context, provider string) (auth.Credentials, error)

// Kind is a family of backends.
type Kind string

// The backends.
const (
	Local    Kind = "local"
	Postgres Kind = "postgres"
	S3       Kind = "s3"
)

// Location is a parsed state URL.
type Location struct {
	Kind Kind
	// URL is the URL as given ("" for the default local store).
	URL string
	// Dir is the local store's project directory (absolute): its rows are
	// in Dir/.alchemy/state.
	Dir string
	// Display names the store for people, with no password: "local
	// .alchemy/state", "postgres://alice@db:5432/state",
	// "s3://bucket/prefix".
	Display string
}

// Remote reports whether the store is shared beyond this machine.
func (l Location) Remote() bool { return l.Kind != Local }

// Parse reads a state URL without opening anything. "" is the default:
// the local store of the project at root.
func Parse(rawURL, root string) (Location, error) {
	raw := strings.TrimSpace(rawURL)
	scheme, rest, hasScheme := strings.Cut(raw, "://")
	if !hasScheme || strings.EqualFold(scheme, "file") {
		path := raw
		if hasScheme {
			path = rest
		}
		// A Windows drive letter ("C:\state") is a path, not a scheme.
		if strings.Contains(path, "?") || strings.Contains(path, "#") {
			return Location{}, fmt.Errorf("state URL %s: a local store is a directory, with no query", Redact(raw))
		}
		display := filepath.Join(path, ".alchemy", "state")
		dir := path
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(root, dir)
		}
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
		return Location{Kind: Local, URL: raw, Dir: dir, Display: "local " + display}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Location{}, fmt.Errorf("state URL %s is not a URL: use file://PATH (or a path), postgres://USER@HOST/DB or s3://BUCKET/PREFIX", Redact(raw))
	}
	switch strings.ToLower(u.Scheme) {
	case "postgres", "postgresql":
		if u.Host == "" && u.Query().Get("host") == "" {
			return Location{}, fmt.Errorf("state URL %s names no host: postgres://USER@HOST:PORT/DATABASE", Redact(raw))
		}
		return Location{Kind: Postgres, URL: raw, Display: Redact(raw)}, nil
	case "s3":
		if u.Host == "" {
			return Location{}, fmt.Errorf("state URL %s names no bucket: s3://BUCKET/PREFIX?region=REGION", Redact(raw))
		}
		sl, err := s3url.ParseURL(raw)
		if err != nil {
			return Location{}, fmt.Errorf("state URL %s: %w", Redact(raw), err)
		}
		display := sl.Describe()
		if sl.Profile != "" {
			display += " (profile " + sl.Profile + ")"
		}
		return Location{Kind: S3, URL: raw, Display: display}, nil
	}
	return Location{}, fmt.Errorf("state URL %s: unknown scheme %q. Use file://PATH (or a path), postgres://USER@HOST/DB or s3://BUCKET/PREFIX", Redact(raw), u.Scheme)
}

// Redact is rawURL without a password: the userinfo's and libpq's
// password query parameters. What cannot be parsed is shown as its scheme
// only.
func Redact(rawURL string) string {
	scheme, _, ok := strings.Cut(rawURL, "://")
	if !ok || strings.EqualFold(scheme, "file") {
		return rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return scheme + "://…"
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.User(u.User.Username())
			if u.User.Username() == "" {
				u.User = nil
			}
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			if lk := strings.ToLower(k); strings.Contains(lk, "password") || strings.Contains(lk, "secret") || strings.Contains(lk, "key") ||
				strings.Contains(lk, "token") {
				q.Set(k, "redacted")
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Open opens the backend rawURL names ("" for the default local store).
// Every backend but the local one is wrapped in the secret guard: shared
// state never takes a secret it could not give back to another machine.
func Open(ctx context.Context, rawURL string, o Options) (state.Backend, error) {
	loc, err := Parse(rawURL, o.Root)
	if err != nil {
		return nil, err
	}
	var b state.Backend
	switch loc.Kind {
	case Local:
		lb := state.NewLocalBackend(loc.Dir)
		lb.Name, lb.Warn = loc.Display, o.Warn
		return lb, nil
	case Postgres:
		// The password: in the URL, or PGPASSWORD (and ~/.pgpass), which
		// the driver reads itself; pgstate never prints it.
		if OpenPostgres == nil {
			return nil, &NotLinkedError{Display: loc.Display, Feature: "postgres"}
		}
		b, err = OpenPostgres(ctx, rawURL, o.Warn)
	case S3:
		sl, perr := s3url.ParseURL(rawURL)
		if perr != nil {
			return nil, perr
		}
		if OpenS3 == nil {
			return nil, &NotLinkedError{Display: loc.Display, Feature: "s3"}
		}
		if o.AWSCredentials == nil {
			return nil, fmt.Errorf("state in S3 (%s) needs AWS credentials, and none can be had here", loc.Display)
		}
		b, err = OpenS3(ctx, sl, o)
	}
	if err != nil {
		return nil, err
	}
	return Guard(b, loc.Display, o.getenv("ALCHEMY_PASSWORD") != ""), nil
}
