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
func (r *Row) UnmarshalJSON(data []byte) error {
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
