//go:build unix

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
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

// BenchmarkDevStackEditToApplied is BenchmarkDevEditToApplied for an edit of
// the stack file itself: the stack is rebuilt (the main package compiled,
// the whole program linked) before it deploys. Besides the time from the
// write to the deployed file holding the new content, it reports the
// cycles' own time as dev prints it (cycle-ms: build, plan and apply, no
// polling) and the size of the stack executable (exe-MB).
//
//	go test -run '^$' -bench DevStackEditToApplied -benchtime 10x ./internal/e2e/
//	BENCH_DWARF=1 go test ...   # the executable linked with its symbol table and DWARF, as before -ldflags=-s -w
//	BENCH_NO_RELINK=1 go test ...   # edits before the session prepared a relink: every one runs go build
func BenchmarkDevStackEditToApplied(b *testing.B) {
	w := newWorldTB(b)
	devModule(b, w.dir)
	// A cache of its own: the executable measured is this benchmark's.
	cache := b.TempDir()
	extra := []string{"ALCHEMY_CACHE_DIR=" + cache}
	if p := os.Getenv("BENCH_DEV_POLL"); p != "" {
		extra = append(extra, "ALCHEMY_DEV_POLL="+p)
	}
	if os.Getenv("BENCH_DWARF") != "" {
		// A -ldflags in GOFLAGS replaces alchemy's own.
		goflags := ""
		for _, kv := range w.env {
			if v, ok := strings.CutPrefix(kv, "GOFLAGS="); ok {
				goflags = v + " "
			}
		}
		extra = append(extra, "GOFLAGS="+goflags+"-ldflags=")
	}
	cmd := w.command(extra, "dev")
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer killGroup(cmd)
	deadline := time.Now().Add(180 * time.Second)
	for !strings.Contains(out.String(), "[dev] cycle 1 applied") {
		if time.Now().After(deadline) {
			b.Fatalf("dev never applied:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A session prepares the relink of the stack file while it waits
	// (stackrun.Builder.Prepare): once, as long as the stack's imports and
	// dependencies stay; a user pausing half a second after the first
	// cycle has it. The edits below come without a pause.
	if os.Getenv("BENCH_NO_RELINK") == "" {
		for {
			if recipes, _ := filepath.Glob(filepath.Join(cache, "stacks", "*", "*.relink")); len(recipes) > 0 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("dev never prepared a relink:\n%s", out.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	i := 0
	for b.Loop() {
		i++
		prefix := fmt.Sprintf("edit%d", i)
		os.WriteFile(w.path("alchemy.run.go"), []byte(devStack(prefix)), 0o644)
		for {
			got, _ := os.ReadFile(w.path("out", "greeting.txt"))
			if string(got) == prefix+" one" {
				break
			}
			if time.Now().After(deadline.Add(time.Hour)) {
				b.Fatalf("timeout:\n%s", out.String())
			}
			time.Sleep(2 * time.Millisecond)
		}
		for strings.Count(out.String(), "applied in") < i+1 {
			time.Sleep(2 * time.Millisecond)
		}
	}
	b.StopTimer()
	// The cycles that rebuilt the stack, after the first (built from
	// nothing): what each took as dev reports it.
	var total time.Duration
	built := 0
	applied := regexp.MustCompile(`\[dev\] cycle (\d+) applied in (\S+);`)
	text := out.String()
	for n, seg := 0, text; ; n++ {
		loc := applied.FindStringSubmatchIndex(seg)
		if loc == nil {
			break
		}
		if n > 0 && strings.Contains(seg[:loc[0]], "Building ") {
			d, err := time.ParseDuration(seg[loc[4]:loc[5]])
			if err != nil {
				b.Fatal(err)
			}
			total += d
			built++
		}
		seg = seg[loc[1]:]
	}
	if built > 0 {
		b.ReportMetric(float64(total.Milliseconds())/float64(built), "cycle-ms")
	}
	if exes, _ := filepath.Glob(filepath.Join(cache, "stacks", "*", "*-*")); len(exes) > 0 {
		var newest os.FileInfo
		for _, e := range exes {
			if fi, err := os.Stat(e); err == nil && !strings.HasSuffix(e, ".manifest") && (newest == nil || fi.ModTime().After(newest.ModTime())) {
				newest = fi
			}
		}
		if newest != nil {
			b.ReportMetric(float64(newest.Size())/(1<<20), "exe-MB")
		}
	}
	if built != i {
		b.Fatalf("%d rebuilds for %d edits of the stack file:\n%s", built, i, text)
	}
}
