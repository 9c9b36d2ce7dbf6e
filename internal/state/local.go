package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/alchemy-go/alchemy/internal/atomicfile"
)

// outputFile holds a stage's stack outputs, next to its rows.
const (
	outputFile = "__stack_output__.json"
	outputStem = "__stack_output__"
)

// Local is the project-local store, laid out like the TypeScript tool's:
//
//	<Root>/<stack>/<stage>/<EncodeFQN(fqn)>.json   one row per file
//	<Root>/<stack>/<stage>/__stack_output__.json   the stage's stack outputs
//
// Files are two-space-indented JSON, written atomically and durably (temp
// file, fsync, rename, directory fsync), mode 0600 in 0700 directories. There
// is no locking, as in the TypeScript tool: concurrent writers of one row
// leave one of the two versions, never a mix.
//
// A Local must not be copied after first use.
type Local struct {
	Root string // e.g. <project>/.alchemy/state

	stages sync.Map // stage directory path -> *stageDir
}

var _ Store = (*Local)(nil)

// NewLocal returns the store rooted at root. A relative root is made absolute
// now, so the store stays anchored at the directory the process started in.
func NewLocal(root string) *Local {
	if abs, err := filepath.Abs(root); err == nil {
		root = abs
	}
	return &Local{Root: root}
}

// stageDir is what the store remembers about one stage directory between
// calls: that it exists (so Set does not re-create it every time) and the
// group-committed fsync of the directory.
type stageDir struct {
	path  string
	mu    sync.Mutex // serialises creation
	ready atomic.Bool
	sync  dirSyncer
	j     journal
}

func (l *Local) stage(stack, stage string) (*stageDir, error) {
	if err := ValidateSegment("stack", stack); err != nil {
		return nil, err
	}
	if err := ValidateSegment("stage", stage); err != nil {
		return nil, err
	}
	path := filepath.Join(l.Root, stack, stage)
	if d, ok := l.stages.Load(path); ok {
		return d.(*stageDir), nil
	}
	d, _ := l.stages.LoadOrStore(path, &stageDir{path: path})
	return d.(*stageDir), nil
}

// ensure creates the stage directory (and its parents) once, and makes the
// new directory entries durable.
func (d *stageDir) ensure() error {
	if d.ready.Load() {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ready.Load() {
		return nil
	}
	var created []string
	for p := d.path; ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) || filepath.Dir(p) == p {
			break
		}
		created = append(created, p)
	}
	if err := atomicfile.MkdirPrivate(d.path); err != nil {
		return fmt.Errorf("creating state directory: %w", atomicfile.Elsewhere(err, ""))
	}
	for _, p := range created {
		if err := syncDir(filepath.Dir(p)); err != nil {
			return fmt.Errorf("creating state directory: %w", err)
		}
	}
	d.ready.Store(true)
	return nil
}

// marshalIndent writes a row as JSON.stringify(row, null, 2) does: two-space
// indent, no HTML escaping, no trailing newline.
func marshalIndent(row *Row) ([]byte, error) {
	compact, err := row.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(len(compact) * 3 / 2)
	if err := json.Indent(&buf, compact, "", "  "); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// CorruptError reports a state file that exists but cannot be used. It is
// never treated as absent: a plan or destroy that skipped it would act as if
// the resource did not exist.
type CorruptError struct {
	Path              string
	Stack, Stage, FQN string // FQN is empty for the stack-output record
	Problem           string // "is not valid JSON", "is not a valid state row"
	Err               error
}

func (e *CorruptError) Error() string {
	if e.FQN == "" {
		return fmt.Sprintf("stack output %s %s: %v. Fix or delete the file and re-run.", e.Path, e.Problem, e.Err)
	}
	return fmt.Sprintf("state row %s %s: %v. Nothing was changed. Restore the file (from a backup or version control) and re-run, "+
		"or forget the resource with `alchemy state delete %s/%s/%s --yes`: its cloud resource, if any, is then left as it is and the next deploy creates a new one.",
		e.Path, e.Problem, e.Err, e.Stack, e.Stage, e.FQN)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// readFile returns a state file's content, nil when it is missing. An empty
// file is an error, not "absent": nothing this tool or the TypeScript tool
// writes is empty (both write atomically), so an empty row is the remains of
// a crash or a full disk, and reading it as "no resource" would create a
// duplicate and orphan the original. A directory where a file belongs is an
// error for the same reason.
func readFile(path string, corrupt func(problem string, err error) error) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		if fi, serr := os.Stat(path); serr == nil && fi.IsDir() {
			return nil, corrupt("is a directory, not a file", errors.New("something other than alchemy created it"))
		}
		return nil, fmt.Errorf("reading state: %w", err)
	}
	if len(data) == 0 {
		return nil, corrupt("is empty", errors.New("0 bytes, the remains of a crash or a full disk"))
	}
	return data, nil
}

