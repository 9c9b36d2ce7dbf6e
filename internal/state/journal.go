package state

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/alchemy-go/alchemy/internal/atomicfile"
)

// journalFile is a stage's write-ahead journal. A deploy commits a row
// before and after every provider call; writing each commit as its own file
// costs a file creation, a rename and their flushes. Instead a commit is one
// line appended to the journal and flushed together with every other commit
// in flight (one write and one fdatasync for all). At the end of the run
// (Flush), or once the journal holds checkpointBytes, the rows are written to their files in the
// TypeScript tool's layout and the journal is removed. A run killed before
// that leaves the journal: readers overlay it on the files, and the next
// writer replays it into the files first. The name does not end in .json, so
// neither this tool's List nor the TypeScript tool sees it as a row.
const journalFile = ".journal"

// checkpointBytes bounds the journal: past it, a commit writes the rows to
// their files and starts a new one. It is a size, not a number of rows, so
// a large stage does not stop every commit in flight to write thousands of
// files in the middle of its deploy (4,096 rows did: half of a 10,000-row
// deploy's time), while replaying or overlaying a journal stays bounded.
const checkpointBytes = 64 << 20

// journalSync makes a journal's appended lines durable; tests count and
// fail it.
var journalSync = fdatasync

// record is one journal line.
type record struct {
	Stem string          `json:"n"`           // file name without .json
	FQN  string          `json:"f,omitempty"` // empty for the stack output
	Data json.RawMessage `json:"d,omitempty"` // compact content; absent when deleted
	// settled marks content this run is unlikely to change again (a stable
	// row, a delete, the outputs): its file is written behind the commits
	// (see behind).
	settled bool
	seq     uint64 // the record's number in this process's journal
}

// appendRecord appends r as one line of JSON (without its newline): what
// json.Marshal writes, without its reflection, and with Data as it is (a
// row's MarshalJSON or compacted outputs: compact, valid JSON, on one line).
func appendRecord(buf []byte, r record) []byte {
	buf = append(buf, `{"n":`...)
	buf = appendString(buf, r.Stem)
	if r.FQN != "" {
		buf = append(buf, `,"f":`...)
		buf = appendString(buf, r.FQN)
	}
	if len(r.Data) > 0 {
		buf = append(append(buf, `,"d":`...), r.Data...)
	}
	return append(buf, '}')
}

// appendString appends s as a JSON string.
func appendString(buf []byte, s string) []byte {
	if out, ok := appendPlainString(buf, s); ok {
		return out
	}
	q, _ := json.Marshal(s) // a string always marshals
	return append(buf, q...)
}

// entry is the latest journaled content of one file; nil data is a delete.
type entry struct {
	fqn  string
	data []byte
	seq  uint64 // the record it comes from; 0 when read from a journal file
}

// journal is the writer side of one stage's journal.
//
// A commit only appends its lines to an in-memory batch (mu); one of the
// committers waiting then writes the whole batch with one write and one
// fdatasync for all (syncMu), so the file is written by one goroutine at a
// time and no commit makes a system call while holding mu.
type journal struct {
	mu      sync.Mutex
	f       *os.File // nil until this process first writes the stage
	pending map[string]entry
	written uint64   // commits appended (to batch or file)
	batch   []byte   // lines appended and not yet written
	recs    []record // their records, for a reopen
	fences  []Fence  // to check before they are written (usually one lease)
	size    int64    // bytes written to f
	// broken is the error of a failed write or flush: what it held is
	// unknown, so no later commit may claim to be durable in this journal.
	broken error
	// Commits up to dropped were appended but never written when the
	// journal was closed under them (Detach: the lease they were made
	// under was released): they fail with dropErr.
	dropped uint64
	dropErr error
	lines   uint64 // records appended
	// inFile maps a stem to the record whose content its file holds, once
	// written behind; behind writes them, once settled records are many.
	inFile  map[string]uint64
	behind  *behind
	settled int // settled records made durable before behind started

	syncMu sync.Mutex // held by the one goroutine writing for the others
	synced uint64
	spare  []byte // the previous batch's buffer, for reuse

	// overlay cache for readers that are not the writer.
	ovMu   sync.Mutex
	ovKey  [2]int64
	ovData map[string]entry
}

