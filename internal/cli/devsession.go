//go:build !alchemy_child

package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/alchemy-go/alchemy/internal/stackfile"
	"github.com/alchemy-go/alchemy/internal/stackrun"
)

// devRun is `alchemy dev` once its stage is confirmed: deploy, then watch
// and deploy again on every change, until interrupted. The alchemy command
// runs it, never a stack program (child.go).
func devRun(ctx context.Context, opts *DevOptions, file string, pass []string) error {
	io := opts.F.IO
	path, err := stackfile.Locate(file)
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(path)
	root := stackrun.WatchRoot(abs)
	interval, settle := 200*time.Millisecond, 100*time.Millisecond
	if d, err := time.ParseDuration(os.Getenv("ALCHEMY_DEV_POLL")); err == nil && d > 0 {
		interval, settle = d, d/2
	}
	s := &devSession{
		f:       opts.F,
		builder: &stackrun.Builder{Stderr: os.Stderr},
		watch:   stackrun.NewWatcher(root),
		file:    abs,
		args:    append([]string{"deploy", abs, "--yes"}, pass...),
		env:     []string{"ALCHEMY_DEV=1", "ALCHEMY_STACK_FILE=" + abs},
	}
	// Files every cycle's program shares with the session (newShared):
	// where a warning said is noted, so it is said once per session, not
	// once per cycle (warnOncePerSession), and where each deploy says what
	// its provider calls wrote (devWrites). On Unix they are the programs'
	// descriptors 4 and 5, after the needs file (3).
	for _, sf := range []struct {
		pattern, env string
		dst          **os.File
	}{{"alchemy-dev-writes-*", devWritesEnv, &s.writes}, {"alchemy-dev-notices-*", devNoticesEnv, nil}} {
		f, err := newShared(sf.pattern)
		if err != nil {
			continue // a session without it: each cycle as a plain deploy
		}
		defer f.Close()
		if !sharedByDescriptor {
			defer os.Remove(f.Name())
			ignoreFile(s.watch, f) // a TMPDIR inside the module
		}
		s.env = append(s.env, sharedEnv(sf.env, f, 4+len(s.files)))
		s.files = append(s.files, f)
		if sf.dst != nil {
			*sf.dst = f
		}
	}
	if !sharedByDescriptor {
		s.files = nil // reached by their names
	}
	for _, f := range []*os.File{os.Stdout, os.Stderr} {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			s.watch.Ignore(fi)
		}
	}
	s.watch.Look()
	// Told of changes by the system, a session looks at once instead of
	// at the next poll; polling goes on underneath either way.
	if err := s.watch.Notify(); err != nil {
		io.Errorf("[dev] the system does not report changes to every directory here (%v): those are looked at every %s\n", err, interval)
	}
	defer s.watch.Close()
	// A chain of cycles started at once for files changed while the
	// cycle before ran: how long it is, and every file taken for an edit
	// along it (judgeWritten).
	var chain int
	var suspects map[string]bool
	for n := 1; ; n++ {
		start := time.Now()
		c := s.cycle(ctx)
		switch {
		case c.code == ExitInterrupted || errors.Is(ctx.Err(), context.Canceled):
			io.Errorf("[dev] stopped.\n")
			return &ExitError{Code: ExitInterrupted}
		case c.err != nil:
			io.Errorf("%s\n[dev] cycle %d failed to build after %s; fix it and save: alchemy keeps watching.\n", c.err, n, time.Since(start).Round(time.Millisecond))
		case c.code != 0:
			io.Errorf("[dev] cycle %d: the deploy failed (exit %d) after %s; alchemy keeps watching.\n", n, c.code, time.Since(start).Round(time.Millisecond))
		default:
			io.Errorf("[dev] cycle %d applied in %s; watching %s (Ctrl-C to stop)\n", n, time.Since(start).Round(time.Millisecond), root)
		}
		if c.stale {
			// The program that just ran is not what the sources build
			// any more: run the new one rather than wait for an edit.
			io.Errorf("[dev] changed while cycle %d ran: %s\n", n, describeChanges(root, c.changed))
			chain, suspects = 0, nil
			continue
		}
		j := judgeWritten(c.written, c.report, c.reported, suspects, chain)
		if len(j.own) > 0 {
			why := ""
			if j.why != "" {
				why = " (" + j.why + ")"
			}
			io.Errorf("[dev] changed while cycle %d ran, taken as the deploy's own output%s: %s (if you edited it meanwhile, save it again)\n", n, why, describeChanges(root, j.own))
		}
		if len(j.edits) > 0 {
			// Edited while the deploy ran, after the program had read
			// them: deploy them now rather than wait for another edit.
			io.Errorf("[dev] changed while cycle %d ran: %s\n", n, describeChanges(root, j.edits))
			if suspects == nil {
				suspects = map[string]bool{}
			}
			for _, p := range j.edits {
				suspects[p] = true
			}
			chain++
			continue
		}
		chain, suspects = 0, nil
		// While it waits, the session makes the next build of an edited
		// stack file a compile and a link (stackrun.Builder.Prepare).
		prepCtx, stopPrep := context.WithCancel(ctx)
		prepared := make(chan struct{})
		go func() {
			defer close(prepared)
			_ = s.builder.Prepare(prepCtx, s.file) // without a recipe, go build builds
		}()
		changed, err := s.watch.Wait(ctx, interval, settle)
		stopPrep()
		<-prepared
		if err != nil {
			io.Errorf("[dev] stopped.\n")
			return &ExitError{Code: ExitInterrupted}
		}
		io.Errorf("[dev] changed: %s\n", describeChanges(root, changed))
	}
}

