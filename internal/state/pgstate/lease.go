package pgstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alchemy-go/alchemy/internal/lock"
	"github.com/alchemy-go/alchemy/internal/state"
	"github.com/jackc/pgx/v5"
)

// lockKey is the TypeScript tool's advisory lock key of a stage.
func lockKey(stack, stage string) string { return "alchemy:" + stack + "/" + stage }

// lockMatch is the condition on pg_locks row k that it is the granted
// advisory lock of key (an SQL expression) in this database. pg_locks splits
// the 64-bit key into two int4 halves.
func lockMatch(key string) string {
	return `k.locktype = 'advisory' and k.granted and k.objsubid = 1
		and k.database = (select oid from pg_database where datname = current_database())
		and ((k.classid::bigint << 32) | (k.objid::bigint & 4294967295)) = hashtextextended(` + key + `, 0)`
}

// leaseCols reads a lease row l: its fields, whether it expired and the
// server's time (both by the server's clock), and whether its backend
// holds the stage's lock.
var leaseCols = `l.stack, l.stage, l.epoch, l.username, l.host, l.pid, l.command, l.started_at, l.renewed_at, l.ttl_ms,
	l.backend_pid, l.released, l.renewed_at + l.ttl_ms * interval '1 millisecond' < now(), now(),
	exists (select 1 from pg_locks k where k.pid = l.backend_pid and ` + lockMatch(`'alchemy:' || l.stack || '/' || l.stage`) + `)`

// sqlFence renews the lease row only while it is still this grant's, and
// fails the statement (division by zero, SQLSTATE 22012) when it is not:
// inside a commit's transaction that rolls the whole commit back.
const sqlFence = `with r as (
		update alchemy_lease set renewed_at = now()
		where stack = $1 and stage = $2 and epoch = $3 and not released and backend_pid = pg_backend_pid()
		returning renewed_at)
	select (select renewed_at from r), 1 / (select count(*)::int from r)`

const codeFenceFailed = "22012"

type leaseRow struct {
	stack, stage string
	epoch        int64
	user, host   string
	pid          int32
	command      string
	started      time.Time
	renewed      time.Time
	ttlMS        int64
	backendPID   int32
	released     bool
	expired      bool
	now          time.Time // the server's
	locked       bool      // its backend holds the stage's lock
}

func scanLease(row pgx.Row) (*leaseRow, error) {
	var r leaseRow
	err := row.Scan(&r.stack, &r.stage, &r.epoch, &r.user, &r.host, &r.pid, &r.command, &r.started, &r.renewed, &r.ttlMS,
		&r.backendPID, &r.released, &r.expired, &r.now, &r.locked)
	return &r, err
}

var thisHost, _ = os.Hostname()

// dead reports whether the holder is a process of this host that is gone.
func (r *leaseRow) dead() bool { return r.host == thisHost && lock.ProcessDead(int(r.pid)) }

func (r *leaseRow) info() state.LeaseInfo {
	return state.LeaseInfo{
		Stack: r.stack, Stage: r.stage, User: r.user, Host: r.host, PID: int(r.pid), Command: r.command,
		Started: r.started, Renewed: r.renewed, Expires: r.renewed.Add(time.Duration(r.ttlMS) * time.Millisecond),
		Stale: r.expired || !r.locked || r.dead(),
		Token: strconv.FormatInt(r.epoch, 10),
	}
}

// takeoverReason says why a live-locked lease may be taken over, "" when it
// may not.
func (r *leaseRow) takeoverReason() string {
	if r.expired {
		return fmt.Sprintf("its last heartbeat was %s ago, past its TTL of %s",
			r.now.Sub(r.renewed).Round(time.Second), time.Duration(r.ttlMS)*time.Millisecond)
	}
	if r.dead() {
		return fmt.Sprintf("its process (pid %d) on this host is gone", r.pid)
	}
	return ""
}

// holder is who has a stage's lock while Acquire waits.
type holder struct {
	lockPID int32 // 0: nobody
	row     *leaseRow
	// Who holds the lock when it is not an alchemy-go lease (the
	// TypeScript tool, say), from pg_stat_activity.
	user, addr, app string
	since           *time.Time
}

