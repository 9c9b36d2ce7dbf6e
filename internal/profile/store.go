// Package profile is alchemy's credential store: profiles.json (which auth
// method each provider of each profile uses) and the secret files under
// credentials/<profile>/, in the layout of the TypeScript tool so a user can
// switch tools and keep their logins.
//
// Every write is atomic and every read-modify-write holds a cross-process
// lock: "profiles" for profiles.json, "profile-credentials-<name>" for one
// profile's secrets. When both are needed the profile lock is taken first.
// Every secret read from a file is registered with the redaction registry
// (internal/redact) as it is read.
package profile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/alchemy-go/alchemy/internal/atomicfile"
	"github.com/alchemy-go/alchemy/internal/envfile"
	"github.com/alchemy-go/alchemy/internal/lock"
	"github.com/alchemy-go/alchemy/internal/redact"
)

// Store is one alchemy home directory.
type Store struct {
	root     string
	lockOpts lock.Options
	now      func() time.Time

	shapes map[string]*Shape // by lowercased provider name (v1.go)
	docs   map[string]*Shape // by secret document key

	warnMu sync.Mutex
	warned map[string]bool
}

// Root returns the home directory: $ALCHEMY_HOME, else ~/.alchemy. The
// home itself may be a symbolic link (a dotfiles checkout): it is resolved
// here, once, and links inside it are then refused, never followed.
func Root(env envfile.Source) (string, error) {
	dir := envfile.Get(env, "ALCHEMY_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("cannot find your home directory (%v): set HOME, or ALCHEMY_HOME to the directory alchemy should keep profiles in", err)
		}
		dir = filepath.Join(home, ".alchemy")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	return abs, nil
}

// New returns the store rooted at root. warn receives the store's warnings
// (a backed-up file, a lock that is unavailable); nil discards them.
func New(root string, warn func(string)) *Store {
	if warn == nil {
		warn = func(string) {}
	}
	s := &Store{root: root, lockOpts: lock.Options{Warn: warn}, now: time.Now}
	s.Register(CloudflareShape(), AWSShape(), GitHubShape())
	return s
}

// SetLockOptions replaces the lock timings; tests shorten them.
func (s *Store) SetLockOptions(o lock.Options) {
	if o.Warn == nil {
		o.Warn = s.lockOpts.Warn
	}
	s.lockOpts = o
}

func (s *Store) warn(msg string) { s.lockOpts.Warn(msg) }

// warnOnce warns about key once per store (a command loads the profiles
// several times).
func (s *Store) warnOnce(key, msg string) {
	s.warnMu.Lock()
	defer s.warnMu.Unlock()
	if s.warned[key] {
		return
	}
	if s.warned == nil {
		s.warned = map[string]bool{}
	}
	s.warned[key] = true
	s.warn(msg)
}

// Root is the home directory of this store.
func (s *Store) Root() string { return s.root }

// ConfigPath is the path of profiles.json.
func (s *Store) ConfigPath() string { return filepath.Join(s.root, "profiles.json") }

// CredentialsDir is the directory holding one profile's secrets.
func (s *Store) CredentialsDir(profile string) string {
	return filepath.Join(s.root, "credentials", profile)
}

// SecretPath is the file holding one secret document of a profile.
func (s *Store) SecretPath(profile, key string) string {
	return filepath.Join(s.CredentialsDir(profile), key+".json")
}

func (s *Store) lockDir() string { return filepath.Join(s.root, "lock") }

