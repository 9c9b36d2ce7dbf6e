package profile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/alchemy-go/alchemy/internal/atomicfile"
	"github.com/alchemy-go/alchemy/internal/lock"
)

// The TypeScript tool's current layout ("alchemy.profile/v1", from its
// 2.0 betas): no profiles.json and no credentials/, but one file per
// profile and provider, profiles/<profile>/<provider lowercased>.json,
// holding {"format","provider","metadata","values"} with the provider's
// entry and its secrets together in values.
//
// A home that has profiles/ is read and written in that layout, so both
// tools keep seeing the same logins; a home with only profiles.json stays
// in the seed's layout (v0). Inside the store nothing else changes: a v1
// file is split into the entry and the secret documents a v0 home keeps
// apart (Shape says how, per provider), so providers read and write
// secrets by key in either layout. A profiles.json that appears next to
// profiles/ (an older tool wrote it) is migrated as the TypeScript tool
// does, minus its losses (Settle).

// V1Format is the "format" of a v1 provider file.
const V1Format = "alchemy.profile/v1"

// Shape says how a provider's v0 entry and secret documents fold into the
// values of its v1 file.
type Shape struct {
	Provider string
	// Order lists entry keys written after "method", in the order the
	// TypeScript tool writes them; other keys follow, sorted. A key here
	// is an entry key for a method that has no document holding it.
	Order []string
	Docs  []Doc
}

// Doc is one secret document of a v0 home (credentials/<p>/<Key>.json) and
// the values fields of a v1 file that hold the same data.
type Doc struct {
	Key string
	// Legacy are older names of the same document, read (in this order)
	// when Key is missing and removed when Key is written.
	Legacy []string
	// Method is the entry method whose values hold the document.
	Method string
	// Fields move from values into the document, in the order written.
	Fields []string
	// Shared stay in the entry and are copied into the document.
	Shared []string
	// Type is the document's "type" field, or TypeFrom the entry key
	// holding it.
	Type, TypeFrom string
}

// Register tells the store how to lay out providers' files in a v1 home.
// A provider without a shape is listed but never rewritten.
func (s *Store) Register(shapes ...Shape) {
	if s.shapes == nil {
		s.shapes, s.docs = map[string]*Shape{}, map[string]*Shape{}
	}
	for i := range shapes {
		sh := &shapes[i]
		s.shapes[strings.ToLower(sh.Provider)] = sh
		for _, d := range sh.Docs {
			s.docs[d.Key] = sh
			for _, l := range d.Legacy {
				s.docs[l] = sh
			}
		}
	}
}

// legacyKeys are the older names of the document key.
func (s *Store) legacyKeys(key string) []string {
	if sh := s.docs[key]; sh != nil {
		for _, d := range sh.Docs {
			if d.Key == key {
				return d.Legacy
			}
		}
	}
	return nil
}

// V1 reports whether the home is in the v1 layout.
func (s *Store) V1() bool {
	fi, err := os.Lstat(s.profilesDir())
	return err == nil && fi.IsDir()
}

func (s *Store) profilesDir() string { return filepath.Join(s.root, "profiles") }

// v1Path is the file of one provider of a profile.
func (s *Store) v1Path(profile, provider string) string {
	return filepath.Join(s.profilesDir(), profile, strings.ToLower(provider)+".json")
}

// v1Doc is a v1 provider file.
type v1Doc struct {
	Format   string          `json:"format"`
	Provider string          `json:"provider"`
	Metadata json.RawMessage `json:"metadata"`
	Values   json.RawMessage `json:"values"`
}

// readV1 reads and checks a provider file as the TypeScript tool does. A
// missing file is fs.ErrNotExist; an unusable one an *InvalidError.
func readV1(path string) (*v1Doc, map[string]json.RawMessage, error) {
	data, err := atomicfile.ReadRegular(path)
	if err != nil {
		return nil, nil, err
	}
	bad := func(format string, args ...any) error {
		return &InvalidError{Path: path, Reason: fmt.Sprintf(format, args...)}
	}
	var doc v1Doc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, bad("it is not a v1 profile document (%s)", jsonProblem(data, err))
	}
	if doc.Format != V1Format {
		return nil, nil, bad(`its "format" is %q, not %q`, doc.Format, V1Format)
	}
	if strings.ToLower(doc.Provider)+".json" != filepath.Base(path) || !matches(doc.Provider, 64) {
		return nil, nil, bad(`its "provider" %q does not match the file name`, doc.Provider)
	}
	var meta, values map[string]json.RawMessage
	if json.Unmarshal(doc.Metadata, &meta) != nil || meta == nil {
		return nil, nil, bad(`its "metadata" is not an object`)
	}
	if json.Unmarshal(doc.Values, &values) != nil || values == nil {
		return nil, nil, bad(`its "values" is not an object`)
	}
	return &doc, values, nil
}

