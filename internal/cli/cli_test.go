package cli_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/alchemy-go/alchemy/internal/cli"
	cloudflarefake "github.com/alchemy-go/alchemy/internal/fakes/cloudflare"
	githubfake "github.com/alchemy-go/alchemy/internal/fakes/github"
	"github.com/alchemy-go/alchemy/internal/state"
	"github.com/alchemy-go/alchemy/internal/state/statetest"
	"github.com/alchemy-go/alchemy/internal/testpeers"
)

// TestMain lets the test binary act as the alchemy binary: inside scripts,
// and when a PTY test execs it with ALCHEMY_CLI_MAIN=1 (=stack: as a stack
// program).
func TestMain(m *testing.M) {
	switch os.Getenv("ALCHEMY_CLI_MAIN") {
	case "1":
		os.Exit(cli.Main())
	case "stack": // the stack program of a KV namespace (scriptStack)
		os.Exit(cli.MainStack(scriptStack()))
	}
	testscript.Main(m, map[string]func(){
		"alchemy":       func() { os.Exit(cli.Main()) },
		"alchemy-stack": func() { os.Exit(cli.MainStack(scriptStack())) },
		"app":           func() { os.Exit(cli.MainStack(boundStack())) },
		"badapp":        func() { os.Exit(cli.MainStack(badlyBoundStack())) },
		"hello":         func() { os.Exit(cli.MainStack(helloStack())) },
		"files":         func() { os.Exit(cli.MainStack(filesStack("", false))) },
		"files-ws":      func() { os.Exit(cli.MainStack(filesStack("file://ws", false))) },
		"files-secret":  func() { os.Exit(cli.MainStack(filesStack("", true))) },
	})
}

// Credentials the fakes accept. The scripts use the same literals.
const (
	cfAccount      = "0123456789abcdef0123456789abcdef"
	cfOtherAccount = "fedcba9876543210fedcba9876543210"
	cfToken        = "cf-valid-token-0001"
	cfAccountToken = "cf-acct-token-0002"
	cfGlobalKey    = "cf-global-key-0003"
	cfEmail        = "dev@example.com"
	cfOneToken     = "cf-one-acct-token-0004" // sees only cfAccount
	cfNoneToken    = "cf-no-acct-token-0005"  // sees no account
	ghToken        = "ghp_validtoken0001"
)

