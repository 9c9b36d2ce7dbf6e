package browser

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/envfile"
)

func TestOpenUsesBROWSER(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "opened")
	script := filepath.Join(dir, "browser")
	os.WriteFile(script, []byte("#!/bin/sh\necho \"$@\" > "+out+"\n"), 0o755)
	env := envfile.FromMap(map[string]string{"BROWSER": script + " --new-window %s"})
	if err := Open(env, "http://x/?a=1"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, _ := os.ReadFile(out)
		if string(data) == "--new-window http://x/?a=1\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("browser got %q", data)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// No $BROWSER and no display: do not even try.
	if err := Open(envfile.FromMap(map[string]string{}), "http://x/"); err != ErrNoDisplay && runtime.GOOS == "linux" {
		t.Fatalf("no display: %v", err)
	}
}