// Load reads profiles.json. A missing file is an empty config; a file that is
// corrupt, truncated or of an unknown version is an *InvalidError, never an
// empty config.
func (s *Store) Load() (*Config, error) {
	if s.V1() {
		return s.loadV1()
	}
	data, err := atomicfile.ReadRegular(s.ConfigPath())
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{Profiles: map[string]Profile{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("could not read %s: %w", s.ConfigPath(), err)
	}
	return parseConfig(s.ConfigPath(), data)
}

// Update runs fn on the current config under the "profiles" lock and writes
// the result atomically. An unusable file is first moved to a timestamped
// backup, with a warning, so nothing the user had is lost.
func (s *Store) Update(ctx context.Context, fn func(*Config) error) error {
	if s.V1() {
		return s.updateV1(ctx, fn)
	}
	l, err := lock.Acquire(ctx, s.lockDir(), "profiles", s.lockOpts)
	if err != nil {
		return err
	}
	defer l.Release()
	cfg, err := s.Load()
	var invalid *InvalidError
	if errors.As(err, &invalid) {
		backup, berr := s.backup(s.ConfigPath())
		if berr != nil {
			return fmt.Errorf("%w (and moving it aside failed: %v)", err, berr)
		}
		s.warn(fmt.Sprintf("%s could not be used (%s); moved it to %s and started a new one.", invalid.Path, invalid.Reason, backup))
		cfg, err = &Config{Profiles: map[string]Profile{}}, nil
	}
	if err != nil {
		return err
	}
	if err := fn(cfg); err != nil {
		return err
	}
	data, err := cfg.marshal()
	if err != nil {
		return err
	}
	atomicfile.RemoveStaleTemps(s.ConfigPath())
	if err := atomicfile.Write(s.ConfigPath(), data, 0o600); err != nil {
		return writeError(s.ConfigPath(), err)
	}
	return nil
}

func (s *Store) backup(path string) (string, error) {
	stamp := strings.NewReplacer(":", "-", ".", "-").Replace(s.now().UTC().Format("2006-01-02T15:04:05.000Z"))
	dst := path + ".invalid-" + stamp + ".bak"
	return dst, os.Rename(path, dst)
}

// SetEntry stores one provider's entry in a profile, creating the profile
// when needed, and keeps the other providers and profiles as they are.
func (s *Store) SetEntry(ctx context.Context, profile, provider string, e Entry) error {
	if err := ValidateName(profile); err != nil {
		return err
	}
	return s.Update(ctx, func(c *Config) error {
		p := c.Profiles[profile]
		if p == nil {
			p = Profile{}
			c.Profiles[profile] = p
		}
		p[provider] = Merge(p[provider], e)
		return nil
	})
}

// ReadSecret decodes the secret document key of profile into v: in a v0
// home credentials/<profile>/<key>.json (or a legacy name of it), in a v1
// home the fields of its provider's file. It reports false, with no error,
// when there is none.
func (s *Store) ReadSecret(profile, key string, v any) (bool, error) {
	if err := ValidateName(profile); err != nil {
		return false, err
	}
	if err := validateKey(key); err != nil {
		return false, err
	}
	if s.V1() {
		raw, err := s.secretV1(profile, key)
		if err != nil || raw == nil {
			return false, err
		}
		return true, decodeSecret(raw, v)
	}
	for _, k := range append([]string{key}, s.legacyKeys(key)...) {
		if found, err := s.readSecretV0(profile, k, v); err != nil || found {
			return found, err
		}
	}
	return false, nil
}

func (s *Store) readSecretV0(profile, key string, v any) (bool, error) {
	path := s.SecretPath(profile, key)
	if err := s.checkDir(s.CredentialsDir(profile)); err != nil {
		return false, err
	}
	data, err := atomicfile.ReadRegular(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("Could not read credentials at '%s': %v", path, unwrapPath(err))
	}
	if err := decodeSecret(data, v); err != nil {
		return false, fmt.Errorf("Stored credentials at '%s' contain invalid JSON. Run `alchemy login --profile %s --configure` to store them again.", path, profile)
	}
	return true, nil
}

// SecretHolder is implemented by the documents of secret files: Secrets
// lists the values in them that are secrets (tokens, keys; not account ids
// or regions).
type SecretHolder interface {
	Secrets() []string
}

// decodeSecret decodes a secret document into v and, when v is a
// SecretHolder, registers its secrets with the redaction registry as they
// are read: whatever the caller does next (check them with an API that
// quotes what it was sent, revoke them), no message can show them.
func decodeSecret(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return err
	}
	if sh, ok := v.(SecretHolder); ok {
		redact.Add(sh.Secrets()...)
	}
	return nil
}

// WithProfile runs fn holding the profile's cross-process lock. Secrets are
// only written through the *Tx it is given, so no write escapes the lock.
func (s *Store) WithProfile(ctx context.Context, profile string, fn func(*Tx) error) error {
	if err := ValidateName(profile); err != nil {
		return err
	}
	l, err := lock.Acquire(ctx, s.lockDir(), "profile-credentials-"+profile, s.lockOpts)
	if err != nil {
		return err
	}
	defer l.Release()
	tx := &Tx{s: s, profile: profile, ctx: ctx, excl: l.Held()}
	if !s.V1() {
		if err := s.rollForward(ctx, profile, tx); err != nil {
			return err
		}
	}
	return fn(tx)
}

// Tx is a profile's secrets while its lock is held.
type Tx struct {
	s       *Store
	profile string
	ctx     context.Context
	excl    bool // the lock really excludes other processes
	// staged holds the writes (nil: a delete) of a staging Tx (NewStage),
	// which writes nothing itself.
	staged map[string]json.RawMessage
}

