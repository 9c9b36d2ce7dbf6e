package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/alchemy-go/alchemy/internal/iostreams"
)

// Each dev cycle is a process of its own: a warning one cycle printed is
// not printed again in the same session; a new one is. Without a session
// file (a plain deploy) every warning is printed, and no file is created.
func TestWarnOncePerSession(t *testing.T) {
	cycle := func() (*Factory, func() string) {
		io, _, _, errOut := iostreams.Test()
		return &Factory{IO: io}, errOut.String
	}
	notices := filepath.Join(t.TempDir(), "notices")
	f, err := os.Create(notices) // what the session hands its programs (newShared)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	defer func(old *os.File) { programNotices = old }(programNotices)
	programNotices = f
	first, out1 := cycle()
	first.warnOncePerSession("account differs")
	first.warnOncePerSession("account differs")
	second, out2 := cycle()
	second.warnOncePerSession("account differs")
	second.warnOncePerSession("region differs")
	if got := out1(); got != "warning: account differs\n" {
		t.Errorf("first cycle printed %q", got)
	}
	if got := out2(); got != "warning: region differs\n" {
		t.Errorf("second cycle printed %q, want only the new warning", got)
	}
	data, _ := os.ReadFile(notices)
	if len(data) == 0 || string(data) == "account differs\n" {
		t.Errorf("the session file holds %q: want hashes", data)
	}

	missing := filepath.Join(t.TempDir(), "none")
	programNotices = claimShared(missing) // a stray value names nothing
	plain, out := cycle()
	plain.warnOncePerSession("account differs")
	plain.warnOncePerSession("account differs")
	if got := out(); got != "warning: account differs\nwarning: account differs\n" {
		t.Errorf("without a session file: %q", got)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("a session file was created: %v", err)
	}
}
