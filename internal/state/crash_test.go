package state

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The test binary doubles as the crash test's child: re-executed with
// childEnv set, it runs Sets until it is killed.
const childEnv = "ALCHEMY_STATE_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "setter" {
		os.Exit(runSetter())
	}
	os.Exit(m.Run())
}

const (
	crashRows    = 40
	crashWriters = 4
)

// runSetter sets rows from crashWriters goroutines forever, with a sequence
// number in props and a size that varies (so a torn write would show), and
// acknowledges each Set on stdout once it returned: "<fqn> <seq>".
func runSetter() int {
	// Write rows behind almost at once, so that kills land in those writes
	// too.
	behindAfter = 8
	s := NewLocal(os.Getenv("STATE_ROOT"))
	round, _ := strconv.ParseInt(os.Getenv("STATE_ROUND"), 10, 64)
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := range crashWriters {
		wg.Go(func() {
			for i := int64(0); ; i++ {
				fqn := fmt.Sprintf("ns/row_%d", int(i)%(crashRows/crashWriters)*crashWriters+w)
				seq := round*1_000_000_000 + i
				pad := strings.Repeat("x", int(i%7)*700)
				row := newRow(fqn, []Status{Creating, Created, Updating, Updated}[i%4])
				row.Props = json.RawMessage(fmt.Sprintf(`{"seq":%d,"pad":%q}`, seq, pad))
				if err := s.Set(ctx, "app", "crash", row); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(out, "%s %d\n", fqn, seq)
				out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return 0
}

// A writer killed with SIGKILL at a random instant leaves only whole rows,
// and every Set it saw return is on disk.
func TestKilledWriterLeavesWholeRows(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	root := t.TempDir()
	s := NewLocal(root)
	for round := range 10 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=setter", "STATE_ROOT="+root, "STATE_ROUND="+strconv.Itoa(round+1))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := map[string]int64{}
		first := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			sc := bufio.NewScanner(stdout)
			for n := 0; sc.Scan(); n++ {
				fqn, seq, _ := strings.Cut(sc.Text(), " ")
				acked[fqn], _ = strconv.ParseInt(seq, 10, 64)
				if n == 0 {
					close(first)
				}
			}
		}()
		select {
		case <-first:
		case <-done:
			t.Fatalf("round %d: child exited before its first Set: %s", round, stderr.String())
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("round %d: no Set within 30s", round)
		}
		time.Sleep(time.Duration(rand.IntN(80)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-done
		cmd.Wait()
		if len(acked) == 0 {
			t.Fatalf("round %d: no acknowledged Set", round)
		}

		// Every row file parses, whatever instant the kill hit.
		dir := filepath.Join(root, "app", "crash")
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		temps := 0
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".json") {
				temps++
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			var row Row
			if err := json.Unmarshal(data, &row); err != nil || row.FQN == "" {
				t.Fatalf("round %d: %s is torn (%v):\n%s", round, e.Name(), err, data)
			}
		}
		rows, err := LoadAll(ctx, s, "app", "crash")
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		// Every acknowledged Set is there (or a later one of the same row).
		for fqn, seq := range acked {
			row := rows[fqn]
			if row == nil {
				t.Fatalf("round %d: acknowledged row %s missing", round, fqn)
			}
			var p struct{ Seq int64 }
			json.Unmarshal(row.Props, &p)
			if p.Seq < seq {
				t.Fatalf("round %d: %s has seq %d, but Set of seq %d returned", round, fqn, p.Seq, seq)
			}
		}
		t.Logf("round %d: %d rows acknowledged, %d temp files left by the kill", round, len(acked), temps)
	}
}