// CanPersist says whether a secret written now would be saved for every
// process: the profile lock is real (not the no-op of a read-only home) and
// the credentials directory takes a write. A single-use secret (a refresh
// token) must not be spent when this fails: the others could not see its
// replacement.
func (tx *Tx) CanPersist() error {
	if tx.staged != nil {
		return nil // Commit writes it, under the lock
	}
	dir := tx.s.CredentialsDir(tx.profile)
	if tx.s.V1() {
		dir = filepath.Join(tx.s.profilesDir(), tx.profile)
	}
	if !tx.excl {
		return fmt.Errorf("no lock can be taken in %s (read-only?), so other alchemy processes cannot be kept from spending the same single-use token", tx.s.root)
	}
	if err := atomicfile.MkdirPrivate(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := atomicfile.MkdirPrivate(dir); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return fmt.Errorf("%s cannot be written (%v)", dir, unwrapPath(err))
	}
	f.Close()
	return os.Remove(f.Name())
}

// ReadSecret is Store.ReadSecret for this profile, seeing staged writes.
func (tx *Tx) ReadSecret(key string, v any) (bool, error) {
	if raw, ok := tx.staged[key]; ok {
		if raw == nil {
			return false, nil
		}
		return true, decodeSecret(raw, v)
	}
	return tx.s.ReadSecret(tx.profile, key, v)
}

// WriteSecret writes v as the secret document key: in a v0 home
// credentials/<profile>/<key>.json, mode 0600 (legacy names of it are
// removed), in a v1 home into its provider's file.
func (tx *Tx) WriteSecret(key string, v any) error {
	if err := validateKey(key); err != nil {
		return err
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if tx.staged != nil {
		tx.staged[key] = data
		return nil
	}
	if tx.s.V1() {
		return tx.s.editSecretV1(tx.context(), tx.profile, key, data)
	}
	path := tx.s.SecretPath(tx.profile, key)
	if err := atomicfile.MkdirPrivate(filepath.Dir(filepath.Dir(path))); err != nil {
		return writeError(path, err)
	}
	if err := atomicfile.MkdirPrivate(filepath.Dir(path)); err != nil {
		return writeError(path, err)
	}
	// Temps a killed writer left hold whole secrets: gone at every write.
	atomicfile.RemoveStaleTempsIn(filepath.Dir(path))
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return writeError(path, err)
	}
	return tx.removeV0(tx.s.legacyKeys(key))
}

func (tx *Tx) context() context.Context {
	if tx.ctx == nil {
		return context.Background()
	}
	return tx.ctx
}

// DeleteSecret removes one secret document (and its legacy names); a
// missing one is not an error.
func (tx *Tx) DeleteSecret(key string) error {
	if err := validateKey(key); err != nil {
		return err
	}
	if tx.staged != nil {
		tx.staged[key] = nil
		return nil
	}
	if tx.s.V1() {
		return tx.s.editSecretV1(tx.context(), tx.profile, key, nil)
	}
	return tx.removeV0(append([]string{key}, tx.s.legacyKeys(key)...))
}

func (tx *Tx) removeV0(keys []string) error {
	for _, key := range keys {
		path := tx.s.SecretPath(tx.profile, key)
		if err := tx.s.checkDir(filepath.Dir(path)); err != nil {
			return err
		}
		atomicfile.RemoveStaleTempsIn(filepath.Dir(path))
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("Could not delete credentials at '%s': %v", path, unwrapPath(err))
		}
	}
	return nil
}

// DeleteAll removes the profile's whole credentials directory, temps of
// killed writers included. A symbolic link there is refused, not removed
// as if it were the credentials.
func (tx *Tx) DeleteAll() error {
	if tx.staged != nil {
		return errors.New("a staged configure cannot delete a whole profile")
	}
	// A v1 home's profile is its profiles/<name>/; the TypeScript tool
	// still keeps caches in credentials/<name>/ there.
	dirs := []string{tx.s.CredentialsDir(tx.profile)}
	if tx.s.V1() {
		dirs = append(dirs, filepath.Join(tx.s.profilesDir(), tx.profile))
	}
	for _, dir := range dirs {
		if err := tx.s.checkDir(dir); err != nil {
			return err
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("Could not delete credentials for profile '%s': %v", tx.profile, unwrapPath(err))
		}
	}
	return nil
}

// checkDir refuses a directory of the home that is a symbolic link or not
// a directory; a missing one is fine.
func (s *Store) checkDir(dir string) error {
	for _, d := range []string{filepath.Dir(dir), dir} {
		fi, err := os.Lstat(d)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("%s is a symbolic link: alchemy does not follow links where it keeps credentials. Replace it with a directory (its secrets would be read from, written to or deleted wherever it points)", d)
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", d)
		}
	}
	return nil
}

func writeError(path string, err error) error {
	msg := fmt.Sprintf("Could not write %s: %v.", path, unwrapPath(err))
	if errors.Is(err, fs.ErrPermission) || isReadOnly(err) {
		msg += " The directory is not writable: fix its permissions, or set ALCHEMY_HOME to a writable directory."
	}
	return errors.New(msg)
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
