package state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
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
//
// Every commit marshals its row, so the usual case is written directly
// (appendRow); a string that needs escaping or a raw value that is not
// valid JSON goes through encoding/json (marshalFields), which also words
// the errors.
func (r Row) MarshalJSON() ([]byte, error) {
	if out, ok := r.appendRow(make([]byte, 0, 256+len(r.Props)+len(r.Attr))); ok {
		return out, nil
	}
	return r.marshalFields()
}

// appendRow appends r as MarshalJSON writes it; ok is false when
// marshalFields must.
func (r Row) appendRow(buf []byte) (out []byte, ok bool) {
	snap := r.snapshot()
	first := true
	key := func(k string) {
		if first {
			buf = append(buf, '{')
			first = false
		} else {
			buf = append(buf, ',')
		}
		buf = append(append(append(buf, '"'), k...), '"', ':')
	}
	str := func(k, v string) bool {
		key(k)
		buf, ok = appendPlainString(buf, v)
		return ok
	}
	raw := func(k string, v []byte) bool {
		key(k)
		if len(v) == 0 {
			buf = append(buf, "null"...)
			return true
		}
		b := bytes.NewBuffer(buf)
		if json.Compact(b, v) != nil {
			return false
		}
		buf = b.Bytes()
		return true
	}
	if r.Kind != "" && !str("kind", r.Kind) {
		return nil, false
	}
	if !snap {
		if !str("resourceType", r.ResourceType) || !str("fqn", r.FQN) || !str("logicalId", r.LogicalID) || !str("instanceId", r.InstanceID) {
			return nil, false
		}
		key("providerVersion")
		buf = strconv.AppendInt(buf, int64(r.ProviderVersion), 10)
		if !str("status", string(r.Status)) {
			return nil, false
		}
		key("downstream")
		buf = append(buf, '[')
		for i, d := range r.Downstream {
			if i > 0 {
				buf = append(buf, ',')
			}
			if buf, ok = appendPlainString(buf, d); !ok {
				return nil, false
			}
		}
		buf = append(buf, ']')
	}
	if len(r.Props) > 0 && !raw("props", r.Props) {
		return nil, false
	}
	if len(r.Attr) > 0 && !raw("attr", r.Attr) {
		return nil, false
	}
	if r.RemovalPolicy != "" && !str("removalPolicy", r.RemovalPolicy) {
		return nil, false
	}
	if r.Old != nil {
		key("old")
		if buf, ok = r.Old.appendRow(buf); !ok {
			return nil, false
		}
	}
	if r.DeleteFirst {
		key("deleteFirst")
		buf = append(buf, "true"...)
	}
	if r.Claimed {
		key("claimed")
		buf = append(buf, "true"...)
	}
	if len(r.Extra) > 0 {
		keys := make([]string, 0, len(r.Extra))
		for k := range r.Extra {
			if !knownFields[k] {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			if _, plain := appendPlainString(nil, k); !plain || !raw(k, r.Extra[k]) {
				return nil, false
			}
		}
	}
	if first {
		buf = append(buf, '{')
	}
	return append(buf, '}'), true
}

// appendPlainString appends s quoted when it needs no escaping: printable
// ASCII without quote or backslash (anything else, encoding/json escapes
// its own way).
func appendPlainString(buf []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return buf, false
		}
	}
	return append(append(append(buf, '"'), s...), '"'), true
}