// parseRow reads a row file's content, props, attrs and the Extra fields
// compacted (without the file's indentation): in one pass when it can, else
// compacted first, then decoded.
func parseRow(data []byte, corrupt func(problem string, err error) error) (*Row, error) {
	if row, ok := decodeRowFile(data); ok {
		if err := row.Validate(); err != nil {
			return nil, corrupt("is not a valid state row", err)
		}
		return &row, nil
	}
	var compact bytes.Buffer
	compact.Grow(len(data))
	err := json.Compact(&compact, data)
	if err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			err = fmt.Errorf("%w (at byte %d)", err, syntax.Offset)
		}
		return nil, corrupt("is not valid JSON", err)
	}
	if compact.String() == "null" {
		return nil, corrupt("is not a valid state row", errors.New("it is null"))
	}
	var row Row
	if compact.Bytes()[0] == '{' {
		// Valid JSON (Compact said so): straight to the row's decoder,
		// without json.Unmarshal checking it all over again.
		err = row.UnmarshalJSON(compact.Bytes())
	} else {
		err = json.Unmarshal(compact.Bytes(), &row) // its error names the type
	}
	if err != nil {
		return nil, corrupt("is not a valid state row", err)
	}
	if err := row.Validate(); err != nil {
		return nil, corrupt("is not a valid state row", err)
	}
	return &row, nil
}

// Get reads a row, falling back to its legacy file name. A missing or
// zero-length file is no row; an unreadable or corrupt one is an error.
func (l *Local) Get(ctx context.Context, stack, stage, fqn string) (*Row, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d, err := l.stage(stack, stage)
	if err != nil {
		return nil, err
	}
	if fqn == "" {
		return nil, errors.New("state get: empty FQN")
	}
	ov, err := d.journaled()
	if err != nil {
		return nil, err
	}
	return d.get(stack, stage, fqn, ov, func(string) bool { return true }, pathDir(d.path), nil)
}

// get reads the row of fqn: the journal's entry (ov) first, then the file,
// under its current name, then its legacy one; exists says which files may
// exist. buf is a buffer to read into, or nil.
func (d *stageDir) get(stack, stage, fqn string, ov func(stem string) (entry, bool), exists func(stem string) bool, dir rowDir, buf []byte) (*Row, error) {
	names := []string{EncodeFQN(fqn)}
	if legacy, ok := legacyName(fqn); ok {
		names = append(names, legacy)
	}
	for _, name := range names {
		file := name + ".json"
		corrupt := func(problem string, err error) error {
			return &CorruptError{Path: filepath.Join(d.path, file), Stack: stack, Stage: stage, FQN: fqn, Problem: problem, Err: err}
		}
		var data []byte
		var err error
		if e, ok := ov(name); ok {
			data = e.data // nil: deleted since the file was written
		} else if exists(name) {
			if data, err = readRow(dir, file, buf, corrupt); err != nil {
				return nil, err
			}
		}
		if data == nil {
			continue
		}
		return parseRow(data, corrupt)
	}
	return nil, nil
}