func TestScripts(t *testing.T) {
	emulate := testpeers.Emulate(t)
	// emulate's STS accepts any key; the gate refuses keys that are neither
	// this one nor issued by emulate's IAM, as real STS would.
	sts := emulate.STSRejectingUnknownKeys(t, "AKIAIOSFODNN7EXAMPLE")
	sts.MapAccount(awsProdKey, awsProdAccount)
	// One database of the PostgreSQL test peer for the scripts that use a
	// shared store (state_postgres.txtar), reached without the password
	// in the URL: the scripts pass it in PGPASSWORD.
	pg := testpeers.Postgres(t)
	pgRoundTrip := testpeers.Postgres(t) // state_s3.txtar's, apart: the scripts run in parallel
	// The S3 peer for state_s3.txtar (a fresh bucket per script), stopped
	// with the scripts: testscript.Main exits from TestMain itself.
	vgw := testpeers.Versitygw(t)
	t.Cleanup(testpeers.StopVersitygw)
	tshome, err := filepath.Abs("../profile/testdata/v0-home")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			cf := cloudflarefake.New()
			cf.AddAccount(cfAccount, "Work")
			cf.AddAccount(cfOtherAccount, "Personal")
			cf.AddToken(cfToken, cloudflarefake.TokenOptions{UserEmail: cfEmail})
			cf.AddToken(cfAccountToken, cloudflarefake.TokenOptions{AccountID: cfAccount})
			cf.AddGlobalKey(cfEmail, cfGlobalKey, cfAccount)
			cf.AddToken(cfOneToken, cloudflarefake.TokenOptions{UserEmail: cfEmail, Accounts: []string{cfAccount}})
			cf.AddToken(cfNoneToken, cloudflarefake.TokenOptions{UserEmail: cfEmail, NoAccounts: true})
			cf.Start()
			gh := githubfake.New()
			gh.AddToken(ghToken, "octocat")
			gh.Start()
			e.Defer(cf.Close)
			e.Defer(gh.Close)
			e.Values["cf"], e.Values["gh"] = cf, gh
			held := map[string]state.Lease{}
			e.Values["leases"] = held
			e.Defer(func() {
				for _, l := range held {
					l.Release()
				}
			})

			home := filepath.Join(e.WorkDir, "userhome")
			e.Setenv("HOME", home)
			e.Setenv("ALCHEMY_HOME", filepath.Join(home, ".alchemy"))
			e.Setenv("CLOUDFLARE_BASE_URL", cf.URL())
			e.Setenv("GITHUB_API_URL", gh.URL())
			for k, v := range emulate.AWSEnv() {
				e.Setenv(k, v)
			}
			e.Setenv("AWS_CONFIG_FILE", filepath.Join(home, ".aws", "config"))
			e.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, ".aws", "credentials"))
			e.Setenv("AWS_ENDPOINT_URL_STS", sts.Endpoint)
			e.Setenv("STS_URL", sts.Endpoint)
			e.Setenv("TSHOME", tshome)
			e.Setenv("ALCHEMY_STATE", "")
			e.Setenv("PG_URL", pg.DSNWithout())
			e.Setenv("PG_PASSWORD", pg.Password)
			e.Setenv("PG_URL_ROUNDTRIP", pgRoundTrip.DSNWithout())
			e.Setenv("S3_STATE", "s3://"+vgw.NewBucket(t)+"/team?region="+testpeers.VersitygwRegion+"&endpoint="+vgw.URL)
			e.Setenv("S3_KEY", testpeers.VersitygwAccessKeyID)
			e.Setenv("S3_SECRET", testpeers.VersitygwSecretAccessKey)
			// The directory testscript put the alchemy command in, for
			// scripts that narrow PATH.
			e.Setenv("TS_BIN", strings.Split(e.Getenv("PATH"), string(os.PathListSeparator))[0])
			e.Setenv("ORIG_PATH", e.Getenv("PATH"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"tshome":   cmdTSHome,
			"requests": cmdRequests,
			"perm":     cmdPerm,
			"gh-revoke": func(ts *testscript.TestScript, neg bool, args []string) {
				// gh-revoke TOKEN: the token is revoked at GitHub.
				for _, tok := range args {
					ts.Value("gh").(*githubfake.Server).RevokeToken(tok)
				}
			},
			"cf-revoke": func(ts *testscript.TestScript, neg bool, args []string) {
				// cf-revoke TOKEN: the token is deleted at Cloudflare.
				for _, tok := range args {
					ts.Value("cf").(*cloudflarefake.Server).RevokeToken(tok)
				}
			},
			"exits": cmdExits,
			"lease": cmdLease,
			"json":  cmdJSON,
		},
	})
}

// tshome copies the home written by the TypeScript tool (its own test
// fixture) into $ALCHEMY_HOME.
func cmdTSHome(ts *testscript.TestScript, neg bool, args []string) {
	src := ts.Getenv("TSHOME")
	dst := ts.Getenv("ALCHEMY_HOME")
	ts.Check(filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o600)
	}))
}

// requests cf|gh prints what the fake saw, one request a line:
// "GET /user/tokens/verify token", and forgets it.
func cmdRequests(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: requests cf|gh")
	}
	var lines []string
	switch args[0] {
	case "cf":
		cf := ts.Value("cf").(*cloudflarefake.Server)
		for _, r := range cf.Requests() {
			lines = append(lines, fmt.Sprintf("%s %s %s", r.Method, r.Path, r.AuthKind))
		}
		cf.ResetRequests()
	case "gh":
		gh := ts.Value("gh").(*githubfake.Server)
		for _, r := range gh.Requests() {
			lines = append(lines, fmt.Sprintf("%s %s", r.Method, r.Path))
		}
	default:
		ts.Fatalf("unknown fake %q", args[0])
	}
	fmt.Fprint(ts.Stdout(), strings.Join(lines, "\n")+"\n")
}

