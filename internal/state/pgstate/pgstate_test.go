package pgstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/state"
	"github.com/alchemy-go/alchemy/internal/state/statetest"
	"github.com/alchemy-go/alchemy/internal/testpeers"
	"github.com/jackc/pgx/v5"
)

var ctx = context.Background()

// sql opens a plain connection to the test's database, the way an operator
// (or the TypeScript tool) would look at it.
func sql(t testing.TB, pg *testpeers.PG) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(ctx) })
	return c
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func fqnsInTable(t testing.TB, pg *testpeers.PG, stack, stage string) []string {
	t.Helper()
	rows, _ := sql(t, pg).Query(ctx, "select fqn from alchemy_resource_state where stack = $1 and stage = $2", stack, stage)
	fqns, err := pgx.CollectRows(rows, pgx.RowTo[string])
	must(t, err)
	slices.Sort(fqns)
	return fqns
}

// terminateHolder ends the holder's session from another connection, as an
// operator or a failover would, and waits until it is gone.
func terminateHolder(t testing.TB, c *pgx.Conn, stack, stage string) {
	t.Helper()
	var pid int32
	must(t, c.QueryRow(ctx, "select backend_pid from alchemy_lease where stack = $1 and stage = $2", stack, stage).Scan(&pid))
	var ok bool
	must(t, c.QueryRow(ctx, "select pg_terminate_backend($1)", pid).Scan(&ok))
	if !ok {
		t.Fatalf("pg_terminate_backend(%d) = false", pid)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		var alive bool
		must(t, c.QueryRow(ctx, "select exists (select 1 from pg_stat_activity where pid = $1)", pid).Scan(&alive))
		if !alive {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("backend %d still runs 10s after pg_terminate_backend", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The proof: pg_terminate_backend on the holder's connection
// mid-deploy. The commit under way when the session ends fails with a
// LostError and nothing of it lands; every later write fails the same way;
// Lost is closed; the next Acquire gets the lease at once.
func TestTerminatedHolderWritesNothingMore(t *testing.T) {
	pg := testpeers.Postgres(t)
	admin := sql(t, pg)
	var armed atomic.Bool
	b := open(t, pg.DSN, Options{beforeCommit: func() {
		if armed.CompareAndSwap(true, false) {
			terminateHolder(t, admin, "app", "prod")
		}
	}})
	l, err := b.Acquire(ctx, "app", "prod", state.LeaseOptions{Identity: &statetest.Alice, Heartbeat: time.Hour})
	must(t, err)
	s := l.Store()
	must(t, s.Set(ctx, "app", "prod", statetest.Row("Before", state.Created)))

	armed.Store(true) // the next commit finds its session terminated
	err = s.Set(ctx, "app", "prod", statetest.Row("During", state.Creating))
	var lost *state.LostError
	if !errors.As(err, &lost) {
		t.Fatalf("the write during the termination = %v, want a *state.LostError", err)
	}
	t.Logf("the write during the termination: %v", err)
	select {
	case <-l.Lost():
	default:
		t.Fatal("Lost is not closed after a write found the lease lost")
	}
	for _, write := range []func() error{
		func() error { return s.Set(ctx, "app", "prod", statetest.Row("After", state.Creating)) },
		func() error { return s.Delete(ctx, "app", "prod", "Before") },
		func() error { return s.SetOutput(ctx, "app", "prod", json.RawMessage(`{"late":true}`)) },
		func() error { return s.DeleteStage(ctx, "app", "prod") },
		l.Check,
	} {
		if err := write(); !errors.As(err, &lost) {
			t.Fatalf("a write after the loss = %v, want a *state.LostError", err)
		}
	}
	if got := fqnsInTable(t, pg, "app", "prod"); !reflect.DeepEqual(got, []string{"Before"}) {
		t.Fatalf("rows in the table after the loss = %q, want only [Before]", got)
	}

	other := open(t, pg.DSN, Options{})
	start := time.Now()
	l2, err := other.Acquire(ctx, "app", "prod", state.LeaseOptions{Identity: &statetest.Bob})
	if err != nil {
		t.Fatalf("Acquire after the holder's session was terminated: %v", err)
	}
	t.Logf("the next Acquire took %v", time.Since(start))
	if l2.Info().Token == l.Info().Token {
		t.Errorf("the new grant has the old one's token %s", l2.Info().Token)
	}
	must(t, l2.Store().Set(ctx, "app", "prod", statetest.Row("NewHolder", state.Created)))
	must(t, l2.Release())
	must(t, l.Release()) // a lost lease releases nothing, and does not fail
}

// Lost closes within a heartbeat of the session's end, with no write to
// notice it.
func TestLostClosesWithinAHeartbeat(t *testing.T) {
	pg := testpeers.Postgres(t)
	b := open(t, pg.DSN, Options{})
	const hb = 200 * time.Millisecond
	l, err := b.Acquire(ctx, "app", "prod", state.LeaseOptions{TTL: 10 * time.Second, Heartbeat: hb})
	must(t, err)
	terminateHolder(t, sql(t, pg), "app", "prod")
	ended := time.Now()
	select {
	case <-l.Lost():
		t.Logf("Lost closed %v after the session ended (heartbeat %v)", time.Since(ended), hb)
	case <-time.After(10 * hb):
		t.Fatalf("Lost not closed %v after the session ended (heartbeat %v)", 10*hb, hb)
	}
	var lost *state.LostError
	if err := l.Err(); !errors.As(err, &lost) || !strings.Contains(err.Error(), "connection") {
		t.Fatalf("Err = %v", err)
	}
}

// Writers racing the termination: every write that returned nil is in the
// table, and none that failed is.
func TestTerminationUnderConcurrentWrites(t *testing.T) {
	pg := testpeers.Postgres(t)
	b := open(t, pg.DSN, Options{})
	l, err := b.Acquire(ctx, "app", "prod", state.LeaseOptions{Heartbeat: time.Hour})
	must(t, err)
	s := l.Store()
	var mu sync.Mutex
	var ok, failed []string
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				fqn := fmt.Sprintf("W%d-%04d", w, i)
				err := s.Set(ctx, "app", "prod", statetest.Row(fqn, state.Creating))
				mu.Lock()
				if err != nil {
					failed = append(failed, fqn)
				} else {
					ok = append(ok, fqn)
				}
				mu.Unlock()
				if err != nil {
					var lost *state.LostError
					if !errors.As(err, &lost) {
						t.Errorf("write %s: %v, want a *state.LostError", fqn, err)
					}
					return
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	terminateHolder(t, sql(t, pg), "app", "prod")
	wg.Wait()
	slices.Sort(ok)
	got := fqnsInTable(t, pg, "app", "prod")
	if !reflect.DeepEqual(got, ok) {
		t.Fatalf("%d writes succeeded, the table has %d rows; in the table but failed: %q",
			len(ok), len(got), slices.DeleteFunc(got, func(f string) bool { _, found := slices.BinarySearch(ok, f); return found }))
	}
	t.Logf("%d writes landed before the termination, %d failed after it", len(ok), len(failed))
}

// Concurrent writes of a lease are group-committed: far fewer transactions
// than writes, and each write is committed when its Set returns.
func TestGroupCommit(t *testing.T) {
	pg := testpeers.Postgres(t)
	b := open(t, pg.DSN, Options{})
	l, err := b.Acquire(ctx, "app", "prod", state.LeaseOptions{})
	must(t, err)
	defer l.Release()
	var commits atomic.Int32
	b.opts.beforeCommit = func() { commits.Add(1) }
	const n = 1000
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := l.Store().Set(ctx, "app", "prod", statetest.Row(fmt.Sprintf("R%04d", i), state.Created)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := len(fqnsInTable(t, pg, "app", "prod")); got != n {
		t.Fatalf("%d rows in the table, want %d", got, n)
	}
	t.Logf("%d concurrent Sets in %d transactions", n, commits.Load())
	if commits.Load() > n/2 {
		t.Errorf("%d concurrent Sets took %d transactions: not group-committed", n, commits.Load())
	}
}

// A bad write in a group fails alone; the others in its group commit.
func TestGroupCommitIsolatesABadWrite(t *testing.T) {
	pg := testpeers.Postgres(t)
	b := open(t, pg.DSN, Options{})
	l, err := b.Acquire(ctx, "app", "prod", state.LeaseOptions{})
	must(t, err)
	defer l.Release()
	lw := l.(*lease)
	const n = 20
	// Hold the first commit until every write is queued, so they share it.
	var first atomic.Bool
	b.opts.beforeCommit = func() {
		if first.CompareAndSwap(false, true) {
			for deadline := time.Now().Add(5 * time.Second); len(lw.reqs) < n-1 && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
		}
	}
	bad := statetest.Row("Bad", state.Created)
	bad.Props = json.RawMessage(`{"nul":"\u0000"}`) // valid JSON that jsonb refuses
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			row := statetest.Row(fmt.Sprintf("Good%02d", i), state.Created)
			if i == 7 {
				row = bad
			}
			errs[i] = l.Store().Set(ctx, "app", "prod", row)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if (err != nil) != (i == 7) {
			t.Errorf("write %d: %v", i, err)
		}
	}
	if got := len(fqnsInTable(t, pg, "app", "prod")); got != n-1 {
		t.Errorf("%d rows in the table, want %d", got, n-1)
	}
	if err := l.Check(); err != nil {
		t.Fatalf("a refused value lost the lease: %v", err)
	}
}

// Folding a group keeps the order of its writes: the last write of a row
// wins, a DeleteStage wipes what came before it only.
func TestGroupOrder(t *testing.T) {
	pg := testpeers.Postgres(t)
	b := open(t, pg.DSN, Options{})
	l, err := b.Acquire(ctx, "app", "prod", state.LeaseOptions{})
	must(t, err)
	defer l.Release()
	lw := l.(*lease)
	must(t, b.Set(ctx, "app", "prod", statetest.Row("Old", state.Created)))
	must(t, b.SetOutput(ctx, "app", "prod", json.RawMessage(`{"old":1}`)))
	ops := []op{
		{kind: opSet, fqn: "A", value: `{"resourceType":"T","fqn":"A","status":"creating"}`},
		{kind: opDeleteStage},
		{kind: opSet, fqn: "B", value: `{"resourceType":"T","fqn":"B","status":"creating"}`},
		{kind: opSet, fqn: "C", value: `{"resourceType":"T","fqn":"C","status":"creating"}`},
		{kind: opSet, fqn: "B", value: `{"resourceType":"T","fqn":"B","status":"created"}`},
		{kind: opDelete, fqn: "C"},
		{kind: opSetOutput, value: `{"new":2}`},
	}
	reqs := make([]*request, len(ops))
	for i, o := range ops {
		reqs[i] = &request{kind: reqWrite, ctx: ctx, op: o, done: make(chan error, 1)}
	}
	if err, lost := lw.send(reqs); err != nil || lost != nil {
		t.Fatal(err, lost)
	}
	if got := fqnsInTable(t, pg, "app", "prod"); !reflect.DeepEqual(got, []string{"B"}) {
		t.Fatalf("rows = %q, want [B]", got)
	}
	if row, err := b.Get(ctx, "app", "prod", "B"); err != nil || row.Status != state.Created {
		t.Fatalf("B = %+v, %v", row, err)
	}
	if out, err := b.GetOutput(ctx, "app", "prod"); err != nil || string(out) != `{"new":2}` {
		t.Fatalf("output = %s, %v", out, err)
	}
}

func TestLeaseStoreWritesOnlyItsStage(t *testing.T) {
	pg := testpeers.Postgres(t)
	b := open(t, pg.DSN, Options{})
	l, err := b.Acquire(ctx, "app", "prod", state.LeaseOptions{})
	must(t, err)
	defer l.Release()
	if err := l.Store().Set(ctx, "app", "dev", statetest.Row("R", state.Created)); err == nil || !strings.Contains(err.Error(), "does not cover app/dev") {
		t.Fatalf("a write to another stage through the lease = %v", err)
	}
}

// The schema is made on first use by clients racing each other, and a
// newer schema is refused.
func TestSchemaFirstUseRaceAndNewerVersion(t *testing.T) {
	pg := testpeers.Postgres(t)
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			b, err := Open(ctx, pg.DSN, Options{})
			if err == nil {
				err = b.Set(ctx, "app", "dev", statetest.Row(fmt.Sprintf("R%d", i), state.Created))
				b.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	c := sql(t, pg)
	var versions []int32
	rows, _ := c.Query(ctx, "select version from alchemy_go_schema")
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	must(t, err)
	if !reflect.DeepEqual(versions, []int32{int32(SchemaVersion)}) {
		t.Fatalf("alchemy_go_schema holds %v, want [%d]", versions, SchemaVersion)
	}
	if got := fqnsInTable(t, pg, "app", "dev"); len(got) != n {
		t.Fatalf("rows = %q", got)
	}

	_, err = c.Exec(ctx, "update alchemy_go_schema set version = $1", SchemaVersion+1)
	must(t, err)
	_, err = Open(ctx, pg.DSN, Options{})
	if err == nil || !strings.Contains(err.Error(), "newer than this alchemy knows") || !strings.Contains(err.Error(), "upgrade alchemy") {
		t.Fatalf("Open of a newer schema = %v", err)
	}
}

// A database where the TypeScript tool came first: its two tables exist,
// with its rows, and no version table. Open adds ours and keeps its rows.
func TestSchemaAfterTheTypeScriptTool(t *testing.T) {
	pg := testpeers.Postgres(t)
	c := sql(t, pg)
	_, err := c.Exec(ctx, migrations[0][:strings.Index(migrations[0], "create table if not exists alchemy_go_schema")])
	must(t, err)
	// JSON.stringify(encodeState(row)) of the TypeScript tool, with fields
	// this tool does not model.
	tsRow := `{"resourceType":"AWS.S3.Bucket","fqn":"Api/Bucket","logicalId":"Bucket","instanceId":"0123456789abcdef0123456789abcdef",` +
		`"providerVersion":0,"status":"created","downstream":[],"props":{"bucketName":"b"},"attr":{"arn":"arn:aws:s3:::b"},` +
		`"namespace":"Api","bindings":[],"providerMode":"default"}`
	_, err = c.Exec(ctx, "insert into alchemy_resource_state (stack, stage, fqn, value) values ('app', 'dev', 'Api/Bucket', $1::jsonb)", tsRow)
	must(t, err)
	b := open(t, pg.DSN, Options{})
	row, err := b.Get(ctx, "app", "dev", "Api/Bucket")
	must(t, err)
	if row == nil || row.ResourceType != "AWS.S3.Bucket" || string(row.Extra["providerMode"]) != `"default"` || string(row.Attr) != `{"arn":"arn:aws:s3:::b"}` {
		t.Fatalf("the TypeScript tool's row reads as %+v", row)
	}
	// Written back, every field it had is still there.
	must(t, b.Set(ctx, "app", "dev", row))
	var back string
	must(t, c.QueryRow(ctx, "select value::text from alchemy_resource_state where fqn = 'Api/Bucket'").Scan(&back))
	if !jsonEqual(back, tsRow) {
		t.Fatalf("written back as\n%s\nwant\n%s", back, tsRow)
	}
}

// The TypeScript tool reads rows from alchemy_resource_state.value and
// outputs from alchemy_stack_output.value: they hold exactly this tool's
// row JSON (state.Row's marshalling, as in the local store's files).
func TestRowsAreTheTypeScriptToolsJSON(t *testing.T) {
	pg := testpeers.Postgres(t)
	b := open(t, pg.DSN, Options{})
	row := statetest.Row("Api/my_bucket", state.Replacing)
	row.Attr = json.RawMessage(`{"arn":"arn:aws:s3:::x","tags":{"a<b":"c&d"}}`)
	row.Old = statetest.Row("Api/my_bucket", state.Created)
	row.Extra = map[string]json.RawMessage{"namespace": json.RawMessage(`"Api"`)}
	l, err := b.Acquire(ctx, "app", "dev", state.LeaseOptions{})
	must(t, err)
	must(t, l.Store().Set(ctx, "app", "dev", row))
	must(t, l.Store().SetOutput(ctx, "app", "dev", json.RawMessage(`{"url": "https://x"}`)))
	must(t, l.Release())
	want, err := row.MarshalJSON()
	must(t, err)
	c := sql(t, pg)
	var value, updated string
	must(t, c.QueryRow(ctx, "select value::text, updated_at::text from alchemy_resource_state where stack = 'app' and stage = 'dev' and fqn = 'Api/my_bucket'").Scan(&value, &updated))
	if !jsonEqual(value, string(want)) {
		t.Fatalf("alchemy_resource_state.value =\n%s\nwant state.Row's JSON\n%s", value, want)
	}
	var out string
	must(t, c.QueryRow(ctx, "select value::text from alchemy_stack_output where stack = 'app' and stage = 'dev'").Scan(&out))
	if !jsonEqual(out, `{"url":"https://x"}`) {
		t.Fatalf("alchemy_stack_output.value = %s", out)
	}
	got, err := state.LoadAll(ctx, b, "app", "dev")
	must(t, err)
	// jsonb keeps values, not key order or spacing (for the TypeScript
	// tool too): the engine compares decoded props, never their bytes.
	if g, err := got["Api/my_bucket"].MarshalJSON(); err != nil || !jsonEqual(string(g), string(want)) {
		t.Fatalf("LoadAll gives back\n%s\nwant\n%s", g, want)
	}
}

// A value that is not a row is an error, never "no resource".
func TestCorruptRowIsAnError(t *testing.T) {
	pg := testpeers.Postgres(t)
	b := open(t, pg.DSN, Options{})
	_, err := sql(t, pg).Exec(ctx, `insert into alchemy_resource_state (stack, stage, fqn, value) values ('app', 'dev', 'X', '{"status":"created"}')`)
	must(t, err)
	var corrupt *CorruptRowError
	if _, err := b.Get(ctx, "app", "dev", "X"); !errors.As(err, &corrupt) || !strings.Contains(err.Error(), "alchemy state delete app/dev/X") {
		t.Fatalf("Get of a corrupt row = %v", err)
	}
	if _, err := state.LoadAll(ctx, b, "app", "dev"); !errors.As(err, &corrupt) {
		t.Fatalf("LoadAll with a corrupt row = %v", err)
	}
}

// The TypeScript tool locks a stage with the same advisory lock and no
// lease row: each tool excludes the other, and ours never breaks its lock.
func TestExcludesTheTypeScriptTool(t *testing.T) {
	pg := testpeers.Postgres(t)
	b := open(t, pg.DSN, Options{})
	ts := sql(t, pg)
	var got bool
	must(t, ts.QueryRow(ctx, "select pg_try_advisory_lock(hashtextextended('alchemy:app/prod', 0))").Scan(&got))
	if !got {
		t.Fatal("no lock")
	}
	_, err := b.Acquire(ctx, "app", "prod", state.LeaseOptions{TTL: time.Second, Wait: 1500 * time.Millisecond})
	var held *state.HeldError
	if !errors.As(err, &held) || !strings.Contains(err.Error(), "TypeScript tool") {
		t.Fatalf("Acquire while the TypeScript tool holds the stage = %v", err)
	}
	t.Log(err)
	must(t, ts.QueryRow(ctx, "select pg_advisory_unlock(hashtextextended('alchemy:app/prod', 0))").Scan(&got))
	l, err := b.Acquire(ctx, "app", "prod", state.LeaseOptions{})
	must(t, err)
	defer l.Release()
	must(t, ts.QueryRow(ctx, "select pg_try_advisory_lock(hashtextextended('alchemy:app/prod', 0))").Scan(&got))
	if got {
		t.Fatal("the TypeScript tool's lock call succeeded while we hold the lease")
	}
}

// Release marks the row released and frees the lock; the epoch only grows.
func TestEpochsGrowAcrossGrants(t *testing.T) {
	pg := testpeers.Postgres(t)
	b := open(t, pg.DSN, Options{})
	var tokens []string
	for range 3 {
		l, err := b.Acquire(ctx, "app", "prod", state.LeaseOptions{})
		must(t, err)
		tokens = append(tokens, l.Info().Token)
		must(t, l.Release())
	}
	if !reflect.DeepEqual(tokens, []string{"1", "2", "3"}) {
		t.Fatalf("tokens = %q", tokens)
	}
	var released bool
	must(t, sql(t, pg).QueryRow(ctx, "select released from alchemy_lease where stack = 'app' and stage = 'prod'").Scan(&released))
	if !released {
		t.Fatal("the lease row is not marked released")
	}
}

// A holder whose connection dropped without a release (a crash) leaves a
// row that Leases shows as stale, and the next Acquire takes it at once.
func TestCrashedHolderIsStaleAndTakenAtOnce(t *testing.T) {
	pg := testpeers.Postgres(t)
	crashed := open(t, pg.DSN, Options{})
	_, err := crashed.Acquire(ctx, "app", "prod", state.LeaseOptions{Identity: &statetest.Alice, TTL: time.Hour})
	must(t, err)
	must(t, crashed.Close()) // the connection closes, the row stays
	b := open(t, pg.DSN, Options{})
	infos, err := b.Leases(ctx)
	must(t, err)
	if len(infos) != 1 || !infos[0].Stale || infos[0].Host != statetest.Alice.Host {
		t.Fatalf("Leases = %+v, want Alice's lease, stale", infos)
	}
	l, err := b.Acquire(ctx, "app", "prod", state.LeaseOptions{Identity: &statetest.Bob})
	must(t, err)
	must(t, l.Release())
}

func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// The password reaches neither Describe nor any error, wherever it came
// from (the URL, a keyword DSN, PGPASSWORD, ~/.pgpass).
func TestPasswordIsNeverShown(t *testing.T) {
	pg := testpeers.Postgres(t)
	want := fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s", pg.User, pg.Port, pg.Database)
	b := open(t, pg.DSN, Options{})
	if b.Describe() != want {
		t.Errorf("Describe = %q, want %q", b.Describe(), want)
	}
	keyword := fmt.Sprintf("host=127.0.0.1 port=%d user=%s password=%s dbname=%s sslmode=disable", pg.Port, pg.User, pg.Password, pg.Database)
	if kb := open(t, keyword, Options{}); kb.Describe() != want {
		t.Errorf("Describe of a keyword DSN = %q, want %q", kb.Describe(), want)
	}

	t.Run("PGPASSWORD", func(t *testing.T) {
		t.Setenv("PGPASSWORD", pg.Password)
		b := open(t, pg.DSNWithout(), Options{})
		if strings.Contains(b.Describe(), pg.Password) {
			t.Fatal(b.Describe())
		}
	})
	t.Run("pgpass", func(t *testing.T) {
		home := t.TempDir()
		t.Setenv("HOME", home)
		t.Setenv("PGPASSFILE", "")
		line := fmt.Sprintf("127.0.0.1:%d:*:%s:%s\n", pg.Port, pg.User, pg.Password)
		must(t, os.WriteFile(filepath.Join(home, ".pgpass"), []byte(line), 0o600))
		open(t, pg.DSNWithout(), Options{})
	})

	const secret = "s3cr3t-Pa55;word"
	cases := map[string]string{
		"wrong password in the URL": fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", pg.User, "s3cr3t-Pa55%3Bword", pg.Port, pg.Database),
		"wrong password keyword":    fmt.Sprintf("host=127.0.0.1 port=%d user=%s password='%s' dbname=%s sslmode=disable", pg.Port, pg.User, secret, pg.Database),
		"unreachable host":          fmt.Sprintf("postgres://%s:%s@127.0.0.1:1/%s?sslmode=disable&connect_timeout=2", pg.User, "s3cr3t-Pa55%3Bword", pg.Database),
		"bad URL":                   fmt.Sprintf("postgres://%s:%s@127.0.0.1:notaport/%s", pg.User, "s3cr3t-Pa55%3Bword", pg.Database),
		"bad keyword DSN":           fmt.Sprintf("host=127.0.0.1 port=x password='%s' dbname", secret),
		"missing database":          fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/nope?sslmode=disable", pg.User, pg.Password, pg.Port),
	}
	for name, dsn := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Open(ctx, dsn, Options{})
			if err == nil {
				t.Fatal("Open succeeded")
			}
			for _, s := range []string{secret, "s3cr3t-Pa55%3Bword", "s3cr3t", pg.Password} {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("the error shows the password: %v", err)
				}
			}
			t.Log(err)
		})
	}
	t.Run("PGPASSWORD wrong", func(t *testing.T) {
		t.Setenv("PGPASSWORD", secret)
		_, err := Open(ctx, pg.DSNWithout(), Options{})
		if err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "password") {
			t.Fatalf("Open with a wrong PGPASSWORD = %v", err)
		}
	})
}

// A role that may not end the holder's session cannot take over an expired
// lease, and is told what to do; the holder keeps its lease.
func TestTakeoverWithoutTheRightToTerminate(t *testing.T) {
	pg := testpeers.Postgres(t)
	admin := sql(t, pg)
	holder := open(t, pg.DSN, Options{}) // the superuser
	role := "deployer_" + pg.Database
	for _, q := range []string{
		"create role " + role + " login password 'deployer-pw'",
		"grant select, insert, update, delete on all tables in schema public to " + role,
	} {
		_, err := admin.Exec(ctx, q)
		must(t, err)
	}
	t.Cleanup(func() {
		admin.Exec(ctx, "drop owned by "+role)
		admin.Exec(ctx, "drop role "+role)
	})
	l, err := holder.Acquire(ctx, "app", "prod", state.LeaseOptions{Identity: &statetest.Alice, TTL: time.Second, Heartbeat: time.Hour})
	must(t, err)
	time.Sleep(1500 * time.Millisecond)

	dsn := fmt.Sprintf("postgres://%s:deployer-pw@127.0.0.1:%d/%s?sslmode=disable", role, pg.Port, pg.Database)
	other := open(t, dsn, Options{})
	_, err = other.Acquire(ctx, "app", "prod", state.LeaseOptions{Identity: &statetest.Bob})
	if err == nil || !strings.Contains(err.Error(), "may not end its session") || !strings.Contains(err.Error(), "pg_signal_backend") ||
		!strings.Contains(err.Error(), statetest.Alice.Host) || strings.Contains(err.Error(), "deployer-pw") {
		t.Fatalf("a takeover without the right to terminate = %v", err)
	}
	t.Log(err)
	if err := l.Check(); err != nil {
		t.Fatalf("the holder lost its lease: %v", err)
	}
	must(t, l.Store().Set(ctx, "app", "prod", statetest.Row("StillMine", state.Created)))
}