// split separates a v1 file's values into the entry and the secret
// documents of its method. Fields of another method's documents are left
// out of both (stale secrets no method reads) unless Order names them as
// an entry key (Cloudflare's accountId is an OAuth entry's, and a stored
// document's).
func (sh *Shape) split(values map[string]json.RawMessage) (Entry, map[string]json.RawMessage) {
	e := Entry{}
	for k, v := range values {
		e[k] = v
	}
	method := e.Method()
	secrets := map[string]json.RawMessage{}
	for _, d := range sh.Docs {
		for _, f := range d.Fields {
			if d.Method == method || !containsString(sh.Order, f) {
				delete(e, f)
			}
		}
		if d.Method != method {
			continue
		}
		doc := map[string]json.RawMessage{}
		for _, f := range d.Fields {
			if v, ok := values[f]; ok {
				doc[f] = v
			}
		}
		if len(doc) == 0 {
			continue
		}
		for _, f := range d.Shared {
			if v, ok := values[f]; ok {
				doc[f] = v
			}
		}
		if d.Type != "" {
			doc["type"], _ = json.Marshal(d.Type)
		} else if v, ok := values[d.TypeFrom]; ok && d.TypeFrom != "" {
			doc["type"] = v
		}
		secrets[d.Key], _ = json.Marshal(doc)
	}
	return e, secrets
}

// join is split's inverse: the values of a v1 file, as compact JSON, with
// the keys in the TypeScript tool's order.
func (sh *Shape) join(e Entry, secrets map[string]json.RawMessage) []byte {
	var obj object
	obj.add("method", e["method"])
	for _, k := range sh.Order {
		obj.add(k, e[k])
	}
	rest := make([]string, 0, len(e))
	for k := range e {
		rest = append(rest, k)
	}
	sort.Strings(rest)
	for _, k := range rest {
		obj.add(k, e[k])
	}
	method := e.Method()
	for _, d := range sh.Docs {
		var doc map[string]json.RawMessage
		if d.Method != method || json.Unmarshal(secrets[d.Key], &doc) != nil {
			continue
		}
		for _, f := range append(d.Shared[:len(d.Shared):len(d.Shared)], d.Fields...) {
			obj.add(f, doc[f])
		}
	}
	return obj.bytes()
}

// object builds a JSON object in insertion order; a key is added once.
type object struct {
	buf  bytes.Buffer
	seen map[string]bool
}

func (o *object) add(k string, v json.RawMessage) {
	if v == nil || o.seen[k] {
		return
	}
	if o.seen == nil {
		o.seen = map[string]bool{}
	}
	o.seen[k] = true
	if o.buf.Len() == 0 {
		o.buf.WriteByte('{')
	} else {
		o.buf.WriteByte(',')
	}
	kb, _ := json.Marshal(k)
	o.buf.Write(kb)
	o.buf.WriteByte(':')
	o.buf.Write(v)
}

func (o *object) bytes() []byte {
	if o.buf.Len() == 0 {
		return []byte("{}")
	}
	return append(o.buf.Bytes(), '}')
}

