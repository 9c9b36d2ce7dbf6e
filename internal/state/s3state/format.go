package s3state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// formatVersion is the "v" of every object this package writes; a newer
// one is refused, never misread.
const formatVersion = 1

// leaseDoc is lease.json.
type leaseDoc struct {
	V       int       `json:"v"`
	Epoch   int64     `json:"epoch"`
	Nonce   string    `json:"nonce"`
	User    string    `json:"user,omitempty"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Command string    `json:"command,omitempty"`
	Started time.Time `json:"started"`
	// Renewed is the holder's clock at its last heartbeat, for people;
	// expiry uses the server's clock (the object's Last-Modified).
	Renewed  time.Time `json:"renewed"`
	Renewals int64     `json:"renewals"` // makes every renewal's body, hence ETag, differ
	TTLMs    int64     `json:"ttlMs"`
	Released bool      `json:"released,omitempty"`
	BrokenBy string    `json:"brokenBy,omitempty"`
}

// token names one grant of the lease: "<epoch>-<nonce>". Objects a holder
// writes carry it in their keys, so two grants never write the same key,
// even after a deleted stage starts counting epochs again.
func (d *leaseDoc) token() string { return fmt.Sprintf("%012d-%s", d.Epoch, d.Nonce) }

func (d *leaseDoc) ttl() time.Duration { return time.Duration(d.TTLMs) * time.Millisecond }

// epochOf reads the epoch of a token; -1 when it has none.
func epochOf(token string) int64 {
	e, _, _ := strings.Cut(token, "-")
	n, err := strconv.ParseInt(e, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// ref names an immutable object of the stage (relative to its prefix) and
// its size.
type ref struct {
	Key   string `json:"key"`
	Bytes int    `json:"bytes"`
}

// headDoc is head.json, the one mutable object of a stage's state: every
// commit is a conditional PUT of it (If-Match the ETag its writer last
// saw). The stage's state is Snapshot, then each of Segments, then
// Changes, applied in that order.
type headDoc struct {
	V int `json:"v"`
	// Token is the lease grant whose holder wrote it.
	Token string `json:"token"`
	// Seq counts the head's writes; with Token it makes every body differ.
	Seq       int64  `json:"seq"`
	Rows      int    `json:"rows"`
	HasOutput bool   `json:"hasOutput,omitempty"`
	Snapshot  *ref   `json:"snapshot,omitempty"`
	Segments  []ref  `json:"segments,omitempty"`
	Changes   *delta `json:"changes,omitempty"`
}

// empty reports whether the stage has no state.
func (h *headDoc) empty() bool { return h.Rows == 0 && !h.HasOutput }

// refs lists the objects h points at.
func (h *headDoc) refs() []string {
	var keys []string
	if h.Snapshot != nil {
		keys = append(keys, h.Snapshot.Key)
	}
	for _, s := range h.Segments {
		keys = append(keys, s.Key)
	}
	return keys
}

func (h *headDoc) clone() *headDoc {
	c := *h
	c.Segments = slices.Clone(h.Segments)
	if h.Changes != nil {
		c.Changes = h.Changes.clone()
	}
	return &c
}

// delta is a set of changes: rows set (a row's JSON) or deleted (JSON
// null), and the stack output set or removed. A snapshot is the delta that
// builds the whole state from nothing.
type delta struct {
	V      int                        `json:"v,omitempty"`
	Rows   map[string]json.RawMessage `json:"rows,omitempty"`
	Output *outputChange              `json:"output,omitempty"`
}

type outputChange struct {
	Value json.RawMessage `json:"value"` // null: removed
}

func (d *delta) isEmpty() bool { return d == nil || (len(d.Rows) == 0 && d.Output == nil) }

func (d *delta) clone() *delta {
	c := &delta{V: d.V, Rows: maps.Clone(d.Rows)}
	if d.Output != nil {
		o := *d.Output
		c.Output = &o
	}
	return c
}

// merge adds later's changes to d.
func (d *delta) merge(later *delta) {
	if later == nil {
		return
	}
	if len(later.Rows) > 0 && d.Rows == nil {
		d.Rows = map[string]json.RawMessage{}
	}
	maps.Copy(d.Rows, later.Rows)
	if later.Output != nil {
		d.Output = later.Output
	}
}

func isNull(m json.RawMessage) bool { return len(m) == 0 || bytes.Equal(m, []byte("null")) }

// stageState is a stage's rows (JSON by FQN) and output (nil: none).
type stageState struct {
	rows   map[string]json.RawMessage
	output json.RawMessage
}

func newStageState() *stageState { return &stageState{rows: map[string]json.RawMessage{}} }

func (s *stageState) clone() *stageState {
	return &stageState{rows: maps.Clone(s.rows), output: s.output}
}

func (s *stageState) apply(d *delta) {
	if d == nil {
		return
	}
	for fqn, row := range d.Rows {
		if isNull(row) {
			delete(s.rows, fqn)
		} else {
			s.rows[fqn] = row
		}
	}
	if d.Output != nil {
		if isNull(d.Output.Value) {
			s.output = nil
		} else {
			s.output = d.Output.Value
		}
	}
}

// snapshot is the delta that rebuilds s.
func (s *stageState) snapshot() *delta {
	d := &delta{V: formatVersion, Rows: s.rows}
	if s.output != nil {
		d.Output = &outputChange{Value: s.output}
	}
	return d
}

// marshal writes v as compact JSON without HTML escaping (rows keep their
// bytes as the TypeScript tool would write them).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// decode reads an object this package wrote, refusing a newer format.
func decode(data []byte, v any, version func() int) error {
	if err := json.Unmarshal(data, v); err != nil {
		return err
	}
	if n := version(); n > formatVersion {
		return fmt.Errorf("it has format version %d, newer than this alchemy's %d: upgrade alchemy", n, formatVersion)
	} else if n < 1 {
		return fmt.Errorf("it has no format version")
	}
	return nil
}
