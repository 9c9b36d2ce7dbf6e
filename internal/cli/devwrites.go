package cli

import (
	"encoding/json"
	"os"

	"github.com/alchemy-go/alchemy/internal/engine"
)

// devWritesEnv names the shared file (newShared) in which the deploy of an
// `alchemy dev` cycle says what its provider calls wrote on this machine
// (devWrites), so that dev can tell a change made while the deploy ran
// from the deploy's own output. The dev session makes it once, empties it
// before every cycle and hands it to each program as its descriptor 4.
const devWritesEnv = "ALCHEMY_DEV_WRITES"

// programDevWrites is that file in a deploy run by `alchemy dev`, claimed
// at package init; nil otherwise. A stray value of the variable names
// nothing a program writes to (claimShared).
var programDevWrites = claimShared(os.Getenv(devWritesEnv))

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
	if programDevWrites == nil {
		return nil
	}
	return engine.NewLocalWrites()
}

// reportDevWrites writes w's report to the dev session's file. A report
// that cannot be written is left out: dev then takes every change made
// during the deploy for its own, as without one.
func reportDevWrites(w *engine.LocalWrites) {
	if w == nil || programDevWrites == nil {
		return
	}
	data, err := json.Marshal(devWrites{Version: devWritesVersion, Wrote: w.Paths(), Unreported: w.Unreported()})
	if err != nil {
		return
	}
	if programDevWrites.Truncate(0) == nil {
		programDevWrites.WriteAt(data, 0)
	}
}

// readDevWrites reads a deploy's report from f; false when there is none
// (the deploy stopped before applying, was killed, or its program was
// built with an SDK that does not report) or it is not of this version.
func readDevWrites(f *os.File) (devWrites, bool) {
	data, err := readShared(f)
	var r devWrites
	if err != nil || json.Unmarshal(data, &r) != nil || r.Version != devWritesVersion {
		return devWrites{}, false
	}
	return r, true
}

// readShared reads a shared file whole, from its start whatever its offset.
func readShared(f *os.File) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	data := make([]byte, fi.Size())
	n, err := f.ReadAt(data, 0)
	if n == len(data) {
		err = nil
	}
	return data[:n], err
}

// ReportDevWritesTo makes this process's deploys report their local writes
// to f, as a deploy run by `alchemy dev` does; nil stops it. For tests that
// run a stack's CLI in-process (internal/stacktest).
func ReportDevWritesTo(f *os.File) { programDevWrites = f }
