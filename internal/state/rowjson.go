package state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// knownFields are the JSON keys Row models; everything else goes to Extra.
var knownFields = map[string]bool{
	"kind": true, "resourceType": true, "fqn": true, "logicalId": true,
	"instanceId": true, "providerVersion": true, "status": true,
	"downstream": true, "props": true, "attr": true, "removalPolicy": true,
	"old": true, "deleteFirst": true, "claimed": true,
}

// snapshot reports whether r is the {props, bindings, attr} snapshot an
// updating row keeps as its old value rather than a full row: it has none of
// a row's identity fields. Such a snapshot is written back without them, so
// it round-trips unchanged.
func (r Row) snapshot() bool {
	return r.ResourceType == "" && r.FQN == "" && r.LogicalID == "" && r.InstanceID == "" &&
		r.ProviderVersion == 0 && r.Status == "" && len(r.Downstream) == 0 && r.RemovalPolicy == ""
}

// MarshalJSON writes the modelled fields in the TypeScript tool's order,
// then Extra's fields sorted by key. HTML characters are not escaped, as
// JSON.stringify does not escape them either.
func (r Row) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	first := true
	field := func(key string, v any) error {
		if first {
			buf.WriteByte('{')
			first = false
		} else {
			buf.WriteByte(',')
		}
		if err := enc.Encode(key); err != nil {
			return err
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
		buf.WriteByte(':')
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("row %s: field %s: %w", r.FQN, key, err)
		}
		buf.Truncate(buf.Len() - 1)
		return nil
	}
	type kv struct {
		key  string
		v    any
		omit bool
	}
	snap := r.snapshot()
	downstream := r.Downstream
	if downstream == nil {
		downstream = []string{}
	}
	fields := []kv{
		{"kind", r.Kind, r.Kind == ""},
		{"resourceType", r.ResourceType, snap},
		{"fqn", r.FQN, snap},
		{"logicalId", r.LogicalID, snap},
		{"instanceId", r.InstanceID, snap},
		{"providerVersion", r.ProviderVersion, snap},
		{"status", r.Status, snap},
		{"downstream", downstream, snap},
		{"props", r.Props, len(r.Props) == 0},
		{"attr", r.Attr, len(r.Attr) == 0},
		{"removalPolicy", r.RemovalPolicy, r.RemovalPolicy == ""},
		{"old", r.Old, r.Old == nil},
		{"deleteFirst", r.DeleteFirst, !r.DeleteFirst},
		{"claimed", r.Claimed, !r.Claimed},
	}
	for _, f := range fields {
		if !f.omit {
			if err := field(f.key, f.v); err != nil {
				return nil, err
			}
		}
	}
	keys := make([]string, 0, len(r.Extra))
	for k := range r.Extra {
		if !knownFields[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := field(k, r.Extra[k]); err != nil {
			return nil, err
		}
	}
	if first {
		buf.WriteByte('{')
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// UnmarshalJSON reads the modelled fields and keeps every other field in
// Extra. A JSON null leaves r unchanged, as encoding/json's convention asks.
//
// A row with only modelled fields (every row this tool writes) is decoded
// in one pass into a struct; anything else (the TypeScript tool's extra
// fields, a field of the wrong type, for its error message) goes field by
// field. A plan reads every row of its stage, so this is its main cost.
func (r *Row) UnmarshalJSON(data []byte) error {
	if onlyKnownFields(data) {
		var w rowWire
		if err := json.Unmarshal(data, &w); err == nil {
			*r = Row{Kind: w.Kind, ResourceType: w.ResourceType, FQN: w.FQN, LogicalID: w.LogicalID, InstanceID: w.InstanceID,
				ProviderVersion: w.ProviderVersion, Status: w.Status, Downstream: w.Downstream, Props: w.Props, Attr: w.Attr,
				RemovalPolicy: w.RemovalPolicy, Old: w.Old, DeleteFirst: w.DeleteFirst, Claimed: w.Claimed}
			return nil
		}
	}
	return r.unmarshalFields(data)
}

// rowWire is a row's modelled fields, for decoding in one pass.
type rowWire struct {
	Kind            string          `json:"kind"`
	ResourceType    string          `json:"resourceType"`
	FQN             string          `json:"fqn"`
	LogicalID       string          `json:"logicalId"`
	InstanceID      string          `json:"instanceId"`
	ProviderVersion int             `json:"providerVersion"`
	Status          Status          `json:"status"`
	Downstream      []string        `json:"downstream"`
	Props           json.RawMessage `json:"props"`
	Attr            json.RawMessage `json:"attr"`
	RemovalPolicy   string          `json:"removalPolicy"`
	Old             *Row            `json:"old"`
	DeleteFirst     bool            `json:"deleteFirst"`
	Claimed         bool            `json:"claimed"`
}

// onlyKnownFields reports whether data, valid JSON, is an object whose keys
// are all, spelled exactly so, fields Row models (encoding/json matches
// struct fields regardless of case; Extra keeps such keys as they are).
func onlyKnownFields(data []byte) bool {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return true
	}
	for i < len(data) && data[i] == '"' {
		end := i + 1
		for end < len(data) && data[end] != '"' {
			if data[end] == '\\' {
				return false // an escaped key: let the slow path judge it
			}
			end++
		}
		if end >= len(data) || !knownFields[string(data[i+1:end])] {
			return false
		}
		i = skipSpace(data, end+1)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		i = skipValue(data, skipSpace(data, i+1))
		i = skipSpace(data, i)
		if i < len(data) && data[i] == '}' {
			return true
		}
		if i >= len(data) || data[i] != ',' {
			return false
		}
		i = skipSpace(data, i+1)
	}
	return false
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\n' || data[i] == '\t' || data[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just after the JSON value starting at i, in
// valid JSON.
func skipValue(data []byte, i int) int {
	depth := 0
	for i < len(data) {
		switch c := data[i]; c {
		case '"':
			i++
			for i < len(data) && data[i] != '"' {
				if data[i] == '\\' {
					i++
				}
				i++
			}
			i++
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
			if depth < 0 {
				return i
			}
		case ',':
			if depth == 0 {
				return i
			}
		case ' ', '\n', '\t', '\r':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	return i
}

// unmarshalFields decodes field by field, keeping unknown ones in Extra.
func (r *Row) unmarshalFields(data []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	if m == nil {
		return nil
	}
	var out Row
	targets := map[string]any{
		"kind": &out.Kind, "resourceType": &out.ResourceType, "fqn": &out.FQN,
		"logicalId": &out.LogicalID, "instanceId": &out.InstanceID,
		"providerVersion": &out.ProviderVersion, "status": &out.Status,
		"downstream": &out.Downstream, "props": &out.Props, "attr": &out.Attr,
		"removalPolicy": &out.RemovalPolicy, "old": &out.Old, "deleteFirst": &out.DeleteFirst,
		"claimed": &out.Claimed,
	}
	for k, raw := range m {
		target, ok := targets[k]
		if !ok {
			if out.Extra == nil {
				out.Extra = make(map[string]json.RawMessage)
			}
			out.Extra[k] = raw
			continue
		}
		if err := json.Unmarshal(raw, target); err != nil {
			return fmt.Errorf("field %q: %w", k, err)
		}
	}
	*r = out
	return nil
}