// encodeV1 is a provider file as JSON.stringify(doc, null, 2) writes it:
// two-space indent and no trailing newline.
func encodeV1(provider string, metadata, values []byte) ([]byte, error) {
	if len(metadata) == 0 {
		metadata = []byte("{}")
	}
	var o object
	f, _ := json.Marshal(V1Format)
	p, _ := json.Marshal(provider)
	o.add("format", f)
	o.add("provider", p)
	o.add("metadata", metadata)
	o.add("values", values)
	var out bytes.Buffer
	if err := json.Indent(&out, o.bytes(), "", "  "); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// shape is the registered shape of provider; an unknown provider gets one
// without documents.
func (s *Store) shape(provider string) (*Shape, bool) {
	if sh := s.shapes[strings.ToLower(provider)]; sh != nil {
		return sh, true
	}
	return &Shape{Provider: provider}, false
}

// loadV1 reads every provider file of the home. A file that cannot be used
// is skipped with a warning and left in place: the next write of that
// provider moves it to a backup first.
func (s *Store) loadV1() (*Config, error) {
	cfg := &Config{Profiles: map[string]Profile{}}
	dirs, err := os.ReadDir(s.profilesDir())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("could not read %s: %v", s.profilesDir(), unwrapPath(err))
	}
	for _, d := range dirs {
		name := d.Name()
		if !d.IsDir() || ValidateName(name) != nil {
			continue
		}
		p := Profile{}
		files, err := os.ReadDir(filepath.Join(s.profilesDir(), name))
		if err != nil {
			return nil, fmt.Errorf("could not read %s: %v", filepath.Join(s.profilesDir(), name), unwrapPath(err))
		}
		for _, f := range files {
			if strings.HasPrefix(f.Name(), ".") || !strings.HasSuffix(f.Name(), ".json") {
				continue
			}
			path := filepath.Join(s.profilesDir(), name, f.Name())
			doc, values, err := readV1(path)
			if err != nil {
				s.warnOnce(path, fmt.Sprintf("%v; skipped it.", err))
				continue
			}
			sh, known := s.shape(doc.Provider)
			e, _ := sh.split(values)
			if !known {
				// Only its method: what else it holds (secrets, in a
				// layout this tool cannot know) stays in the file.
				e = Entry{"method": values["method"]}
			}
			p[doc.Provider] = e
		}
		cfg.Profiles[name] = p
	}
	return cfg, nil
}

// updateV1 is Update for a v1 home: fn changes the config, and each
// provider file whose entry it changed is rewritten with the secrets it
// holds (a method change keeps only the new method's).
func (s *Store) updateV1(ctx context.Context, fn func(*Config) error) error {
	l, err := lock.Acquire(ctx, s.lockDir(), "profiles", s.lockOpts)
	if err != nil {
		return err
	}
	defer l.Release()
	before, err := s.loadV1()
	if err != nil {
		return err
	}
	after, _ := s.loadV1()
	if err := fn(after); err != nil {
		return err
	}
	for _, name := range after.Names() {
		if err := ValidateName(name); err != nil {
			return err
		}
		if err := s.mkdirV1(name); err != nil {
			return err
		}
		old := before.Profiles[name]
		for prov, e := range after.Profiles[name] {
			if old != nil && entryEqual(old[prov], e) {
				continue
			}
			if err := s.editV1Locked(name, prov, func(Entry, map[string]json.RawMessage) (Entry, error) { return e, nil }); err != nil {
				return err
			}
		}
		for prov := range old {
			if _, ok := after.Profiles[name][prov]; !ok {
				if err := s.editV1Locked(name, prov, func(Entry, map[string]json.RawMessage) (Entry, error) { return nil, nil }); err != nil {
					return err
				}
			}
		}
	}
	for name := range before.Profiles {
		if _, ok := after.Profiles[name]; !ok {
			dir := filepath.Join(s.profilesDir(), name)
			if err := s.checkDir(dir); err != nil {
				return err
			}
			if err := os.RemoveAll(dir); err != nil {
				return fmt.Errorf("Could not delete %s: %v", dir, unwrapPath(err))
			}
		}
	}
	return nil
}

