//go:build unix

package stackrun

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/stackfile"
)

// thisRepoStack is a stack file inside this repository's module, so the key
// walks the whole alchemy module.
func thisRepoStack(tb testing.TB) (stack, modRoot string) {
	tb.Helper()
	stack, err := filepath.Abs(filepath.Join("testdata", "hello", stackfile.DefaultFile))
	if err != nil {
		tb.Fatal(err)
	}
	modRoot, ok := findUp(filepath.Dir(stack), "go.mod")
	if !ok {
		tb.Fatal("no go.mod above the test data")
	}
	return stack, modRoot
}

func thisRepoKeyInput(tb testing.TB) keyInput {
	stack, modRoot := thisRepoStack(tb)
	content, err := os.ReadFile(stack)
	if err != nil {
		tb.Fatal(err)
	}
	env := envMap(os.Environ())
	goBin, err := lookGo(env)
	if err != nil {
		tb.Skip(err)
	}
	return keyInput{stackAbs: stack, content: content, modRoot: modRoot, goBin: goBin, env: env}
}

// BenchmarkKeyThisRepo measures the cache key over this repository.
func BenchmarkKeyThisRepo(b *testing.B) {
	in := thisRepoKeyInput(b)
	for b.Loop() {
		if _, err := computeKey(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildHitThisRepo measures a whole Build that hits the cache.
func BenchmarkBuildHitThisRepo(b *testing.B) {
	stack, _ := thisRepoStack(b)
	bl := &Builder{CacheDir: b.TempDir(), Stderr: &bytes.Buffer{}}
	first, err := bl.Build(context.Background(), stack)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		exe, err := bl.Build(context.Background(), stack)
		if err != nil || exe != first {
			b.Fatalf("Build: %s, %v", exe, err)
		}
	}
}

// TestCacheHitCostThisRepo keeps the cache hit cheap: its median over this
// repository must stay far below the 150 ms an `alchemy plan` may take.
func TestCacheHitCostThisRepo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a stack")
	}
	t.Parallel()
	in := thisRepoKeyInput(t)
	stack := in.stackAbs
	bl := &Builder{CacheDir: t.TempDir(), Env: os.Environ(), Stderr: &bytes.Buffer{}}
	if _, err := bl.Build(context.Background(), stack); err != nil {
		t.Fatal(err)
	}
	median := func(f func()) time.Duration {
		var d []time.Duration
		for range 21 {
			start := time.Now()
			f()
			d = append(d, time.Since(start))
		}
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[len(d)/2]
	}
	key := median(func() {
		if _, err := computeKey(in); err != nil {
			t.Fatal(err)
		}
	})
	hit := median(func() {
		if _, err := bl.Build(context.Background(), stack); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("this repository: key %v, whole cache hit %v (medians of 21)", key, hit)
	if hit > 50*time.Millisecond {
		t.Errorf("a cache hit took %v: the key must cost a few ms", hit)
	}
}