// GetAll reads every row of a stage: one listing of its directory, one look
// at its journal, then the files, several at a time. The plan reads state
// once, through it.
func (l *Local) GetAll(ctx context.Context, stack, stage string) (map[string]*Row, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d, err := l.stage(stack, stage)
	if err != nil {
		return nil, err
	}
	entries, err := d.entries(stack, stage)
	if err != nil || entries == nil {
		return map[string]*Row{}, err
	}
	ovMap, err := d.overlay()
	if err != nil {
		return nil, err
	}
	files := make(map[string]bool, len(entries))
	for _, e := range entries {
		files[strings.TrimSuffix(e.Name(), ".json")] = true
	}
	fqns, err := d.fqns(stack, stage, entries, ovMap)
	if err != nil {
		return nil, err
	}
	dir := openDir(d.path)
	defer dir.close()
	return getEach(ctx, fqns, readWorkers, func() rowGetter {
		buf := make([]byte, 0, 16<<10)
		ov := func(stem string) (entry, bool) { e, ok := ovMap[stem]; return e, ok }
		return func(_ context.Context, fqn string) (*Row, error) {
			return d.get(stack, stage, fqn, ov, func(stem string) bool { return files[stem] }, dir, buf)
		}
	})
}

// readWorkers is how many row files GetAll reads and parses at once.
const readWorkers = 8

var errIsDir = errors.New("is a directory")

// readRow reads a row file as readFile does, into buf when it is large
// enough.
func readRow(dir rowDir, name string, buf []byte, corrupt func(problem string, err error) error) ([]byte, error) {
	data, err := readInto(dir, name, buf)
	switch {
	case errors.Is(err, errIsDir):
		return nil, corrupt("is a directory, not a file", errors.New("something other than alchemy created it"))
	case err != nil:
		return nil, fmt.Errorf("reading state: %w", err)
	case data != nil && len(data) == 0:
		return nil, corrupt("is empty", errors.New("0 bytes, the remains of a crash or a full disk"))
	}
	return data, nil
}

// Set writes row under its FQN and returns once it is durable. A file of the
// row under its legacy name is removed.
func (l *Local) Set(ctx context.Context, stack, stage string, row *Row) error {
	return l.set(ctx, stack, stage, row, nil)
}

// set is Set, refused unless fence (when set) passes a check made after the
// call and before the row is durable (see journal).
func (l *Local) set(ctx context.Context, stack, stage string, row *Row, fence Fence) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, err := l.stage(stack, stage)
	if err != nil {
		return err
	}
	if row == nil || row.FQN == "" {
		return errors.New("state set: row without an FQN")
	}
	data, err := row.MarshalJSON()
	if err != nil {
		return fmt.Errorf("encoding state row %s: %w", row.FQN, err)
	}
	recs := []record{{Stem: EncodeFQN(row.FQN), FQN: row.FQN, Data: data, settled: row.Stable()}}
	if legacy, ok := legacyName(row.FQN); ok {
		// While both exist readers prefer the new name; the legacy file goes
		// at the next checkpoint. Lstat first: it is a lock-free lookup.
		if _, err := os.Lstat(filepath.Join(d.path, legacy+".json")); err == nil {
			recs = append(recs, record{Stem: legacy, FQN: row.FQN, settled: true})
		}
	}
	if err := d.commit(fence, recs...); err != nil {
		return fenceOr(err, "writing state row %s/%s/%s: %w", stack, stage, row.FQN)
	}
	return nil
}

// Delete removes a row under its current and legacy names.
func (l *Local) Delete(ctx context.Context, stack, stage, fqn string) error {
	return l.delete(ctx, stack, stage, fqn, nil)
}

func (l *Local) delete(ctx context.Context, stack, stage, fqn string, fence Fence) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, err := l.stage(stack, stage)
	if err != nil {
		return err
	}
	if fqn == "" {
		return errors.New("state delete: empty FQN")
	}
	names := []string{EncodeFQN(fqn)}
	if legacy, ok := legacyName(fqn); ok {
		names = append(names, legacy)
	}
	recs := make([]record, len(names))
	for i, name := range names {
		recs[i] = record{Stem: name, FQN: fqn, settled: true}
	}
	if err := d.commit(fence, recs...); err != nil {
		return fenceOr(err, "deleting state row %s/%s/%s: %w", stack, stage, fqn)
	}
	return nil
}

// List returns the stage's FQNs, sorted. A missing stage directory is a stage
// without state; a directory that exists but cannot be listed is an error, so
// destroy never mistakes unreadable state for none.
func (l *Local) List(ctx context.Context, stack, stage string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d, err := l.stage(stack, stage)
	if err != nil {
		return nil, err
	}
	entries, err := d.entries(stack, stage)
	if err != nil || entries == nil {
		return nil, err
	}
	ov, err := d.overlay()
	if err != nil {
		return nil, err
	}
	return d.fqns(stack, stage, entries, ov)
}

