// Package pgstate is the PostgreSQL state backend: rows, stack outputs and
// stage leases in one database, shared by every machine that deploys a
// stack (a team, CI).
//
// # Tables
//
// Rows and outputs live in the TypeScript tool's two tables, with the same
// columns and the same row JSON, so either tool can read a stage the other
// wrote:
//
//	alchemy_resource_state(stack, stage, fqn, value jsonb, updated_at, PK(stack, stage, fqn))
//	alchemy_stack_output(stack, stage, value jsonb, updated_at, PK(stack, stage))
//
// Two more are ours: alchemy_go_schema(version) and alchemy_lease (one row
// per stage ever leased). Open creates them on first use and migrates them
// by version, in one transaction under the TypeScript tool's schema lock
// (pg_advisory_xact_lock(hashtextextended('alchemy:schema', 0))), so
// concurrent first uses, by either tool, never collide. A schema newer than
// this build knows is refused.
//
// # Leases and fencing
//
// A lease is a PostgreSQL session: the holder opens one dedicated
// connection for the whole lease and takes the session advisory lock
// pg_try_advisory_lock(hashtextextended('alchemy:'||stack||'/'||stage, 0))
// on it. That is the TypeScript tool's lock key, so the two tools exclude
// each other on one database. It then bumps the stage's lease row (epoch+1,
// holder user@host pid and command, started_at and renewed_at from the
// server's clock, TTL, backend_pid = pg_backend_pid()).
//
// Every write of the lease's Store goes through that connection, one
// transaction per commit, and the transaction's first statement renews the
// lease row only WHERE epoch = mine AND backend_pid = pg_backend_pid() AND
// NOT released, failing the transaction when no row matches. So:
//
//   - once the connection is gone (terminated, dropped, timed out), the
//     holder can never write again: there is no reconnect, every later write
//     and heartbeat fails with a *state.LostError and Lost is closed;
//   - a write that raced the loss either committed before the lease changed
//     hands (the row lock on the lease row orders it before the takeover) or
//     is rolled back with its whole transaction;
//   - the epoch check is belt and braces for setups where "the connection"
//     is not one server session (a transaction pooler): a new holder bumps
//     the epoch, and the old holder's next commit matches no row.
//
// The holder renews renewed_at = now() every Heartbeat (default TTL/6; the
// default TTL is state.DefaultTTL) on the same connection; a failed renewal
// loses the lease. Lease times always come from the server's clock (now()),
// never from a client's.
//
// Acquire while another holder has the lock: if the holder's lease row
// expired (renewed_at + ttl < now()), or its host is this host and its pid
// is dead, the acquirer ends the holder's session with
// pg_terminate_backend(backend_pid) (the same role or pg_signal_backend is
// needed; without it Acquire fails saying so), which frees the advisory lock
// and kills the only connection the old holder could write through; then it
// takes the lock and bumps the epoch. A backend is only terminated while
// pg_locks shows it holding that stage's lock, so a reused backend pid is
// never hit. A holder whose process or host died releases the lock when its
// connection drops, so the next Acquire usually gets the lock at once; the
// TTL covers a paused holder or a half-open connection. Otherwise Acquire
// waits (blocking in pg_advisory_lock under a lock_timeout, so it wakes the
// moment the lock is released, and re-reading the lease row every second)
// up to Wait, then fails with a *state.HeldError naming the holder. A lock
// held without a lease row of ours (the TypeScript tool) is waited for,
// never broken.
//
// Break(token) marks the lease row released and terminates the holder's
// session in one transaction, only if the row's epoch is still token, then
// waits until the lock is free. Release marks the row released (if the
// epoch is still ours), unlocks and closes the connection. Leases lists
// rows that are not released or whose lock is still held; one is Stale when
// it expired, its pid is dead on this host, or its backend no longer holds
// the lock.
//
// # Batching
//
// Concurrent writes of a lease's Store are group-committed: the connection's
// writer takes every write queued while the previous commit ran, folds them
// into at most six statements (the fence, one upsert of all rows via
// unnest, one delete, the output) and sends them as one pipelined batch:
// one round trip, one transaction. Each caller returns once its write is
// committed. Reads, and the Backend's own unleased writes, use a connection
// pool; GetAll reads a whole stage in one query (state.LoadAll uses it).
//
// Requirements: a direct connection or a session-mode pooler (session
// advisory locks need a session), and a role that may create tables in the
// connection's schema (on first use) and terminate other sessions of the
// same role (takeover, break).
package pgstate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/alchemy-go/alchemy/internal/state"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Options tunes Open. The zero value is the default.
type Options struct {
	// Warn receives notices for people: a lease taken over from a holder
	// that stopped renewing it, a holder whose session could not be ended.
	Warn func(string)
	// MaxConns caps the pool used for reads and unleased writes (not the
	// leases' own connections); default 8.
	MaxConns int32

	// beforeCommit, when set, runs on the lease's writer after a commit's
	// batch is built and before it is sent (tests: terminate the holder's
	// connection at that moment).
	beforeCommit func()
}