func (h *holder) info(stack, stage string) state.LeaseInfo {
	if h.row != nil && h.row.backendPID == h.lockPID {
		return h.row.info()
	}
	host := h.addr
	if host == "" {
		host = "a local client"
	}
	app := ""
	if h.app != "" {
		app = ", application_name " + strconv.Quote(h.app)
	}
	i := state.LeaseInfo{Stack: stack, Stage: stage, User: h.user, Host: host,
		Command: fmt.Sprintf("a session (PostgreSQL backend pid %d%s) holding the stage's advisory lock without an alchemy-go lease: the TypeScript tool?", h.lockPID, app)}
	if h.since != nil {
		i.Started = *h.since
	}
	return i
}

func (b *Backend) holder(ctx context.Context, c *pgx.Conn, stack, stage, key string) (*holder, error) {
	batch := &pgx.Batch{}
	batch.Queue(`select `+leaseCols+` from alchemy_lease l where l.stack = $1 and l.stage = $2`, stack, stage)
	batch.Queue(`select k.pid, coalesce(a.usename::text, ''), coalesce(host(a.client_addr), ''), coalesce(a.application_name, ''), a.backend_start
		from pg_locks k left join pg_stat_activity a on a.pid = k.pid where `+lockMatch("$1")+` limit 1`, key)
	br := c.SendBatch(ctx, batch)
	defer br.Close()
	h := &holder{}
	row, err := scanLease(br.QueryRow())
	switch {
	case err == nil:
		h.row = row
	case !errors.Is(err, pgx.ErrNoRows):
		return nil, err
	}
	err = br.QueryRow().Scan(&h.lockPID, &h.user, &h.addr, &h.app, &h.since)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	}
	return h, br.Close()
}

// Acquire takes the lease of stack/stage (see the package comment).
func (b *Backend) Acquire(ctx context.Context, stack, stage string, opts state.LeaseOptions) (state.Lease, error) {
	if err := validate(stack, stage); err != nil {
		return nil, err
	}
	if opts.TTL <= 0 {
		opts.TTL = state.DefaultTTL
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = opts.TTL / 6
	}
	id := state.ThisProcess()
	if opts.Identity != nil {
		id = *opts.Identity
	}
	c, err := pgx.ConnectConfig(ctx, b.conn.Copy())
	if err != nil {
		return nil, b.connectError(err)
	}
	l, err := b.acquire(ctx, c, stack, stage, id, opts)
	if err != nil {
		c.Close(context.Background()) // frees the lock if we had it
		var held *state.HeldError
		if errors.As(err, &held) {
			return nil, err
		}
		return nil, b.errorf(err, "taking the lease of %s/%s in %s", stack, stage, b.describe)
	}
	return l, nil
}

func (b *Backend) acquire(ctx context.Context, c *pgx.Conn, stack, stage string, id state.Identity, opts state.LeaseOptions) (*lease, error) {
	key := lockKey(stack, stage)
	start := time.Now()
	waiting := false
	for {
		var got bool
		if err := c.QueryRow(ctx, "select pg_try_advisory_lock(hashtextextended($1, 0))", key).Scan(&got); err != nil {
			return nil, err
		}
		if got {
			return b.grant(ctx, c, stack, stage, id, opts)
		}
		h, err := b.holder(ctx, c, stack, stage, key)
		if err != nil {
			return nil, err
		}
		ours := h.row != nil && h.lockPID != 0 && h.row.backendPID == h.lockPID
		switch {
		case h.lockPID == 0:
			// Released between the two looks.
			time.Sleep(5 * time.Millisecond)
			continue
		case ours && h.row.released:
			// Released or broken: its session is ending.
			if got, err := lockWait(ctx, c, key, 5*time.Second); err != nil || got {
				return b.grantOr(ctx, c, stack, stage, id, opts, err)
			}
			continue
		case ours:
			if reason := h.row.takeoverReason(); reason != "" {
				got, err := b.takeOver(ctx, c, h.row, key, reason)
				if err != nil || got {
					return b.grantOr(ctx, c, stack, stage, id, opts, err)
				}
				continue
			}
		}
		info := h.info(stack, stage)
		elapsed := time.Since(start)
		if elapsed >= opts.Wait {
			held := &state.HeldError{Info: info}
			if waiting {
				held.Waited = elapsed
			}
			return nil, held
		}
		if !waiting {
			waiting = true
			if opts.OnWait != nil {
				opts.OnWait(info)
			}
		}
		// Block on the lock itself, so a release wakes us at once; look at
		// the lease row again every second for an expiry.
		if got, err := lockWait(ctx, c, key, min(opts.Wait-elapsed, time.Second)); err != nil || got {
			return b.grantOr(ctx, c, stack, stage, id, opts, err)
		}
	}
}

