package testpeers

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// The peer is a real PostgreSQL server, not a stand-in, and each test gets
// a database of its own on it.
func TestPostgresIsRealAndIsolatesTests(t *testing.T) {
	ctx := context.Background()
	a, b := Postgres(t), Postgres(t)
	if a.Database == b.Database || a.Port != b.Port {
		t.Fatalf("two calls gave databases %s:%d and %s:%d; want two databases on one server", a.Database, a.Port, b.Database, b.Port)
	}
	ca, err := pgx.Connect(ctx, a.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close(ctx)
	var version string
	if err := ca.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(version, "PostgreSQL ") {
		t.Fatalf("version() = %q", version)
	}
	t.Log(version)
	if _, err := ca.Exec(ctx, "create table only_in_a (x int)"); err != nil {
		t.Fatal(err)
	}
	cb, err := pgx.Connect(ctx, b.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close(ctx)
	var n int
	if err := cb.QueryRow(ctx, "select count(*) from pg_class where relname = 'only_in_a'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("a table of one test's database is seen from another's: %d, %v", n, err)
	}

	// The server is not run as root, and listens on loopback only.
	var pid int
	if err := ca.QueryRow(ctx, "select pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status"); err == nil && strings.Contains(string(st), "\nUid:\t0\t") {
		t.Errorf("the server runs as root")
	}
	var listen string
	if err := ca.QueryRow(ctx, "show listen_addresses").Scan(&listen); err != nil || listen != "127.0.0.1" {
		t.Errorf("listen_addresses = %q, %v", listen, err)
	}

	// A wrong password is refused: the server checks passwords.
	if c, err := pgx.Connect(ctx, strings.Replace(a.DSN, a.Password, "wrong", 1)); err == nil {
		c.Close(ctx)
		t.Fatal("a wrong password was accepted")
	}
}