func entryEqual(a, b Entry) bool {
	if a == nil || len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

func (s *Store) mkdirV1(profile string) error {
	dir := filepath.Join(s.profilesDir(), profile)
	if err := atomicfile.MkdirPrivate(s.profilesDir()); err != nil {
		return writeError(dir, err)
	}
	if err := atomicfile.MkdirPrivate(dir); err != nil {
		return writeError(dir, err)
	}
	return s.checkDir(dir)
}

// editV1 rewrites one provider file under the "profiles" lock (taken
// inside the profile's lock, in the TypeScript tool's order).
func (s *Store) editV1(ctx context.Context, profile, provider string, fn func(Entry, map[string]json.RawMessage) (Entry, error)) error {
	l, err := lock.Acquire(ctx, s.lockDir(), "profiles", s.lockOpts)
	if err != nil {
		return err
	}
	defer l.Release()
	return s.editV1Locked(profile, provider, fn)
}

// editV1Locked gives fn the entry and secret documents the file holds (a
// nil entry when there is none) and writes the entry it returns with those
// documents, or removes the file when it returns nil. An unusable file is
// moved to a backup before it is replaced.
func (s *Store) editV1Locked(profile, provider string, fn func(Entry, map[string]json.RawMessage) (Entry, error)) error {
	sh, known := s.shape(provider)
	path := s.v1Path(profile, provider)
	if !matches(provider, 64) {
		return fmt.Errorf("invalid provider name '%s'", provider)
	}
	if err := s.checkDir(filepath.Dir(path)); err != nil {
		return err
	}
	var meta json.RawMessage
	var entry Entry
	secrets := map[string]json.RawMessage{}
	doc, values, err := readV1(path)
	var invalid *InvalidError
	switch {
	case err == nil:
		if !known {
			return fmt.Errorf("%s belongs to a provider this alchemy does not know (%s); it was left as it is", path, doc.Provider)
		}
		meta = doc.Metadata
		entry, secrets = sh.split(values)
	case errors.As(err, &invalid):
		backup, berr := s.backup(path)
		if berr != nil {
			return fmt.Errorf("%w (and moving it aside failed: %v)", err, berr)
		}
		s.warn(fmt.Sprintf("%s could not be used (%s); moved it to %s.", path, invalid.Reason, backup))
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("could not read %s: %w", path, err)
	}
	next, err := fn(entry, secrets)
	if err != nil {
		return err
	}
	atomicfile.RemoveStaleTemps(path)
	if next == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("Could not delete %s: %v", path, unwrapPath(err))
		}
		return nil
	}
	data, err := encodeV1(sh.Provider, meta, sh.join(next, secrets))
	if err != nil {
		return err
	}
	if err := s.mkdirV1(profile); err != nil {
		return err
	}
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return writeError(path, err)
	}
	return nil
}

// secretV1 reads one secret document from its provider's file.
func (s *Store) secretV1(profile, key string) (json.RawMessage, error) {
	sh := s.docs[key]
	if sh == nil {
		return nil, nil
	}
	path := s.v1Path(profile, sh.Provider)
	if err := s.checkDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	_, values, err := readV1(path)
	var invalid *InvalidError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case errors.As(err, &invalid):
		return nil, fmt.Errorf("%v. Run `alchemy login --profile %s --configure` to store the credentials again (the file is moved to a backup first).", err, profile)
	case err != nil:
		return nil, fmt.Errorf("Could not read credentials at '%s': %v", path, unwrapPath(err))
	}
	_, secrets := sh.split(values)
	return secrets[key], nil
}