// devSession is what every cycle of one `alchemy dev` works with.
type devSession struct {
	f       *Factory
	builder *stackrun.Builder
	watch   *stackrun.Watcher // what the stack's module held when the last cycle ended
	file    string            // the stack file, absolute
	args    []string          // the stack program's: deploy ...
	env     []string          // and its extra environment
	files   []*os.File        // and the files it shares with them (newShared)
	writes  *os.File          // of which the one its deploys report their local writes in (nil: none)
}

// devCycleResult is what one cycle did.
type devCycleResult struct {
	code    int      // the deploy's exit code
	err     error    // the build failed
	stale   bool     // the stack's Go sources changed since they were built
	changed []string // files changed while the cycle ran
	written []string // of which while the deploy ran
	// report is what the deploy's provider calls wrote (devWrites), when
	// reported.
	report   devWrites
	reported bool
}

// cycle rebuilds the stack (cached when only other files changed) and
// deploys it, then records what the module holds, so that what the deploy
// wrote never starts a cycle (stackrun.Watcher says why comparing content
// is how). Edits made while the cycle ran are found two ways: the stack's
// Go sources are fingerprinted when the build starts (Built.Key) and after
// the deploy (Builder.Current), and a change there means the program that
// ran is already out of date; the deploy reports the files its provider
// calls wrote (devWrites), and judgeWritten tells the rest apart.
func (s *devSession) cycle(ctx context.Context) (c devCycleResult) {
	built, err := s.builder.BuildStack(ctx, s.file)
	// Edits made while building are read by the deploy that starts now,
	// or, after a failed build, by the next one.
	c.changed = s.watch.Look()
	if err != nil {
		c.err = err
	} else {
		// A program that needs a store or the auth providers it was built
		// without did nothing yet: built with them, it deploys now.
		// (A program that could not be started has failed with its exit
		// code, 126 or 127, like a deploy that failed.)
		var buildErr error
		// What an earlier deploy reported is not this one's: a report
		// that cannot be emptied is none.
		emptied := s.writes != nil && s.writes.Truncate(0) == nil
		code, err := buildAndRun(ctx, s.f, s.builder, s.file, built.Exe, func() (string, error) {
			built, buildErr = s.builder.BuildStack(ctx, s.file)
			return built.Exe, buildErr
		}, s.args, s.env, s.files...)
		switch {
		case buildErr != nil:
			c.err = buildErr
		case err != nil && code == 0:
			c.err = err // it asked again for what it was built with
		default:
			c.code = code
		}
		c.written = s.watch.Look()
		c.changed = dedupeSorted(append(c.changed, c.written...))
		if emptied {
			c.report, c.reported = readDevWrites(s.writes)
		}
	}
	if ctx.Err() != nil {
		return c
	}
	// An executable the cache holds is checked again: its manifest covers
	// the //go:embed files, which the key does not. One the cache did not
	// trust is rebuilt by the next cycle anyway; checking it would start a
	// cycle at once, and forever if it can never be trusted.
	key, exe, _ := s.builder.Current(s.file)
	c.stale = key != built.Key || (built.Cached && exe != built.Exe)
	return c
}