func (b *Backend) grantOr(ctx context.Context, c *pgx.Conn, stack, stage string, id state.Identity, opts state.LeaseOptions, err error) (*lease, error) {
	if err != nil {
		return nil, err
	}
	return b.grant(ctx, c, stack, stage, id, opts)
}

// lockWait blocks in pg_advisory_lock for up to d.
func lockWait(ctx context.Context, c *pgx.Conn, key string, d time.Duration) (bool, error) {
	ms := max(d.Milliseconds(), 1)
	if _, err := c.Exec(ctx, "select set_config('lock_timeout', $1, false)", strconv.FormatInt(ms, 10)); err != nil {
		return false, err
	}
	_, err := c.Exec(ctx, "select pg_advisory_lock(hashtextextended($1, 0))", key)
	if _, rerr := c.Exec(ctx, "select set_config('lock_timeout', '0', false)"); rerr != nil && err == nil {
		err = rerr
	}
	if pgCode(err) == "55P03" { // lock_not_available: timed out
		return false, nil
	}
	return err == nil, err
}

// takeOver ends the session of a holder whose lease may be taken over, and
// waits for its lock. The checks run again in the statement itself, so a
// holder that renewed or changed meanwhile is left alone (false, nil).
func (b *Backend) takeOver(ctx context.Context, c *pgx.Conn, r *leaseRow, key, reason string) (bool, error) {
	var ended bool
	err := c.QueryRow(ctx, `select pg_terminate_backend(k.pid)
		from alchemy_lease l join pg_locks k on k.pid = l.backend_pid
		where l.stack = $2 and l.stage = $3 and l.epoch = $4 and not l.released and `+lockMatch("$1")+`
		and ($5 or l.renewed_at + l.ttl_ms * interval '1 millisecond' < now())`,
		key, r.stack, r.stage, r.epoch, !r.expired).Scan(&ended)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		if pgCode(err) == "42501" {
			return false, b.cannotTerminate(r, "it may be taken over ("+reason+")", err)
		}
		return false, err
	}
	if !ended {
		return false, nil
	}
	b.warn(fmt.Sprintf("took over the lease of %s/%s from %s: %s", r.stack, r.stage, r.info().Holder(), reason))
	return lockWait(ctx, c, key, 10*time.Second)
}

// cannotTerminate explains a refused pg_terminate_backend; why is what
// ending the session was for.
func (b *Backend) cannotTerminate(r *leaseRow, why string, err error) error {
	return b.errorf(err, "the lease of %s/%s is held by %s; %s, but this role may not end its session (PostgreSQL backend pid %d): "+
		"run as the holder's role, grant this role pg_signal_backend (GRANT pg_signal_backend TO <role>), "+
		"or have an administrator run SELECT pg_terminate_backend(%d)", r.stack, r.stage, r.info().Holder(), why, r.backendPID, r.backendPID)
}

// grant records this session as the stage's holder, with the next epoch.
func (b *Backend) grant(ctx context.Context, c *pgx.Conn, stack, stage string, id state.Identity, opts state.LeaseOptions) (*lease, error) {
	l := &lease{b: b, c: c, stack: stack, stage: stage, key: lockKey(stack, stage), ttl: opts.TTL, hb: opts.Heartbeat,
		reqs: make(chan *request, 1024), done: make(chan struct{}), lost: make(chan struct{}), stop: make(chan struct{})}
	l.info = state.LeaseInfo{Stack: stack, Stage: stage, User: id.User, Host: id.Host, PID: id.PID, Command: opts.Command}
	err := c.QueryRow(ctx, `insert into alchemy_lease as l
			(stack, stage, epoch, username, host, pid, command, started_at, renewed_at, ttl_ms, backend_pid, released)
		values ($1, $2, 1, $3, $4, $5, $6, now(), now(), $7, pg_backend_pid(), false)
		on conflict (stack, stage) do update set epoch = l.epoch + 1, username = excluded.username, host = excluded.host,
			pid = excluded.pid, command = excluded.command, started_at = now(), renewed_at = now(), ttl_ms = excluded.ttl_ms,
			backend_pid = excluded.backend_pid, released = false
		returning epoch, started_at, renewed_at`,
		stack, stage, id.User, id.Host, id.PID, opts.Command, opts.TTL.Milliseconds()).Scan(&l.epoch, &l.info.Started, &l.info.Renewed)
	if err != nil {
		return nil, err
	}
	l.info.Token = strconv.FormatInt(l.epoch, 10)
	l.info.Expires = l.info.Renewed.Add(l.ttl)
	l.lastOK = time.Now()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, errors.New("the backend is closed")
	}
	b.leases[l] = struct{}{}
	b.mu.Unlock()
	go l.run()
	return l, nil
}

