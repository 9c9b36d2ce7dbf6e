package cli

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/alchemy-go/alchemy/internal/engine"
)

// devWritesEnv names the file in which the deploy of an `alchemy dev`
// cycle says what its provider calls wrote on this machine (devWrites), so
// that dev can tell a change made while the deploy ran from the deploy's
// own output. It is read from the process environment only (the dev loop
// sets it; a project's .env cannot), and only a file dev made is written:
// a regular file (not a link) that exists, is named like dev's
// (devWritesPrefix) and is empty or a report. A stray value can neither
// create a file nor overwrite one.
const devWritesEnv = "ALCHEMY_DEV_WRITES"

// devWritesPrefix starts the name of the file dev makes for the reports.
const devWritesPrefix = "alchemy-dev-writes-"

// devWritesVersion is the version of the report; a report of another one
// is as good as none.
const devWritesVersion = 1

// devWrites is the report of one deploy's local writes.
type devWrites struct {
	Version int `json:"version"`
	// Wrote are the absolute paths the provider calls reported.
	Wrote []string `json:"wrote"`
	// Unreported are the types of the resources whose provider was called
	// without promising to report its writes (engine.WriteReporter).
	Unreported []string `json:"unreported"`
}

// devWritesCollector returns what collects an apply's local writes when
// this deploy runs for `alchemy dev`, else nil.
func devWritesCollector() *engine.LocalWrites {
	if os.Getenv(devWritesEnv) == "" {
		return nil
	}
	return engine.NewLocalWrites()
}

// reportDevWrites writes w's report to the file devWritesEnv names, which
// must exist. A report that cannot be written is left out: dev then takes
// every change made during the deploy for its own, as without one.
func reportDevWrites(w *engine.LocalWrites) {
	path := os.Getenv(devWritesEnv)
	if w == nil || path == "" {
		return
	}
	data, err := json.Marshal(devWrites{Version: devWritesVersion, Wrote: w.Paths(), Unreported: w.Unreported()})
	if err != nil {
		return
	}
	if !strings.HasPrefix(filepath.Base(path), devWritesPrefix) {
		return
	}
	// Not through a link: only the regular file itself, as dev made it.
	li, err := os.Lstat(path)
	if err != nil || !li.Mode().IsRegular() {
		return
	}
	fh, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return
	}
	defer fh.Close()
	if fi, err := fh.Stat(); err != nil || !os.SameFile(li, fi) || fi.Size() > maxDevWrites {
		return
	}
	if old, err := io.ReadAll(fh); err != nil {
		return
	} else if _, ours := parseDevWrites(old); len(old) > 0 && !ours {
		return // not dev's
	}
	if fh.Truncate(0) == nil {
		fh.WriteAt(data, 0)
	}
}

// parseDevWrites decodes a report of this version; false for anything else.
func parseDevWrites(data []byte) (devWrites, bool) {
	var r devWrites
	if json.Unmarshal(data, &r) != nil || r.Version != devWritesVersion {
		return devWrites{}, false
	}
	return r, true
}

// maxDevWrites bounds the report file found before writing one: dev
// empties it before every deploy, so anything large is not dev's.
const maxDevWrites = 1 << 20

// readDevWrites reads a deploy's report; false when there is none (the
// deploy stopped before applying, was killed, or its program was built
// with an SDK that does not report).
func readDevWrites(path string) (devWrites, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return devWrites{}, false
	}
	return parseDevWrites(data)
}