// commit appends records and returns once they are durable. With a fence,
// they are written only after a check of it that started once they were
// appended (one check for each batch written).
func (d *stageDir) commit(fence Fence, recs ...record) error {
	if err := d.ensure(); err != nil {
		return err
	}
	j := &d.j
	var lines []byte
	for _, r := range recs {
		lines = append(appendRecord(lines, r), '\n')
	}
	j.mu.Lock()
	if j.broken != nil {
		j.mu.Unlock()
		return j.broken
	}
	if j.f == nil {
		// Opening replays a journal a killed run (or the last holder of
		// the lease) left: nothing is written before the lease is checked.
		if fence != nil {
			if err := fence.Check(); err != nil {
				j.mu.Unlock()
				return &refused{err}
			}
		}
		if err := d.open(); err != nil {
			j.mu.Unlock()
			return err
		}
	}
	j.batch = append(j.batch, lines...)
	for _, r := range recs {
		j.lines++
		r.seq = j.lines
		j.recs = append(j.recs, r)
		j.pending[r.Stem] = entry{fqn: r.FQN, data: r.Data, seq: r.seq}
	}
	if fence != nil && !slices.Contains(j.fences, fence) {
		j.fences = append(j.fences, fence)
	}
	j.written++
	seq := j.written
	j.mu.Unlock()

	if err := d.waitDurable(seq); err != nil {
		return err
	}
	j.mu.Lock()
	full := j.size >= checkpointBytes
	j.mu.Unlock()
	if full && (fence == nil || fence.Check() == nil) {
		// A checkpoint writes rows others appended too: checked after them.
		// Refused, it is left to the flush, which is fenced as well.
		return d.flush()
	}
	return nil
}