// Leases lists the leases that are held, or were left by holders that died.
func (b *Backend) Leases(ctx context.Context) ([]state.LeaseInfo, error) {
	rows, _ := b.pool.Query(ctx, `select `+leaseCols+` from alchemy_lease l`)
	defer rows.Close()
	var out []state.LeaseInfo
	for rows.Next() {
		r, err := scanLease(rows)
		if err != nil {
			return nil, b.errorf(err, "listing leases in %s", b.describe)
		}
		if !r.released || r.locked {
			out = append(out, r.info())
		}
	}
	if err := rows.Err(); err != nil {
		return nil, b.errorf(err, "listing leases in %s", b.describe)
	}
	slices.SortFunc(out, func(a, b state.LeaseInfo) int {
		if c := strings.Compare(a.Stack, b.Stack); c != 0 {
			return c
		}
		return strings.Compare(a.Stage, b.Stage)
	})
	return out, nil
}

// Break ends the lease of stack/stage if its token (epoch) is still token:
// the row is marked released and the holder's session terminated in one
// transaction, then Break waits until the lock is free.
func (b *Backend) Break(ctx context.Context, stack, stage, token string) error {
	if err := validate(stack, stage); err != nil {
		return err
	}
	key := lockKey(stack, stage)
	var r *leaseRow
	err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		var err error
		r, err = scanLease(tx.QueryRow(ctx, `select `+leaseCols+` from alchemy_lease l where l.stack = $1 and l.stage = $2 for update of l`, stack, stage))
		if errors.Is(err, pgx.ErrNoRows) {
			r = nil
			return nil
		}
		if err != nil {
			return err
		}
		if r.released && !r.locked {
			r = nil // no lease
			return nil
		}
		if strconv.FormatInt(r.epoch, 10) != token {
			return &state.HeldError{Info: r.info()}
		}
		if _, err := tx.Exec(ctx, `update alchemy_lease set released = true where stack = $1 and stage = $2 and epoch = $3`, stack, stage, r.epoch); err != nil {
			return err
		}
		if r.locked {
			if _, err := tx.Exec(ctx, `select pg_terminate_backend(k.pid) from pg_locks k where k.pid = $2 and `+lockMatch("$1"), key, r.backendPID); err != nil {
				if pgCode(err) == "42501" {
					return b.cannotTerminate(r, "breaking it means ending the holder's session", err)
				}
				return err
			}
		}
		return nil
	})
	var held *state.HeldError
	if errors.As(err, &held) {
		return err
	}
	if err != nil {
		return b.errorf(err, "breaking the lease of %s/%s in %s", stack, stage, b.describe)
	}
	if r == nil || !r.locked {
		return nil
	}
	// The session ends asynchronously: wait, so the next Acquire gets the
	// lock at once.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var stillHeld bool
		err := b.pool.QueryRow(ctx, `select exists (select 1 from pg_locks k where k.pid = $2 and `+lockMatch("$1")+`)`, key, r.backendPID).Scan(&stillHeld)
		if err != nil {
			return b.errorf(err, "breaking the lease of %s/%s in %s", stack, stage, b.describe)
		}
		if !stillHeld {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("broke the lease of %s/%s, but its holder's session (PostgreSQL backend pid %d) still holds the lock after 10s", stack, stage, r.backendPID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lease is a held lease: a dedicated connection, owned by one writer
// goroutine (run) through which every write, heartbeat and the release go.
type lease struct {
	b            *Backend
	c            *pgx.Conn // used by run only
	stack, stage string
	key          string
	epoch        int64
	ttl, hb      time.Duration

	reqs     chan *request
	done     chan struct{} // run has returned and closed c
	lost     chan struct{}
	stop     chan struct{} // abandon: the backend is closing
	stopOnce sync.Once

	mu     sync.Mutex
	info   state.LeaseInfo
	err    error // why the lease was lost
	ended  error // why it may not be used although not lost (released)
	lastOK time.Time
}

var _ state.Lease = (*lease)(nil)

type reqKind int

const (
	reqWrite reqKind = iota
	reqCheck
	reqRelease
)

// request is one call handed to the writer. done is buffered: the writer
// never blocks on it.
type request struct {
	kind reqKind
	ctx  context.Context
	op   op
	done chan error
}

type opKind int

const (
	opSet opKind = iota
	opDelete
	opSetOutput // value "" removes the output
	opDeleteStage
)

type op struct {
	kind  opKind
	fqn   string
	value string
}

func (l *lease) Info() state.LeaseInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.info
}

func (l *lease) Store() state.Store    { return &leaseStore{l} }
func (l *lease) Lost() <-chan struct{} { return l.lost }

func (l *lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// unusable is why the lease can take no more writes, nil while it can.
func (l *lease) unusable() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	return l.ended
}

func (l *lease) lose(reason string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = &state.LostError{Stack: l.stack, Stage: l.stage, Reason: reason}
		close(l.lost)
	}
	return l.err
}