// perm MODE FILE... checks permission bits, e.g. perm 0600 $ALCHEMY_HOME/profiles.json
func cmdPerm(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: perm MODE FILE...")
	}
	want, err := strconv.ParseUint(args[0], 8, 32)
	ts.Check(err)
	var bad []string
	for _, f := range args[1:] {
		fi, err := os.Stat(ts.MkAbs(f))
		ts.Check(err)
		if got := fi.Mode().Perm(); uint64(got) != want {
			bad = append(bad, fmt.Sprintf("%s is %o", f, got))
		}
	}
	sort.Strings(bad)
	if (len(bad) > 0) != neg {
		ts.Fatalf("want mode %o: %v", want, bad)
	}
}

// exits CODE COMMAND [ARGS...] runs a command as exec does (stdout and
// stderr are then checked as usual) and fails unless it exits with CODE:
// exec alone cannot tell a usage error (2) from a failure (1).
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("%v", err)
	}
	if got != want {
		ts.Logf("[stdout]\n%s[stderr]\n%s", ts.ReadFile("stdout"), ts.ReadFile("stderr"))
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// lease hold STACK/STAGE USER@HOST:PID [COMMAND] [RELEASE-AFTER] takes the
// stage's lease in .alchemy of the script's directory, from the test
// process, as that identity (another host: judged by its heartbeat, which
// this process keeps); after RELEASE-AFTER (a duration) it is released.
// lease write STACK/STAGE writes a row through the held lease's store (!
// lease write: the write must be refused). lease release STACK/STAGE.
func cmdLease(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: lease hold|write|release STACK/STAGE ...")
	}
	held := ts.Value("leases").(map[string]state.Lease)
	stack, stage, _ := strings.Cut(args[1], "/")
	ctx := context.Background()
	switch args[0] {
	case "hold":
		if len(args) < 3 {
			ts.Fatalf("usage: lease hold STACK/STAGE USER@HOST:PID [COMMAND] [RELEASE-AFTER]")
		}
		who, pid, _ := strings.Cut(args[2], ":")
		user, host, _ := strings.Cut(who, "@")
		n, err := strconv.Atoi(pid)
		ts.Check(err)
		opts := state.LeaseOptions{Identity: &state.Identity{User: user, Host: host, PID: n}}
		if len(args) > 3 {
			opts.Command = args[3]
		}
		l, err := state.NewLocalBackend(ts.MkAbs(".")).Acquire(ctx, stack, stage, opts)
		if (err != nil) != neg {
			ts.Fatalf("lease hold: %v", err)
		}
		if err != nil {
			return
		}
		held[args[1]] = l
		if len(args) > 4 {
			d, err := time.ParseDuration(args[4])
			ts.Check(err)
			time.AfterFunc(d, func() { l.Release() })
		}
	case "write":
		l := held[args[1]]
		if l == nil {
			ts.Fatalf("no lease held on %s", args[1])
		}
		err := l.Store().Set(ctx, stack, stage, statetest.Row("LateWrite", state.Created))
		if err == nil {
			err = state.Flush(ctx, l.Store())
		}
		if (err != nil) != neg {
			ts.Fatalf("lease write: %v", err)
		}
		if err != nil {
			fmt.Fprintln(ts.Stdout(), err)
		}
	case "release":
		if l := held[args[1]]; l != nil {
			ts.Check(l.Release())
			delete(held, args[1])
		}
	default:
		ts.Fatalf("unknown lease subcommand %q", args[0])
	}
}
