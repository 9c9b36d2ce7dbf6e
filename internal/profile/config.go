package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// Version is the profiles.json format this tool reads and writes; it is the
// format of the TypeScript tool's E1 era, so both tools share one home.
const Version = 0

// Config is the content of profiles.json. Keys this tool does not know, at any
// level, are kept and written back untouched.
type Config struct {
	Profiles map[string]Profile
	extra    map[string]json.RawMessage
}

// Profile maps a provider name ("AWS", "Cloudflare", ...) to its entry.
type Profile map[string]Entry

// Entry is one provider's non-secret configuration: a "method" plus whatever
// fields that method needs. It is kept as raw JSON so that fields added by
// hand or by a newer tool survive a rewrite.
type Entry map[string]json.RawMessage

// NewEntry builds an entry from a struct or map whose JSON form carries the
// "method" field.
func NewEntry(v any) (Entry, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("provider config must be a JSON object: %w", err)
	}
	return e, nil
}

// Method returns the entry's auth method, "" when absent or not a string.
func (e Entry) Method() string { return e.String("method") }

// String returns a string field, "" when absent or of another type.
func (e Entry) String(key string) string {
	var s string
	if raw, ok := e[key]; ok {
		_ = json.Unmarshal(raw, &s)
	}
	return s
}

// Decode unmarshals the entry into v (a provider's typed config).
func (e Entry) Decode(v any) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Merge returns next with the fields of prev that next does not set, when
// both use the same method: a re-login must not drop a field someone added by
// hand. A change of method starts from next alone, because fields are
// method-specific.
func Merge(prev, next Entry) Entry {
	if prev == nil || prev.Method() != next.Method() {
		return next
	}
	out := make(Entry, len(prev)+len(next))
	for k, v := range prev {
		out[k] = v
	}
	for k, v := range next {
		out[k] = v
	}
	return out
}

// Names returns the profile names, sorted.
func (c *Config) Names() []string {
	names := make([]string, 0, len(c.Profiles))
	for n := range c.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Providers returns the provider names of a profile, sorted.
func (p Profile) Providers() []string {
	names := make([]string, 0, len(p))
	for n := range p {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// InvalidError says profiles.json exists but cannot be used. Nothing is ever
// written over such a file without first moving it to a backup.
type InvalidError struct {
	Path   string
	Reason string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("%s cannot be used: %s. Nothing was changed. Fix the file by hand, or run `alchemy login` to move it to a backup and start a new one.", e.Path, e.Reason)
}

func parseConfig(path string, data []byte) (*Config, error) {
	bad := func(format string, args ...any) error {
		return &InvalidError{Path: path, Reason: fmt.Sprintf(format, args...)}
	}
	var top map[string]json.RawMessage
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, bad("it is empty")
	}
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, bad("it is not valid JSON (%s)", jsonProblem(data, err))
	}
	if top == nil {
		return nil, bad("it is not a JSON object")
	}
	rawVersion, ok := top["version"]
	if !ok {
		return nil, bad(`it has no "version" field`)
	}
	var version json.Number
	dec := json.NewDecoder(bytes.NewReader(rawVersion))
	dec.UseNumber()
	if err := dec.Decode(&version); err != nil {
		return nil, bad(`its "version" is %s, not a number`, rawVersion)
	}
	if version.String() != "0" {
		return nil, bad("it has version %s, and this alchemy reads version %d; it was probably written by a newer alchemy, so upgrade alchemy", version, Version)
	}
	cfg := &Config{Profiles: map[string]Profile{}, extra: map[string]json.RawMessage{}}
	for k, v := range top {
		if k != "version" && k != "profiles" {
			cfg.extra[k] = v
		}
	}
	if raw, ok := top["profiles"]; ok && string(raw) != "null" {
		var profiles map[string]map[string]json.RawMessage
		if err := json.Unmarshal(raw, &profiles); err != nil {
			return nil, bad(`"profiles" must map profile names to objects of providers`)
		}
		for name, providers := range profiles {
			p := Profile{}
			for provider, raw := range providers {
				var e Entry
				if err := json.Unmarshal(raw, &e); err != nil || e == nil {
					return nil, bad("the %s entry of profile '%s' is not an object", provider, name)
				}
				p[provider] = e
			}
			cfg.Profiles[name] = p
		}
	}
	return cfg, nil
}

// marshal writes the file the way the TypeScript tool does
// (JSON.stringify(config, null, 2): two-space indent, "version" first, no
// trailing newline). Unknown top-level keys follow, sorted.
func (c *Config) marshal() ([]byte, error) {
	profiles := c.Profiles
	if profiles == nil {
		profiles = map[string]Profile{}
	}
	keys := make([]string, 0, len(c.extra))
	for k := range c.extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "{\n  \"version\": %d", Version)
	field := func(k string, v any) error {
		b, err := json.MarshalIndent(v, "  ", "  ")
		if err != nil {
			return err
		}
		kb, _ := json.Marshal(k)
		fmt.Fprintf(&buf, ",\n  %s: %s", kb, b)
		return nil
	}
	if err := field("profiles", profiles); err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := field(k, c.extra[k]); err != nil {
			return nil, err
		}
	}
	buf.WriteString("\n}")
	return buf.Bytes(), nil
}

func jsonProblem(data []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := 1, 1
		for _, b := range data[:min(int(se.Offset), len(data))] {
			if b == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		if int(se.Offset) >= len(data) {
			return "it ends too early; was it truncated?"
		}
		return fmt.Sprintf("%s at line %d, column %d", se.Error(), line, col)
	}
	return "it is not a JSON object"
}