func (l *lease) end(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended == nil {
		l.ended = err
	}
}

// Check returns Err, renewing the lease first when the last renewal is
// older than a heartbeat.
func (l *lease) Check() error {
	if err := l.unusable(); err != nil {
		return err
	}
	l.mu.Lock()
	fresh := time.Since(l.lastOK) < l.hb
	l.mu.Unlock()
	if fresh {
		return nil
	}
	return l.call(&request{kind: reqCheck, ctx: context.Background(), done: make(chan error, 1)})
}

// Release gives the lease up: the row is marked released (if it is still
// this grant's), the lock unlocked and the connection closed.
func (l *lease) Release() error {
	err := l.call(&request{kind: reqRelease, ctx: context.Background(), done: make(chan error, 1)})
	l.b.mu.Lock()
	delete(l.b.leases, l)
	l.b.mu.Unlock()
	var lost *state.LostError
	if errors.As(err, &lost) {
		return nil // nothing left to release
	}
	return err
}

// abandon stops the writer without releasing: closing the connection frees
// the lock on the server.
func (l *lease) abandon() {
	l.end(&state.LostError{Stack: l.stack, Stage: l.stage, Reason: "the state backend was closed"})
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
}

// call hands r to the writer and waits for its answer.
func (l *lease) call(r *request) error {
	if err := l.unusable(); err != nil {
		return err
	}
	select {
	case l.reqs <- r:
	case <-l.done:
		return l.stopped()
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-l.done:
		// The writer answers before it stops: an answer wins.
		select {
		case err := <-r.done:
			return err
		default:
			return l.stopped()
		}
	}
}

func (l *lease) stopped() error {
	if err := l.unusable(); err != nil {
		return err
	}
	return &state.LostError{Stack: l.stack, Stage: l.stage, Reason: "it was released"}
}

const maxBatch = 4096

// run is the writer: it owns the connection until the lease ends.
func (l *lease) run() {
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		l.c.Close(ctx)
		cancel()
		close(l.done)
	}()
	tick := time.NewTicker(l.hb)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
			l.mu.Lock()
			recent := time.Since(l.lastOK) < l.hb/2 // a commit renewed it
			l.mu.Unlock()
			if !recent && l.renew() != nil {
				return
			}
		case r := <-l.reqs:
			if r.kind != reqWrite {
				if !l.control(r) {
					return
				}
				continue
			}
			batch := []*request{r}
			var ctl *request
		drain:
			for len(batch) < maxBatch {
				select {
				case r := <-l.reqs:
					if r.kind != reqWrite {
						ctl = r
						break drain
					}
					batch = append(batch, r)
				default:
					break drain
				}
			}
			if !l.commit(batch) {
				if ctl != nil {
					ctl.done <- l.unusable()
				}
				return
			}
			if ctl != nil && !l.control(ctl) {
				return
			}
		}
	}
}