// marshalFields writes r field by field through encoding/json.
func (r Row) marshalFields() ([]byte, error) {
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
// A plan reads every row of its stage, so this is its main cost: rows as
// this tool and the TypeScript tool write them are read in one pass by
// decodeRow; anything it does not handle the plain way (an escaped string,
// a field of the wrong type, a key given twice) goes field by field through
// encoding/json, which also words the errors.
func (r *Row) UnmarshalJSON(data []byte) error {
	if row, _, ok := decodeRow(data, skipSpace(data, 0), false); ok {
		*r = row
		return nil
	}
	return r.unmarshalFields(data)
}

// decodeRowFile reads the content of a row file, which may be anything, in
// one pass: what it accepts is valid JSON (every part it reads checked,
// every raw value compacted by json.Compact, which checks it), and it reads
// what json.Compact then UnmarshalJSON would. ok is false when it leaves
// the file to them, for their errors too.
func decodeRowFile(data []byte) (Row, bool) {
	row, end, ok := decodeRow(data, skipSpace(data, 0), true)
	return row, ok && skipSpace(data, end) == len(data)
}

// decodeRow reads the row whose object starts at data[i], in one pass, and
// returns where it ends; ok is false when it leaves it to unmarshalFields
// (which must then read the same row). With files, data may be invalid
// JSON and raw values are compacted; otherwise data is valid JSON, and raw
// values are kept byte for byte, as encoding/json keeps them.
func decodeRow(data []byte, i int, files bool) (out Row, end int, ok bool) {
	if i >= len(data) || data[i] != '{' {
		return out, 0, false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return out, i + 1, true
	}
	raw := func(v []byte) (json.RawMessage, bool) {
		if !files {
			return bytes.Clone(v), true
		}
		var b bytes.Buffer
		b.Grow(len(v))
		if json.Compact(&b, v) != nil {
			return nil, false
		}
		return b.Bytes(), true
	}
	var seen uint16 // modelled fields met, by bit (a key twice: field by field)
	for {
		key, ok := plainString(data, i)
		if !ok {
			return out, 0, false
		}
		i = skipSpace(data, i+len(key)+2)
		if i >= len(data) || data[i] != ':' {
			return out, 0, false
		}
		i = skipSpace(data, i+1)
		end := skipValue(data, i)
		val := data[i:end]
		bit := uint16(0)
		switch key {
		case "kind":
			bit, ok = 1<<0, setString(val, &out.Kind)
		case "resourceType":
			bit, ok = 1<<1, setString(val, &out.ResourceType)
		case "fqn":
			bit, ok = 1<<2, setString(val, &out.FQN)
		case "logicalId":
			bit, ok = 1<<3, setString(val, &out.LogicalID)
		case "instanceId":
			bit, ok = 1<<4, setString(val, &out.InstanceID)
		case "providerVersion":
			bit, ok = 1<<5, setInt(val, &out.ProviderVersion)
		case "status":
			var st string
			bit, ok = 1<<6, setString(val, &st)
			out.Status = Status(st)
		case "downstream":
			bit, ok = 1<<7, setStrings(val, &out.Downstream)
		case "props":
			bit = 1 << 8
			out.Props, ok = raw(val)
		case "attr":
			bit = 1 << 9
			out.Attr, ok = raw(val)
		case "removalPolicy":
			bit, ok = 1<<10, setString(val, &out.RemovalPolicy)
		case "old":
			bit = 1 << 11
			switch {
			case isNull(val):
			case len(val) > 0 && val[0] == '{':
				old, oldEnd, oldOK := decodeRow(val, 0, files)
				if !oldOK || oldEnd != len(val) {
					return out, 0, false
				}
				out.Old = &old
			default:
				return out, 0, false
			}
		case "deleteFirst":
			bit, ok = 1<<12, setBool(val, &out.DeleteFirst)
		case "claimed":
			bit, ok = 1<<13, setBool(val, &out.Claimed)
		default:
			if _, dup := out.Extra[key]; dup {
				return out, 0, false
			}
			if out.Extra == nil {
				out.Extra = make(map[string]json.RawMessage)
			}
			out.Extra[key], ok = raw(val)
		}
		if !ok || seen&bit != 0 {
			return out, 0, false
		}
		seen |= bit
		i = skipSpace(data, end)
		if i < len(data) && data[i] == '}' {
			return out, i + 1, true
		}
		if i >= len(data) || data[i] != ',' {
			return out, 0, false
		}
		i = skipSpace(data, i+1)
	}
}

// plainString returns the content of the JSON string at data[i] when it
// reads as itself: no escape, valid UTF-8 (encoding/json would replace
// invalid bytes), no control character.
func plainString(data []byte, i int) (string, bool) {
	if i >= len(data) || data[i] != '"' {
		return "", false
	}
	end := i + 1
	for end < len(data) && data[end] != '"' {
		if c := data[end]; c == '\\' || c < 0x20 {
			return "", false
		}
		end++
	}
	if end >= len(data) || !utf8.Valid(data[i+1:end]) {
		return "", false
	}
	return string(data[i+1 : end]), true
}

func isNull(val []byte) bool { return string(val) == "null" }

// setString decodes a JSON string into dst; null leaves it as it is.
func setString(val []byte, dst *string) bool {
	if isNull(val) {
		return true
	}
	s, ok := plainString(val, 0)
	if !ok || len(s)+2 != len(val) {
		return false
	}
	*dst = s
	return true
}

// setInt decodes a JSON integer (as JSON writes it: no sign but a minus,
// no leading zero); null leaves dst as it is.
func setInt(val []byte, dst *int) bool {
	if isNull(val) {
		return true
	}
	digits := bytes.TrimPrefix(val, []byte("-"))
	if len(digits) == 0 || (digits[0] == '0' && len(digits) > 1) || strings.Trim(string(digits), "0123456789") != "" {
		return false
	}
	n, err := strconv.Atoi(string(val))
	if err != nil {
		return false
	}
	*dst = n
	return true
}

func setBool(val []byte, dst *bool) bool {
	switch string(val) {
	case "true":
		*dst = true
	case "false":
		*dst = false
	case "null":
	default:
		return false
	}
	return true
}

// setStrings decodes a JSON array of strings; null sets nil.
func setStrings(val []byte, dst *[]string) bool {
	if isNull(val) {
		*dst = nil
		return true
	}
	if len(val) == 0 || val[0] != '[' {
		return false
	}
	out := []string{}
	i := skipSpace(val, 1)
	if i < len(val) && val[i] == ']' {
		*dst = out
		return true
	}
	for i < len(val) {
		end := skipValue(val, i)
		var s string
		if !setString(val[i:end], &s) {
			return false
		}
		out = append(out, s)
		i = skipSpace(val, end)
		if i < len(val) && val[i] == ']' {
			*dst = out
			return true
		}
		if i >= len(val) || val[i] != ',' {
			return false
		}
		i = skipSpace(val, i+1)
	}
	return false
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\n' || data[i] == '\t' || data[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just after the JSON value starting at i in
// valid JSON; in anything else, an index no further than len(data).
func skipValue(data []byte, i int) int {
	return min(skipValueIn(data, i), len(data))
}

func skipValueIn(data []byte, i int) int {
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
