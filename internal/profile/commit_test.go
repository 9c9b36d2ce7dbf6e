package profile

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The configurations a committer switches between: each is an entry and
// the secret files its method owns, each file naming the configuration it
// belongs to. A mix (an entry of one beside a file of another, a file left
// of a replaced method) is what a transaction must never leave.
var testConfigs = []struct {
	method string
	kind   string // "credentialType" of the entry and "type" of the file
	keys   []string
}{
	{"stored", "apiToken", []string{"cf-stored"}},
	{"stored", "apiKey", []string{"cf-stored"}},
	{"oauth", "oauth", []string{"cf-oauth"}},
	{"env", "", nil},
}

func testKeys(e Entry) []string {
	switch e.Method() {
	case "stored":
		return []string{"cf-stored"}
	case "oauth":
		return []string{"cf-oauth"}
	}
	return nil
}

// commitConfig commits configuration i (tagged with round n).
func commitConfig(ctx context.Context, s *Store, profile string, i, n int) error {
	c := testConfigs[i]
	e := Entry{"method": json.RawMessage(strconv.Quote(c.method)), "round": json.RawMessage(strconv.Itoa(n))}
	if c.kind != "" && c.method == "stored" {
		e["credentialType"] = json.RawMessage(strconv.Quote(c.kind))
	}
	stage := s.NewStage(profile)
	for _, k := range c.keys {
		if err := stage.WriteSecret(k, map[string]any{"type": c.kind, "round": n}); err != nil {
			return err
		}
	}
	_, _, err := s.Commit(ctx, profile, "Cloudflare", e, stage, testKeys)
	return err
}

// checkConsistent fails unless profile's Cloudflare entry and secret files
// are one whole configuration.
func checkConsistent(t *testing.T, s *Store, profile, when string) {
	t.Helper()
	cfg, err := s.Load()
	if err != nil {
		t.Fatalf("%s: profiles.json: %v", when, err)
	}
	e := cfg.Profiles[profile]["Cloudflare"]
	files := map[string]map[string]any{}
	for _, k := range []string{"cf-stored", "cf-oauth"} {
		var v map[string]any
		if found, err := s.ReadSecret(profile, k, &v); err != nil {
			t.Fatalf("%s: %s: %v", when, k, err)
		} else if found {
			files[k] = v
		}
	}
	if e == nil {
		if len(files) > 0 {
			t.Fatalf("%s: no entry but secret files %v", when, files)
		}
		return
	}
	want := map[string]bool{}
	for _, k := range testKeys(e) {
		want[k] = true
		f := files[k]
		if f == nil {
			t.Fatalf("%s: entry %v but its file %s is missing", when, e, k)
		}
		if e.Method() == "stored" && f["type"] != e.String("credentialType") {
			t.Fatalf("%s: entry says %s, file %s holds %v", when, e.String("credentialType"), k, f["type"])
		}
		if string(e["round"]) != fmt.Sprint(f["round"]) {
			t.Fatalf("%s: entry of round %s beside file %s of round %v", when, e["round"], k, f["round"])
		}
	}
	for k := range files {
		if !want[k] {
			t.Fatalf("%s: entry %v beside a file of another method, %s", when, e, k)
		}
	}
}

// 16 writers committing different methods of one provider to one profile at
// once, for 10 rounds: after each round, one whole configuration.
func TestConcurrentCommitsNeverMix(t *testing.T) {
	s := New(t.TempDir(), nil)
	ctx := context.Background()
	for round := range 10 {
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for w := range 16 {
			wg.Go(func() {
				if err := commitConfig(ctx, s, "p", (w+round)%len(testConfigs), round*100+w); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		checkConsistent(t, s, "p", fmt.Sprintf("round %d", round))
	}
}

// childCommitter commits configurations in a loop until it is killed.
func childCommitter() int {
	s := New(os.Getenv("PROFILE_TEST_ROOT"), nil)
	ctx := context.Background()
	fmt.Println("ready")
	for n := 0; ; n++ {
		if err := commitConfig(ctx, s, "p", n%len(testConfigs), n); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
}

// kill -9 at a random point of a commit leaves, once settled, one whole
// configuration: the old or the new.
func TestKilledCommitLeavesOldOrNew(t *testing.T) {
	root := t.TempDir()
	s := New(root, nil)
	ctx := context.Background()
	pending := 0
	for round := range 30 {
		cmd := child(t, "committer", root)
		cmd.Stderr = os.Stderr
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 6)
		if _, err := stdout.Read(buf); err != nil {
			t.Fatalf("round %d: child did not start: %v", round, err)
		}
		time.Sleep(time.Duration(1+rand.IntN(40)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if _, err := os.Lstat(root + "/credentials/p/" + commitFile); err == nil {
			pending++
		}
		start := time.Now()
		if err := s.Settle(ctx); err != nil {
			t.Fatalf("round %d: settle: %v", round, err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("round %d: settling took %v", round, took)
		}
		checkConsistent(t, s, "p", fmt.Sprintf("after kill %d", round))
	}
	t.Logf("%d of 30 kills landed inside a commit (rolled forward)", pending)
}
