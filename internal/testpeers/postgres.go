package testpeers

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PG is one test's database on the shared PostgreSQL test server.
type PG struct {
	// DSN reaches the test's own database as the server's superuser, with
	// the password in it: postgres://alchemy:PW@127.0.0.1:PORT/t_xxx?sslmode=disable.
	DSN      string
	Host     string // 127.0.0.1
	Port     int
	User     string // the superuser, "alchemy"
	Password string
	Database string // t_<random>, dropped at the test's cleanup
}

// DSNWithout returns DSN without its password, for tests that supply the
// password another way (PGPASSWORD, ~/.pgpass).
func (p *PG) DSNWithout() string {
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", p.User, p.Host, p.Port, p.Database)
}

// pgServer is the shared server of this test binary.
type pgServer struct {
	port     int
	password string
	pid      int // the postmaster
	dir      string
	bin      string
	// stop is the write end of the reaper's stdin: it closes when this
	// process exits, however it exits, and the reaper then stops the server.
	stop *os.File
}

const pgSuperuser = "alchemy"

var (
	pgOnce   sync.Once
	pgShared *pgServer
	pgErr    error
)

// Postgres gives the test a database of its own on a real PostgreSQL server
// (Debian's `postgresql` package), started on first use and shared by every
// test of the test binary: a throwaway cluster (initdb) in a temp dir, on a
// free 127.0.0.1 port, no Unix socket, fsync off, password (SCRAM) auth for
// the superuser "alchemy". The database is created for the test
// (CREATE DATABASE t_<random>) and dropped WITH (FORCE) at its cleanup.
//
// The server runs as the user postgres when the test runs as root (the
// server refuses root), as the current user otherwise. It is stopped, by
// pid, when the test binary exits, however it exits (a kill -9 included):
// a small reaper shell started with it waits for its stdin, a pipe whose
// other end only this process holds, to close, then stops the postmaster
// with SIGINT (fast shutdown), waits for it and removes the temp dir. The
// postmaster itself dies with the reaper (setpriv --pdeathsig), so it never
// outlives both.
//
// A missing install fails the test with the command to run; it never skips.
func Postgres(t testing.TB) *PG {
	t.Helper()
	pgOnce.Do(func() { pgShared, pgErr = startPostgres() })
	if pgErr != nil {
		t.Fatalf("test peer postgres: %v", pgErr)
	}
	s := pgShared
	name := "t_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, s.dsn("postgres"))
	if err != nil {
		t.Fatalf("test peer postgres: connecting to the server: %v", err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("test peer postgres: CREATE DATABASE %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		admin, err := pgx.Connect(ctx, s.dsn("postgres"))
		if err != nil {
			t.Errorf("test peer postgres: dropping %s: %v", name, err)
			return
		}
		defer admin.Close(context.Background())
		if _, err := admin.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("test peer postgres: DROP DATABASE %s: %v", name, err)
		}
	})
	return &PG{DSN: s.dsn(name), Host: "127.0.0.1", Port: s.port, User: pgSuperuser, Password: s.password, Database: name}
}

func (s *pgServer) dsn(db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(pgSuperuser, s.password),
		Host: "127.0.0.1:" + strconv.Itoa(s.port), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// PostgresBin returns the bin directory of the newest PostgreSQL installed
// from Debian's packages (/usr/lib/postgresql/<version>/bin), or an error
// naming the package to install.
func PostgresBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	dirs = slices.DeleteFunc(dirs, func(d string) bool {
		_, err := os.Stat(filepath.Join(d, "initdb"))
		return err != nil
	})
	if len(dirs) == 0 {
		return "", errors.New("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run ./scripts/test as root, " +
			"or: sudo apt-get install -y --no-install-recommends postgresql")
	}
	version := func(d string) int {
		n, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		return n
	}
	slices.SortFunc(dirs, func(a, b string) int { return version(a) - version(b) })
	return dirs[len(dirs)-1], nil
}

// startPostgres makes and starts the shared server, trying another port
// when another process took the chosen one first.
func startPostgres() (*pgServer, error) {
	bin, err := PostgresBin()
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		s, err := startCluster(bin, cred)
		if err == nil || !errors.Is(err, errPortTaken) || attempt == 5 {
			return s, err
		}
	}
}

