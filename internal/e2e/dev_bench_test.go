//go:build unix

package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// BenchmarkDevEditToApplied is how long a one-resource change takes to be
// live in an `alchemy dev` session: from writing the file the stack reads
// to the deployed file holding the new content (polling included; no
// rebuild needed).
//
//	go test -run '^$' -bench DevEditToApplied -benchtime 10x ./internal/e2e/
func BenchmarkDevEditToApplied(b *testing.B) {
	w := newWorldTB(b)
	devModule(b, w.dir)
	// The product's default polling (200 ms, 100 ms to settle), unless
	// BENCH_DEV_POLL says otherwise.
	var extra []string
	if p := os.Getenv("BENCH_DEV_POLL"); p != "" {
		extra = append(extra, "ALCHEMY_DEV_POLL="+p)
	}
	cmd := w.command(extra, "dev")
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer killGroup(cmd)
	deadline := time.Now().Add(120 * time.Second)
	for !strings.Contains(out.String(), "[dev] cycle 1 applied") {
		if time.Now().After(deadline) {
			b.Fatalf("dev never applied:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	i := 0
	for b.Loop() {
		i++
		want := fmt.Sprintf("hello v%d", i)
		os.WriteFile(w.path("message.txt"), []byte(fmt.Sprintf("v%d", i)), 0o644)
		for {
			got, _ := os.ReadFile(w.path("out", "greeting.txt"))
			if string(got) == want {
				break
			}
			if time.Now().After(deadline.Add(time.Hour)) {
				b.Fatal("timeout")
			}
			time.Sleep(2 * time.Millisecond)
		}
		// Let the cycle finish before the next edit.
		for strings.Count(out.String(), "applied in") < i+1 {
			time.Sleep(2 * time.Millisecond)
		}
	}
}