// Backend is a PostgreSQL state store. It implements state.Backend.
type Backend struct {
	pool     *pgxpool.Pool
	conn     *pgx.ConnConfig // for the leases' dedicated connections
	describe string
	secrets  []string
	opts     Options

	mu     sync.Mutex
	leases map[*lease]struct{}
	closed bool
}

var (
	_ state.Backend    = (*Backend)(nil)
	_ state.BulkReader = (*Backend)(nil)
)

// OpenBackend is Open as internal/state/backends calls it (see pglink).
func OpenBackend(ctx context.Context, dsn string, warn func(string)) (state.Backend, error) {
	b, err := Open(ctx, dsn, Options{Warn: warn})
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return b, nil
}

// Open connects to the database named by dsn (a postgres:// URL or a
// key=value DSN, as libpq takes them; the password may come from the DSN,
// PGPASSWORD or ~/.pgpass), creates or migrates the tables, and returns the
// backend. Errors never contain the password.
func Open(ctx context.Context, dsn string, opts Options) (*Backend, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, parseError(dsn, err)
	}
	b := &Backend{opts: opts, leases: map[*lease]struct{}{}}
	b.secrets = secretsOf(dsn, cfg.ConnConfig)
	b.describe = describe(cfg.ConnConfig)
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "alchemy-go"
	}
	cfg.MaxConns = 8
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	b.conn = cfg.ConnConfig.Copy()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, b.connectError(err)
	}
	b.pool = pool
	if err := b.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return b, nil
}

// Describe is postgres://user@host:port/database, never the password.
func (b *Backend) Describe() string { return b.describe }

// Close closes the pool. A lease still held has its connection closed,
// which frees its lock on the server.
func (b *Backend) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	held := make([]*lease, 0, len(b.leases))
	for l := range b.leases {
		held = append(held, l)
	}
	b.mu.Unlock()
	for _, l := range held {
		l.abandon()
	}
	b.pool.Close()
	return nil
}

func (b *Backend) warn(msg string) {
	if b.opts.Warn != nil {
		b.opts.Warn(msg)
	}
}

func describe(c *pgx.ConnConfig) string {
	host := c.Host
	if strings.HasPrefix(host, "/") { // a Unix socket directory
		return fmt.Sprintf("postgres://%s@/%s?host=%s", url.PathEscape(c.User), url.PathEscape(c.Database), url.QueryEscape(host))
	}
	u := url.URL{Scheme: "postgres", User: url.User(c.User), Host: net.JoinHostPort(host, strconv.Itoa(int(c.Port))), Path: "/" + c.Database}
	return u.String()
}

// secretsOf lists the strings no message may contain: the password, as
// given and as it may appear escaped in a URL.
func secretsOf(dsn string, c *pgx.ConnConfig) []string {
	var pws []string
	add := func(pw string) {
		if pw == "" {
			return
		}
		pws = append(pws, pw, url.QueryEscape(pw), url.PathEscape(pw), url.UserPassword("u", pw).String()[2:])
	}
	add(c.Password)
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			add(pw)
		}
	}
	return pws
}

// redactedError is an error whose message had the password cut out; it
// still unwraps to the original for errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func redact(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	out := msg
	for _, s := range secrets {
		out = strings.ReplaceAll(out, s, "xxxxx")
	}
	if out == msg {
		return err
	}
	return &redactedError{msg: out, err: err}
}

// errorf wraps err with a message and takes the password out of the result.
func (b *Backend) errorf(err error, format string, args ...any) error {
	return redact(fmt.Errorf(format+": %w", append(args, err)...), b.secrets)
}

func parseError(dsn string, err error) error {
	var secrets []string
	if u, perr := url.Parse(dsn); perr == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			secrets = secretsOf("", &pgx.ConnConfig{Config: pgconn.Config{Password: pw}})
		}
	}
	if i := strings.Index(dsn, "password="); i >= 0 {
		pw := dsn[i+len("password="):]
		if j := strings.IndexAny(pw, " &"); j >= 0 {
			pw = pw[:j]
		}
		secrets = append(secrets, strings.Trim(pw, "'"))
	}
	return redact(fmt.Errorf("the PostgreSQL state URL is not valid (want postgres://user@host:port/database or host=... dbname=...): %w", err), secrets)
}

// connectError explains a failure to reach the server.
func (b *Backend) connectError(err error) error {
	hint := "check that the server runs and the URL's host and port"
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01", "28000":
			hint = "check the user and password (in the URL, PGPASSWORD or ~/.pgpass)"
		case "3D000":
			hint = "create the database first (createdb), or fix its name in the URL"
		}
	}
	return redact(fmt.Errorf("connecting to %s: %w; %s", b.describe, err, hint), b.secrets)
}

// pgCode is the SQLSTATE of err, "" when it is not a server error.
func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func validate(stack, stage string) error {
	if err := state.ValidateSegment("stack", stack); err != nil {
		return err
	}
	return state.ValidateSegment("stage", stage)
}