// serverCredential is who the server runs as: nil (this user) unless this
// is root, which PostgreSQL refuses; then the postgres user of the package.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and there is no user postgres to run the server as (%v): "+
			"apt-get install -y --no-install-recommends postgresql creates it", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

var errPortTaken = errors.New("its port was taken")

// reaperScript runs the postmaster and stops it when its stdin closes.
// $1 bin dir, $2 temp dir (data in $2/data, log in $2/log), $3 port.
const reaperScript = `
bin=$1 dir=$2 port=$3
pdeath=
if command -v setpriv >/dev/null 2>&1; then pdeath="setpriv --pdeathsig KILL"; fi
$pdeath "$bin/postgres" -D "$dir/data" -p "$port" -c listen_addresses=127.0.0.1 -c unix_socket_directories= \
  -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 \
  -c log_min_messages=warning -c log_min_error_statement=panic >"$dir/log" 2>&1 </dev/null &
pid=$!
echo "postmaster $pid"
exec >/dev/null 2>&1 # nobody reads our output from here on
stop() {
  kill -INT "$pid" 2>/dev/null
  wait "$pid"
  rm -rf "$dir"
  exit 0
}
trap stop INT TERM HUP
while read -r _; do :; done
stop
`

func startCluster(bin string, cred *syscall.Credential) (*pgServer, error) {
	parent := os.TempDir()
	if cred != nil {
		// The server's user must reach the dir: a per-test temp dir is 0700 root.
		if fi, err := os.Stat(parent); err != nil || fi.Mode().Perm()&0o001 == 0 {
			parent = "/tmp"
		}
	}
	dir, err := os.MkdirTemp(parent, "alchemy-pg-")
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(dir)
		}
	}()
	password := randomHex(16)
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		return nil, err
	}
	if cred != nil {
		for _, p := range []string{dir, pwfile} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, err
			}
		}
	}
	env := []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "LANG=C", "TZ=UTC"}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", pgSuperuser,
		"--pwfile", pwfile, "--auth", "scram-sha-256", "-E", "UTF8", "--locale", "C", "--no-sync", "--no-instructions")
	initdb.Env = env
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	os.Remove(pwfile)

	port, err := freePort()
	if err != nil {
		return nil, err
	}
	stopR, stopW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		stopR.Close()
		stopW.Close()
		return nil, err
	}
	reaper := exec.Command("/bin/sh", "-c", reaperScript, "pg-reaper", bin, dir, strconv.Itoa(port))
	reaper.Env = env
	reaper.Dir = dir
	reaper.Stdin = stopR
	reaper.Stdout = outW
	reaper.Stderr = outW
	// Its own session: a Ctrl-C meant for go test must not kill the reaper
	// before the server is stopped. No Pdeathsig: it must outlive us.
	reaper.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setsid: true}
	err = reaper.Start()
	stopR.Close()
	outW.Close()
	if err != nil {
		stopW.Close()
		outR.Close()
		return nil, fmt.Errorf("starting the server: %v", err)
	}
	ok = true // the reaper owns the dir now
	go reaper.Wait()
	s := &pgServer{port: port, password: password, dir: dir, bin: bin, stop: stopW}
	fail := func(err error) (*pgServer, error) {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		stopW.Close() // the reaper stops what runs and removes dir
		if strings.Contains(string(log), "could not bind") || strings.Contains(string(log), "already in use") {
			return nil, fmt.Errorf("%w: %v", errPortTaken, err)
		}
		return nil, fmt.Errorf("%v\n--- server log ---\n%s", err, log)
	}
	line, err := bufio.NewReader(outR).ReadString('\n')
	outR.Close()
	if _, perr := fmt.Sscanf(line, "postmaster %d", &s.pid); perr != nil {
		return fail(fmt.Errorf("the reaper said %q: %v", line, err))
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := pgx.Connect(ctx, s.dsn("postgres"))
		cancel()
		if err == nil {
			c.Close(context.Background())
			return s, nil
		}
		if errors.Is(syscall.Kill(s.pid, 0), syscall.ESRCH) || zombieProcess(s.pid) {
			return fail(fmt.Errorf("the server (pid %d) exited before it was ready", s.pid))
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("the server (pid %d) did not accept connections within 60s: %v", s.pid, err))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// zombieProcess reports whether pid has exited but is not yet reaped.
func zombieProcess(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(data), ')')
	return i >= 0 && i+2 < len(data) && data[i+2] == 'Z'
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