// entries lists the stage directory's row files (names ending in .json,
// the output's aside); nil when there is no stage directory.
func (d *stageDir) entries(stack, stage string) ([]fs.DirEntry, error) {
	entries, err := os.ReadDir(d.path)
	if errors.Is(err, fs.ErrNotExist) {
		// Cross-check, as the TypeScript store does: "not found" must mean the
		// directory really is not there.
		if _, serr := os.Lstat(d.path); !errors.Is(serr, fs.ErrNotExist) {
			return nil, fmt.Errorf("listing state of %s/%s: %s could not be read (%v) but exists (%v); refusing to treat the stage as empty", stack, stage, d.path, err, serr)
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing state of %s/%s: %w", stack, stage, err)
	}
	rows := make([]fs.DirEntry, 0, len(entries))
	for _, e := range entries {
		if name := e.Name(); name != outputFile && strings.HasSuffix(name, ".json") {
			rows = append(rows, e)
		}
	}
	return rows, nil
}

// fqns are the FQNs of the rows in the stage's files (entries) and journal
// (ov), sorted.
func (d *stageDir) fqns(stack, stage string, entries []fs.DirEntry, ov map[string]entry) ([]string, error) {
	fqns := make([]string, 0, len(entries)+len(ov))
	for _, e := range entries {
		stem := strings.TrimSuffix(e.Name(), ".json")
		if _, journaled := ov[stem]; journaled {
			continue
		}
		if e.IsDir() {
			// Skipping it would plan the resource as new: a duplicate.
			return nil, &CorruptError{Path: filepath.Join(d.path, e.Name()), Stack: stack, Stage: stage, FQN: fqnFromFileStem(stem),
				Problem: "is a directory, not a file", Err: errors.New("something other than alchemy created it")}
		}
		fqns = append(fqns, fqnFromFileStem(stem))
	}
	for stem, e := range ov {
		if e.data != nil && stem+".json" != outputFile {
			fqns = append(fqns, fqnFromFileStem(stem))
		}
	}
	slices.Sort(fqns)
	return slices.Compact(fqns), nil // a row under both its new and legacy name
}

// GetOutput returns the stage's stack-output record (compact JSON), nil when
// absent.
func (l *Local) GetOutput(ctx context.Context, stack, stage string) (json.RawMessage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d, err := l.stage(stack, stage)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(d.path, outputFile)
	ov, err := d.overlay()
	if err != nil {
		return nil, err
	}
	var data []byte
	if e, ok := ov[outputStem]; ok {
		data = e.data
	} else if data, err = readFile(path, func(problem string, err error) error {
		return &CorruptError{Path: path, Stack: stack, Stage: stage, Problem: problem, Err: err}
	}); err != nil {
		return nil, err
	}
	if data == nil {
		return nil, nil
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, data); err != nil {
		return nil, &CorruptError{Path: path, Stack: stack, Stage: stage, Problem: "is not valid JSON", Err: err}
	}
	return compact.Bytes(), nil
}

// SetOutput replaces the stage's stack-output record; nil removes it.
func (l *Local) SetOutput(ctx context.Context, stack, stage string, out json.RawMessage) error {
	return l.setOutput(ctx, stack, stage, out, nil)
}

func (l *Local) setOutput(ctx context.Context, stack, stage string, out json.RawMessage, fence Fence) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, err := l.stage(stack, stage)
	if err != nil {
		return err
	}
	if len(out) == 0 {
		if err := d.commit(fence, record{Stem: outputStem, settled: true}); err != nil {
			return fenceOr(err, "removing stack output of %s/%s: %w", stack, stage)
		}
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, out); err != nil {
		return fmt.Errorf("stack output of %s/%s is not valid JSON: %w", stack, stage, err)
	}
	if err := d.commit(fence, record{Stem: outputStem, Data: buf.Bytes(), settled: true}); err != nil {
		return fenceOr(err, "writing stack output of %s/%s: %w", stack, stage)
	}
	return nil
}

