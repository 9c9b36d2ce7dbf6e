package stackrun

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// procsMatching returns the pid and name of the running (not zombie)
// processes whose environment holds env, named comm unless that is "".
func procsMatching(env, comm string) map[int]string {
	out := map[int]string{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		i := bytes.LastIndexByte(stat, ')')
		if err != nil || i < 0 || strings.HasPrefix(string(stat[i+1:]), " Z") {
			continue
		}
		name := string(stat[bytes.IndexByte(stat, '(')+1 : i])
		environ, _ := os.ReadFile(filepath.Join(dir, "environ"))
		cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
		// The linker at work, not `link -V=full`, which go runs first to
		// fingerprint it.
		working := comm != "link" || bytes.Contains(cmdline, []byte("\x00-importcfg"))
		if bytes.Contains(environ, []byte(env)) && (comm == "" || name == comm) && working {
			out[pid] = name
		}
	}
	return out
}

// Cancelling a build while go links the stack kills the linker with go, and
// Build returns only once they are gone and the build's GOTMPDIR (with go's
// work directory in it) is removed.
func TestBuildCancelledWhileLinkingLeavesNothing(t *testing.T) {
	t.Parallel()
	g := newGoEnv(t)
	tmp := t.TempDir()
	g.env = append(g.env, "TMPDIR="+tmp, "GOTMPDIR=")
	// net/http makes a link long enough to land in.
	stack := newModule(t, map[string]string{"alchemy.run.go": stackSource(`	_ "net/http"`, `"linked"`)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := g.builder(&bytes.Buffer{}).Build(ctx, stack)
		done <- err
	}()
	marker := "GOTMPDIR=" + g.cache + string(filepath.Separator)
	var linker map[int]string
	for deadline := time.Now().Add(2 * time.Minute); len(linker) == 0; {
		select {
		case err := <-done:
			t.Fatalf("the build ended (%v) before its linker was seen", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the build never ran the linker")
		}
		linker = procsMatching(marker, "link")
		time.Sleep(2 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Build: %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Build did not return within 30 s of the cancel")
	}
	if left := procsMatching(marker, ""); len(left) > 0 {
		t.Errorf("still running after Build returned: %v (the linker was %v)", left, linker)
	}
	for _, dir := range []string{g.cache, tmp} {
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			// The stack's cache directory and its lock stay.
			name := d.Name()
			if d.IsDir() && !strings.HasPrefix(name, goTmpPrefix) && !strings.HasPrefix(name, "go-build") || name == ".lock" {
				return nil
			}
			t.Errorf("left behind: %s", path)
			return nil
		})
	}
}