// editSecretV1 writes (data) or removes (nil) one secret document in its
// provider's file. Writing into a provider with no file yet starts the
// entry at the document's method.
func (s *Store) editSecretV1(ctx context.Context, profile, key string, data json.RawMessage) error {
	sh := s.docs[key]
	if sh == nil {
		if data == nil {
			return nil
		}
		return fmt.Errorf("no provider of this alchemy keeps '%s' in a v1 profile", key)
	}
	var d Doc
	for _, x := range sh.Docs {
		if x.Key == key || containsString(x.Legacy, key) {
			d = x
		}
	}
	return s.editV1(ctx, profile, sh.Provider, func(e Entry, secrets map[string]json.RawMessage) (Entry, error) {
		if data == nil {
			delete(secrets, d.Key)
			return e, nil // e is nil when there is no file: nothing to remove
		}
		if e == nil {
			e, _ = NewEntry(map[string]string{"method": d.Method})
		}
		secrets[d.Key] = data
		return e, nil
	})
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// migrateV0 moves a profiles.json that sits next to profiles/ into the v1
// layout, as the TypeScript tool does on its next run: each profile and
// provider that has no v1 file yet gets one (with the secrets of its v0
// files, under every name either tool used, and env and OAuth entries
// kept, which the TypeScript tool drops), then profiles.json and
// credentials/ move to .profiles-v0-<stamp>/. Nothing is deleted.
func (s *Store) migrateV0(ctx context.Context) error {
	if !s.V1() {
		return nil
	}
	if _, err := os.Lstat(s.ConfigPath()); err != nil {
		return nil
	}
	l, err := lock.Acquire(ctx, s.lockDir(), "profiles", s.lockOpts)
	if err != nil {
		return err
	}
	defer l.Release()
	ml, err := lock.Acquire(ctx, s.lockDir(), "profiles-migrate", s.lockOpts)
	if err != nil {
		return err
	}
	defer ml.Release()
	data, err := atomicfile.ReadRegular(s.ConfigPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil // another process migrated it
	}
	if err != nil {
		return fmt.Errorf("could not read %s: %w", s.ConfigPath(), err)
	}
	cfg, err := parseConfig(s.ConfigPath(), data)
	var invalid *InvalidError
	if errors.As(err, &invalid) {
		backup, berr := s.backup(s.ConfigPath())
		if berr != nil {
			return fmt.Errorf("%w (and moving it aside failed: %v)", err, berr)
		}
		s.warn(fmt.Sprintf("%s could not be migrated (%s); moved it to %s.", invalid.Path, invalid.Reason, backup))
		return nil
	}
	if err != nil {
		return err
	}
	var kept []string
	for _, name := range cfg.Names() {
		if ValidateName(name) != nil {
			s.warn(fmt.Sprintf("profiles.json: profile '%s' has an invalid name and was not migrated; it stays in the backup.", name))
			continue
		}
		if err := s.mkdirV1(name); err != nil {
			return err
		}
		for _, prov := range cfg.Profiles[name].Providers() {
			e := cfg.Profiles[name][prov]
			if !matches(prov, 64) {
				continue
			}
			if _, err := os.Lstat(s.v1Path(name, prov)); err == nil {
				kept = append(kept, name+"/"+prov)
				continue
			}
			sh, known := s.shape(prov)
			secrets := map[string]json.RawMessage{}
			for _, d := range sh.Docs {
				for _, k := range append([]string{d.Key}, d.Legacy...) {
					var raw json.RawMessage
					if found, err := s.readSecretV0(name, k, &raw); err == nil && found {
						secrets[d.Key] = raw
						break
					}
				}
			}
			values := sh.join(e, secrets)
			if !known {
				values, _ = json.Marshal(e)
			}
			out, err := encodeV1(sh.Provider, nil, values)
			if err != nil {
				return err
			}
			if err := atomicfile.Write(s.v1Path(name, prov), out, 0o600); err != nil {
				return writeError(s.v1Path(name, prov), err)
			}
		}
	}
	backup, err := s.moveV0Aside()
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("Moved profiles.json into the profiles/ layout this home uses (the TypeScript alchemy's); the old files are in %s.", backup)
	if len(kept) > 0 {
		msg += fmt.Sprintf(" Kept the existing profiles/ files of %s (the profiles.json entries for them are only in the backup).", strings.Join(kept, ", "))
	}
	s.warn(msg)
	return nil
}

// moveV0Aside moves profiles.json and credentials/ into a new
// .profiles-v0-<stamp>/ directory; an existing backup is never reused.
func (s *Store) moveV0Aside() (string, error) {
	stamp := strings.NewReplacer(":", "-", ".", "-").Replace(s.now().UTC().Format("2006-01-02T15:04:05.000Z"))
	dir := filepath.Join(s.root, ".profiles-v0-"+stamp)
	for i := 2; ; i++ {
		err := os.Mkdir(dir, 0o700)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", writeError(dir, err)
		}
		dir = filepath.Join(s.root, fmt.Sprintf(".profiles-v0-%s-%d", stamp, i))
	}
	if err := os.Rename(s.ConfigPath(), filepath.Join(dir, "profiles.json")); err != nil {
		return "", writeError(s.ConfigPath(), err)
	}
	creds := filepath.Join(s.root, "credentials")
	if err := os.Rename(creds, filepath.Join(dir, "credentials")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", writeError(creds, err)
	}
	return dir, nil
}

// SecretFile is the file that holds (or would hold) the secret document key
// of profile: its provider's file in a v1 home, else the credentials file
// (the legacy name when only that exists).
func (s *Store) SecretFile(profile, key string) string {
	if sh := s.docs[key]; sh != nil && s.V1() {
		return s.v1Path(profile, sh.Provider)
	}
	for _, k := range s.legacyKeys(key) {
		if _, err := os.Lstat(s.SecretPath(profile, k)); err == nil {
			if _, err := os.Lstat(s.SecretPath(profile, key)); err != nil {
				return s.SecretPath(profile, k)
			}
		}
	}
	return s.SecretPath(profile, key)
}

// EntryFile is the file that holds provider's entry of profile:
// profiles.json in a v0 home, the provider's file in a v1 home (the
// profile's directory when provider is "").
func (s *Store) EntryFile(profile, provider string) string {
	if s.V1() && provider == "" {
		return filepath.Join(s.profilesDir(), profile)
	}
	if s.V1() {
		return s.v1Path(profile, provider)
	}
	return s.ConfigPath()
}