// afterDeploy is what dev makes of the files that changed while a deploy
// ran (judgeWritten).
type afterDeploy struct {
	edits []string // a user's edits: the next cycle deploys them at once
	own   []string // taken as the deploy's own output, for why
	why   string
}

// judgeWritten tells the deploy's own output from a user's edits among the
// files that changed while it ran (written), by what its provider calls
// reported writing (report, when reported). A reported file is its own.
// Any other is an edit, made after the program read it, when the report
// accounts for every call; it is taken as the deploy's own instead when
// there is no report (an SDK that does not report, a deploy that stopped
// before applying) and when a provider called does not report its writes.
//
// A cycle started for such edits (chain > 0, suspects: every file taken
// for an edit since the chain began) that sees one of them change again
// takes it for the stack's own: its code writes it on every run, and
// another deploy would only do it again. A file not among them is still an
// edit, up to maxChain cycles in a row: a stack that writes a new file on
// every run comes to rest too.
func judgeWritten(written []string, report devWrites, reported bool, suspects map[string]bool, chain int) afterDeploy {
	own := make(map[string]bool, len(report.Wrote))
	for _, p := range report.Wrote {
		own[p] = true
	}
	var others []string
	for _, p := range written {
		if !own[p] {
			others = append(others, p)
		}
	}
	switch {
	case len(others) == 0:
		return afterDeploy{}
	case !reported:
		return afterDeploy{own: others}
	case len(report.Unreported) > 0:
		return afterDeploy{own: others, why: strings.Join(report.Unreported, ", ") + " may write files without saying so"}
	}
	var fresh, again []string
	for _, p := range others {
		if suspects[p] {
			again = append(again, p)
		} else {
			fresh = append(fresh, p)
		}
	}
	why := fmt.Sprintf("it changed during each of the last %d deploys: the stack's own code writes it", chain+1)
	if chain >= maxChain {
		return afterDeploy{own: others, why: why}
	}
	j := afterDeploy{edits: fresh, own: again}
	if len(again) > 0 {
		j.why = why
	}
	return j
}

// maxChain bounds the cycles started in a row for files changed while the
// cycle before ran.
const maxChain = 3

// ignoreFile leaves f, one of dev's own files, out of what w watches.
func ignoreFile(w *stackrun.Watcher, f *os.File) {
	if fi, err := f.Stat(); err == nil {
		w.Ignore(fi)
	}
}

// dedupeSorted sorts paths and drops repeats.
func dedupeSorted(paths []string) []string {
	slices.Sort(paths)
	return slices.Compact(paths)
}

func describeChanges(root string, changed []string) string {
	var rel []string
	for i, p := range changed {
		if i == 5 {
			rel = append(rel, fmt.Sprintf("and %d more", len(changed)-5))
			break
		}
		if r, err := filepath.Rel(root, p); err == nil {
			p = r
		}
		rel = append(rel, p)
	}
	if len(rel) == 0 {
		return "the stack's Go sources"
	}
	return strings.Join(rel, ", ")
}