// control runs a check or the release; false when the writer must stop.
func (l *lease) control(r *request) bool {
	switch r.kind {
	case reqCheck:
		err := l.renew()
		r.done <- err
		return err == nil
	case reqRelease:
		l.end(&state.LostError{Stack: l.stack, Stage: l.stage, Reason: "it was released"})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		batch := &pgx.Batch{}
		batch.Queue(`update alchemy_lease set released = true, renewed_at = now()
			where stack = $1 and stage = $2 and epoch = $3 and backend_pid = pg_backend_pid()`, l.stack, l.stage, l.epoch)
		batch.Queue(`select pg_advisory_unlock(hashtextextended($1, 0))`, l.key)
		if err := l.c.SendBatch(ctx, batch).Close(); err != nil {
			// Closing the connection frees the lock all the same; the row
			// reads as stale until the next Acquire takes it over.
			l.b.warn(fmt.Sprintf("releasing the lease of %s/%s: %v (the lock is freed as the connection closes)", l.stack, l.stage, redact(err, l.b.secrets)))
		}
		r.done <- nil
		return false
	}
	return true
}

func (l *lease) opTimeout() time.Duration { return max(2*l.ttl, 30*time.Second) }

// renew is the heartbeat: the fence on its own.
func (l *lease) renew() error {
	ctx, cancel := context.WithTimeout(context.Background(), l.opTimeout())
	defer cancel()
	var renewed time.Time
	var one int32
	err := l.c.QueryRow(ctx, sqlFence, l.stack, l.stage, l.epoch).Scan(&renewed, &one)
	if err != nil {
		return l.lost0(err, pgCode(err) == codeFenceFailed)
	}
	l.renewed(renewed)
	return nil
}

func (l *lease) renewed(at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lastOK = time.Now()
	l.info.Renewed = at
	l.info.Expires = at.Add(l.ttl)
}

// lost0 turns a failed renewal or commit into the lost lease it means.
func (l *lease) lost0(err error, fenced bool) error {
	if fenced {
		return l.lose(fmt.Sprintf("it was taken over or broken (grant %d is no longer current)", l.epoch))
	}
	return l.lose("its connection to PostgreSQL failed: " + redact(err, l.b.secrets).Error())
}

// commit writes a group of requests in one transaction and answers each;
// false when the lease is lost.
func (l *lease) commit(batch []*request) bool {
	live := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- err // gave up before it was sent: not written
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return true
	}
	err, lostErr := l.send(live)
	switch {
	case lostErr != nil:
		for _, r := range live {
			r.done <- lostErr
		}
		return false
	case err == nil:
		for _, r := range live {
			r.done <- nil
		}
		return true
	case len(live) == 1:
		live[0].done <- l.b.errorf(err, "writing the state of %s/%s in %s", l.stack, l.stage, l.b.describe)
		return true
	}
	// A statement failed on a live connection: commit each request alone,
	// so that only the one at fault fails.
	for i, r := range live {
		if !l.commit([]*request{r}) {
			for _, rest := range live[i+1:] {
				rest.done <- l.unusable()
			}
			return false
		}
	}
	return true
}