// Recover writes a journal left by a killed run into the row files and
// removes it. The caller must hold the stage's deploy lock.
func (l *Local) Recover(ctx context.Context, stack, stage string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, err := l.stage(stack, stage)
	if err != nil {
		return err
	}
	d.j.mu.Lock()
	defer d.j.mu.Unlock()
	if d.j.f != nil {
		return nil // this process is the writer: nothing was left behind
	}
	if _, err := os.Lstat(filepath.Join(d.path, journalFile)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return d.replay()
}

// Flush writes every journaled row to its file and removes the journals, so
// the stage is in the TypeScript tool's layout again. The engine calls it
// at the end of a run; a run killed before leaves journals that readers
// overlay and the next writer replays.
func (l *Local) Flush(ctx context.Context) error {
	var first error
	l.stages.Range(func(_, v any) bool {
		if err := v.(*stageDir).flush(); err != nil && first == nil {
			first = err
		}
		return true
	})
	return first
}

// Detach forgets this process's journal of a stage without removing it:
// called when the lease it was written under is released, after which
// another process may replay that journal and start its own. The next
// commit here starts a new journal, replaying whatever one it finds.
func (l *Local) Detach(stack, stage string) {
	if d, err := l.stage(stack, stage); err == nil {
		d.closeJournal(errDetached)
	}
}

var errDetached = errors.New("the lease of the stage was released before this change was saved")

// closeJournal stops writing behind and closes the journal, forgetting
// what was written in it (it is all in the file, durable). Commits
// appended but not yet written fail with dropErr; with nil they succeed,
// gone with the stage (DeleteStage).
func (d *stageDir) closeJournal(dropErr error) {
	j := &d.j
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	j.stopBehind()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f != nil {
		j.f.Close()
	}
	if dropErr != nil && j.written > j.synced {
		j.dropped, j.dropErr = j.written, dropErr
	}
	j.f, j.pending, j.synced, j.inFile = nil, nil, j.written, nil
	j.batch, j.recs, j.fences, j.broken, j.size = j.batch[:0], nil, nil, nil, 0
}

// DeleteStage removes the stage directory, output included, then the stack
// directory if that left it empty. Nothing else is touched.
func (l *Local) DeleteStage(ctx context.Context, stack, stage string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, err := l.stage(stack, stage)
	if err != nil {
		return err
	}
	d.closeJournal(nil)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ready.Store(false)
	if err := removeStage(d.path); err != nil {
		return fmt.Errorf("deleting state of %s/%s: %w", stack, stage, err)
	}
	stackDir := filepath.Dir(d.path)
	parent := stackDir
	if err := os.Remove(stackDir); err == nil {
		parent = l.Root
	}
	if err := syncDir(parent); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("deleting state of %s/%s: %w", stack, stage, err)
	}
	return nil
}

// removeStage deletes a stage directory: its row files first, a few at a
// time (the file system releases a file's blocks outside the directory's
// lock, and on a disk that discards them that is most of the time), then
// whatever is left, the journal with it.
func removeStage(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	names := make(chan string)
	var wg sync.WaitGroup
	for range min(entryWriters, len(entries)) {
		wg.Go(func() {
			for name := range names {
				_ = os.Remove(filepath.Join(dir, name)) // what fails is left to RemoveAll, which says why
			}
		})
	}
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") {
			names <- e.Name()
		}
	}
	close(names)
	wg.Wait()
	return os.RemoveAll(dir)
}

// Stacks returns the stack directories, sorted.
func (l *Local) Stacks(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return subdirs(l.Root)
}

// Stages returns a stack's stage directories, sorted.
func (l *Local) Stages(ctx context.Context, stack string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ValidateSegment("stack", stack); err != nil {
		return nil, err
	}
	return subdirs(filepath.Join(l.Root, stack))
}

func subdirs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing state: %w", err)
	}
	var names []string
	for _, e := range entries {
		isDir := e.IsDir()
		if e.Type()&fs.ModeSymlink != 0 {
			fi, err := os.Stat(filepath.Join(dir, e.Name()))
			isDir = err == nil && fi.IsDir()
		}
		if isDir {
			names = append(names, e.Name())
		}
	}
	return names, nil // os.ReadDir sorts by name
}