// waitDurable returns once commit number seq is on disk; one caller writes
// and flushes the batch for all the others waiting.
func (d *stageDir) waitDurable(seq uint64) error {
	j := &d.j
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	if seq <= j.dropped {
		return j.dropErr
	}
	if j.synced >= seq {
		return nil
	}
	j.mu.Lock()
	if j.broken != nil {
		j.mu.Unlock()
		return j.broken
	}
	f, batch, recs, fences, target := j.f, j.batch, j.recs, j.fences, j.written
	j.batch, j.recs, j.fences, j.spare = j.spare[:0], nil, nil, nil
	j.mu.Unlock()
	if f == nil {
		// A checkpoint or DeleteStage ran in between: the rows are in their
		// files, or gone with the stage.
		j.synced = target
		return nil
	}
	var err error
	for _, fence := range fences {
		if err == nil {
			if cerr := fence.Check(); cerr != nil {
				err = &refused{cerr}
			}
		}
	}
	if err == nil {
		err = d.write(f, batch, recs)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err != nil {
		j.broken = err
		return err
	}
	j.synced, j.spare = target, batch
	if j.behind == nil && j.f != nil {
		for _, r := range recs {
			if r.settled {
				j.settled++
			}
		}
		if j.settled >= behindAfter {
			j.behind = startBehind(d)
		}
	}
	if j.behind != nil {
		j.behind.add(recs)
	}
	return nil
}

// write puts a batch in the journal and makes it durable. Called with
// syncMu held.
func (d *stageDir) write(f *os.File, batch []byte, recs []record) error {
	j := &d.j
	if _, err := f.Write(batch); err != nil {
		return fmt.Errorf("writing state journal: %w", err)
	}
	if !journalInPlace(d.path, f) {
		// The stage was deleted under us (a state delete or destroy in
		// another process): start it again with everything this run
		// committed since (what was committed before went with the stage,
		// as it would have as files, so nothing may still write them).
		j.stopBehind()
		j.mu.Lock()
		defer j.mu.Unlock()
		return d.reopen(recs)
	}
	if err := journalSync(f); err != nil {
		return fmt.Errorf("flushing state journal: %w", err)
	}
	j.mu.Lock()
	j.size += int64(len(batch))
	j.mu.Unlock()
	return nil
}

// journalInPlace reports whether the open journal f is still the file at
// its path.
func journalInPlace(dir string, f *os.File) bool {
	open, err := f.Stat()
	if err != nil {
		return false
	}
	onDisk, err := os.Stat(filepath.Join(dir, journalFile))
	return err == nil && os.SameFile(open, onDisk)
}

// reopen recreates the stage directory and journal with recs, the batch
// being written, followed by the commits appended since (they are written
// by the next batch, into the new file). Called with syncMu and mu held.
func (d *stageDir) reopen(recs []record) error {
	j := &d.j
	j.f.Close()
	j.f = nil
	d.ready.Store(false)
	if err := d.ensure(); err != nil {
		return err
	}
	f, err := createJournal(d.path)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	j.pending = map[string]entry{}
	for _, batch := range [][]record{recs, j.recs} {
		for _, r := range batch {
			j.pending[r.Stem] = entry{fqn: r.FQN, data: r.Data, seq: r.seq}
		}
	}
	for _, r := range recs {
		buf.Write(appendRecord(nil, r))
		buf.WriteByte('\n')
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return fmt.Errorf("writing state journal: %w", err)
	}
	if err := journalSync(f); err != nil {
		f.Close()
		return fmt.Errorf("flushing state journal: %w", err)
	}
	j.f, j.size = f, int64(buf.Len())
	return d.sync.sync(d.path)
}

// open makes this process the stage's writer: a journal left by a killed run
// is replayed into the files first. Called with j.mu held.
func (d *stageDir) open() error {
	j := &d.j
	if err := d.replay(); err != nil {
		return err
	}
	f, err := createJournal(d.path)
	if err != nil {
		return err
	}
	if err := d.sync.sync(d.path); err != nil { // the journal's entry itself
		f.Close()
		return err
	}
	j.f, j.pending, j.size, j.inFile, j.settled = f, map[string]entry{}, 0, map[string]uint64{}, 0
	return nil
}

// createJournal creates a new, empty journal. It never opens an existing
// one: a journal that exists after replay removed the last one belongs to
// another writer of the stage, whose records truncating would wipe.
func createJournal(dir string) (*os.File, error) {
	path := filepath.Join(dir, journalFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("another process is writing this stage's state (its journal %s appeared while this one started): only one deploy, destroy or state command may write a stage at a time", path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening state journal: %w", err)
	}
	return f, nil
}

// replay writes a journal found on disk into the files and removes it.
func (d *stageDir) replay() error {
	path := filepath.Join(d.path, journalFile)
	entries, err := readJournal(path)
	if err != nil || entries == nil {
		return err
	}
	if err := d.writeEntries(entries); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return d.sync.sync(d.path)
}

// flush writes the pending rows to their files and removes the journal.
func (d *stageDir) flush() error {
	j := &d.j
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	wrote := j.stopBehind()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	left := make(map[string]entry, len(j.pending))
	for stem, e := range j.pending {
		if j.inFile[stem] != e.seq {
			left[stem] = e
		}
	}
	if err := d.writeEntries(left); err != nil {
		return err
	}
	if len(left) == 0 && wrote {
		// Written behind, all of it: one flush makes it durable.
		if err := syncAll(d.path); err != nil {
			return fmt.Errorf("flushing state: %w", err)
		}
	}
	j.f.Close()
	j.f, j.pending, j.synced, j.inFile = nil, nil, j.written, nil
	j.batch, j.recs, j.fences, j.broken = j.batch[:0], nil, nil, nil
	if err := os.Remove(filepath.Join(d.path, journalFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return d.sync.sync(d.path)
}

// stopBehind stops writing behind and reports whether anything was
// written. Called with syncMu held, so no batch is handed over meanwhile.
func (j *journal) stopBehind() bool {
	j.mu.Lock()
	b := j.behind
	j.behind = nil
	j.mu.Unlock()
	return b != nil && b.stop()
}

// writeEntries puts every entry in its file (rows under their current name,
// their legacy files removed) and makes the files durable before returning,
// so the journal that holds them can go. A few writers share the work: the
// file system serialises creations in one directory, but not the rest of a
// write, nor the release of a deleted file's blocks.
func (d *stageDir) writeEntries(entries map[string]entry) error {
	if len(entries) == 0 {
		return nil
	}
	stems := make(chan string)
	errs := make(chan error, entryWriters)
	var wg sync.WaitGroup
	for range min(entryWriters, len(entries)) {
		wg.Go(func() {
			for stem := range stems {
				if err := d.writeEntry(stem, entries[stem]); err != nil {
					errs <- err
					for range stems {
					}
					return
				}
			}
		})
	}
	for stem := range entries {
		stems <- stem
	}
	close(stems)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	if err := syncAll(d.path); err != nil {
		return fmt.Errorf("flushing state: %w", err)
	}
	return nil
}

// entryWriters is how many files writeEntries writes at once.
const entryWriters = 4

// writeEntry puts one entry in its file, not durably yet.
func (d *stageDir) writeEntry(stem string, e entry) error {
	path := filepath.Join(d.path, stem+".json")
	if e.data == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("deleting state row %s: %w", e.fqn, err)
		}
		return nil
	}
	var buf bytes.Buffer
	buf.Grow(len(e.data) * 3 / 2)
	if err := json.Indent(&buf, e.data, "", "  "); err != nil {
		return fmt.Errorf("state journal entry for %s: %w", stem, err)
	}
	if err := atomicfile.Replace(path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("writing state row %s: %w", e.fqn, err)
	}
	if legacy, ok := legacyName(e.fqn); ok && e.fqn != "" {
		lp := filepath.Join(d.path, legacy+".json")
		if _, err := os.Lstat(lp); err == nil {
			_ = os.Remove(lp)
		}
	}
	return nil
}

// journaled returns a look-up of what the journal holds for one file: the
// pending entry when this process writes the stage (looked up when asked,
// not copied: Get is called per row), else the entry of whatever journal a
// running or killed writer left on disk.
func (d *stageDir) journaled() (func(stem string) (entry, bool), error) {
	j := &d.j
	j.mu.Lock()
	writer := j.f != nil
	j.mu.Unlock()
	if writer {
		return func(stem string) (entry, bool) {
			j.mu.Lock()
			defer j.mu.Unlock()
			e, ok := j.pending[stem]
			return e, ok
		}, nil
	}
	ov, err := d.onDisk()
	if err != nil {
		return nil, err
	}
	return func(stem string) (entry, bool) {
		e, ok := ov[stem]
		return e, ok
	}, nil
}

// overlay returns what the journal holds that the files may not: the
// pending entries when this process writes the stage, else whatever journal
// a running or killed writer left on disk.
func (d *stageDir) overlay() (map[string]entry, error) {
	j := &d.j
	j.mu.Lock()
	if j.f != nil {
		out := make(map[string]entry, len(j.pending))
		for k, v := range j.pending {
			out[k] = v
		}
		j.mu.Unlock()
		return out, nil
	}
	j.mu.Unlock()
	return d.onDisk()
}

// onDisk returns the entries of a journal on disk (nil when there is
// none), parsed once for as long as it does not change.
func (d *stageDir) onDisk() (map[string]entry, error) {
	j := &d.j
	path := filepath.Join(d.path, journalFile)
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading state journal: %w", err)
	}
	// A journal only grows while its writer runs (and is replaced, never
	// rewritten, otherwise), so size and mtime identify its content; a plan
	// reading every row of a stage then parses it once, not once per row.
	key := [2]int64{fi.Size(), fi.ModTime().UnixNano()}
	j.ovMu.Lock()
	defer j.ovMu.Unlock()
	if j.ovData != nil && j.ovKey == key {
		return j.ovData, nil
	}
	entries, err := readJournal(path)
	if err != nil {
		return nil, err
	}
	j.ovKey, j.ovData = key, entries
	return entries, nil
}

// readJournal parses a journal; nil when there is none. A last line cut
// short by a kill is ignored: its commit never returned.
func readJournal(path string) (map[string]entry, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading state journal: %w", err)
	}
	defer f.Close()
	out := map[string]entry{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	var bad error
	for sc.Scan() {
		if bad != nil {
			// Only the last line may be torn.
			return nil, fmt.Errorf("state journal %s is corrupt (%v). Move it aside and re-run; rows written before the damage are in their .json files", path, bad)
		}
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.Stem == "" {
			bad = fmt.Errorf("unreadable line: %v", err)
			continue
		}
		out[r.Stem] = entry{fqn: r.FQN, data: r.Data}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading state journal: %w", err)
	}
	return out, nil
}