// send commits reqs in one pipelined batch: the fence, then the writes
// folded into at most five statements. lostErr is set when the lease is
// lost; err for any other failure (nothing was written).
func (l *lease) send(reqs []*request) (err, lostErr error) {
	var (
		wipe   bool
		rows   = map[string]*string{} // nil: delete
		output *string                // nil: untouched; "": delete
	)
	for _, r := range reqs {
		switch o := r.op; o.kind {
		case opSet:
			v := o.value
			rows[o.fqn] = &v
		case opDelete:
			rows[o.fqn] = nil
		case opSetOutput:
			v := o.value
			output = &v
		case opDeleteStage:
			wipe, rows, output = true, map[string]*string{}, nil
		}
	}
	batch := &pgx.Batch{}
	batch.Queue(sqlFence, l.stack, l.stage, l.epoch)
	if wipe {
		batch.Queue(sqlDeleteRows, l.stack, l.stage)
		batch.Queue(sqlDeleteOut, l.stack, l.stage)
	}
	var setF, setV, delF []string
	for _, fqn := range slices.Sorted(func(yield func(string) bool) {
		for k := range rows {
			if !yield(k) {
				return
			}
		}
	}) {
		if v := rows[fqn]; v != nil {
			setF, setV = append(setF, fqn), append(setV, *v)
		} else {
			delF = append(delF, fqn)
		}
	}
	switch len(setF) {
	case 0:
	case 1:
		batch.Queue(sqlSet, l.stack, l.stage, setF[0], setV[0])
	default:
		batch.Queue(sqlSetMany, l.stack, l.stage, setF, setV)
	}
	switch len(delF) {
	case 0:
	case 1:
		batch.Queue(sqlDelete, l.stack, l.stage, delF[0])
	default:
		batch.Queue(sqlDeleteMany, l.stack, l.stage, delF)
	}
	if output != nil {
		if *output == "" {
			batch.Queue(sqlDeleteOut, l.stack, l.stage)
		} else {
			batch.Queue(sqlSetOutput, l.stack, l.stage, *output)
		}
	}
	if l.b.opts.beforeCommit != nil {
		l.b.opts.beforeCommit()
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.opTimeout())
	defer cancel()
	br := l.c.SendBatch(ctx, batch)
	var renewed time.Time
	var one int32
	err = br.QueryRow().Scan(&renewed, &one)
	fenced := pgCode(err) == codeFenceFailed
	for i := 1; err == nil && i < batch.Len(); i++ {
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		l.renewed(renewed)
		return nil, nil
	}
	if fenced || l.c.IsClosed() {
		return nil, l.lost0(err, fenced)
	}
	return err, nil
}

// leaseStore is the Store of a lease: reads from the pool, writes through
// the lease's connection, fenced.
type leaseStore struct{ l *lease }

var (
	_ state.Store      = (*leaseStore)(nil)
	_ state.BulkReader = (*leaseStore)(nil)
)

func (s *leaseStore) List(ctx context.Context, stack, stage string) ([]string, error) {
	return s.l.b.List(ctx, stack, stage)
}

func (s *leaseStore) Get(ctx context.Context, stack, stage, fqn string) (*state.Row, error) {
	return s.l.b.Get(ctx, stack, stage, fqn)
}

func (s *leaseStore) GetAll(ctx context.Context, stack, stage string) (map[string]*state.Row, error) {
	return s.l.b.GetAll(ctx, stack, stage)
}

func (s *leaseStore) GetOutput(ctx context.Context, stack, stage string) (json.RawMessage, error) {
	return s.l.b.GetOutput(ctx, stack, stage)
}

func (s *leaseStore) Stacks(ctx context.Context) ([]string, error) { return s.l.b.Stacks(ctx) }

func (s *leaseStore) Stages(ctx context.Context, stack string) ([]string, error) {
	return s.l.b.Stages(ctx, stack)
}

func (s *leaseStore) Set(ctx context.Context, stack, stage string, row *state.Row) error {
	value, err := encodeRow(row)
	if err != nil {
		return err
	}
	return s.write(ctx, stack, stage, op{kind: opSet, fqn: row.FQN, value: value})
}

func (s *leaseStore) Delete(ctx context.Context, stack, stage, fqn string) error {
	if fqn == "" {
		return errors.New("state delete: empty FQN")
	}
	return s.write(ctx, stack, stage, op{kind: opDelete, fqn: fqn})
}

func (s *leaseStore) SetOutput(ctx context.Context, stack, stage string, out json.RawMessage) error {
	value, err := encodeOutput(stack, stage, out)
	if err != nil {
		return err
	}
	return s.write(ctx, stack, stage, op{kind: opSetOutput, value: value})
}

func (s *leaseStore) DeleteStage(ctx context.Context, stack, stage string) error {
	return s.write(ctx, stack, stage, op{kind: opDeleteStage})
}

func (s *leaseStore) write(ctx context.Context, stack, stage string, o op) error {
	if err := validate(stack, stage); err != nil {
		return err
	}
	if stack != s.l.stack || stage != s.l.stage {
		return fmt.Errorf("the lease of %s/%s does not cover %s/%s: take that stage's lease to write it", s.l.stack, s.l.stage, stack, stage)
	}
	return s.l.call(&request{kind: reqWrite, ctx: ctx, op: o, done: make(chan error, 1)})
}
