package profile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/alchemy-go/alchemy/internal/atomicfile"
)

// A provider's configuration is two things that must change together: its
// entry in profiles.json and its secret files. A configure step (which may
// prompt for minutes) only stages its secret writes in a Tx made by
// NewStage; Commit then applies entry and secrets as one transaction under
// the profile's lock:
//
//  1. a commit record (the new entry, the secrets to write, the files to
//     remove) is written durably to credentials/<profile>/.commit.json;
//  2. the secrets are written, the entry saved, the replaced method's files
//     removed;
//  3. the record is removed.
//
// A process killed before 1 completes changed nothing; after it, the next
// command (Settle, run at the start of every command, and every writer of
// the profile) rolls the record forward. So the profile is always the old
// configuration or the new one, never a mix, and the new one is saved
// before the old is removed (revoking a replaced grant comes after Commit).

const commitFile = ".commit.json"

// commitRecord is the content of the commit record.
type commitRecord struct {
	Provider string                     `json:"provider"`
	Entry    Entry                      `json:"entry"`
	Writes   map[string]json.RawMessage `json:"writes,omitempty"`
	Deletes  []string                   `json:"deletes,omitempty"`
}

// NewStage returns a Tx of profile that writes nothing: secret writes and
// deletes are staged for Commit, and reads see them over the files.
func (s *Store) NewStage(profile string) *Tx {
	return &Tx{s: s, profile: profile, staged: map[string]json.RawMessage{}}
}

// Staged reports whether tx only stages its writes.
func (tx *Tx) Staged() bool { return tx.staged != nil }

// Commit saves provider's entry e of profile together with the secrets tx
// staged, under the profile's lock, and removes the secret files of the
// entry it replaces that the new one does not use (keys names the files an
// entry's method owns). It returns the replaced entry and the content of
// the files it removed, for revoking what they held.
func (s *Store) Commit(ctx context.Context, profile, provider string, e Entry, staged *Tx, keys func(Entry) []string) (prev Entry, removed map[string]json.RawMessage, err error) {
	if err := ValidateName(profile); err != nil {
		return nil, nil, err
	}
	err = s.WithProfile(ctx, profile, func(tx *Tx) error {
		cfg, err := s.Load()
		var invalid *InvalidError
		if err != nil && !errors.As(err, &invalid) {
			return err
		}
		if cfg != nil {
			prev = cfg.Profiles[profile][provider]
		}
		next := Merge(prev, e)
		rec := commitRecord{Provider: provider, Entry: next, Writes: map[string]json.RawMessage{}}
		for k, v := range staged.staged {
			if v != nil {
				rec.Writes[k] = v
			}
		}
		keep := map[string]bool{}
		for _, k := range keys(next) {
			keep[k] = true
		}
		for k := range rec.Writes {
			keep[k] = true
		}
		var drop []string
		if prev != nil {
			drop = append(drop, keys(prev)...)
		}
		for k, v := range staged.staged {
			if v == nil {
				drop = append(drop, k)
			}
		}
		removed = map[string]json.RawMessage{}
		for _, k := range drop {
			if keep[k] || removed[k] != nil {
				continue
			}
			var raw json.RawMessage
			if found, err := tx.ReadSecret(k, &raw); err == nil && found {
				removed[k] = raw
			}
			rec.Deletes = append(rec.Deletes, k)
		}
		sort.Strings(rec.Deletes)
		if s.V1() {
			// One provider file holds entry and secrets: its atomic
			// rewrite is the whole transaction.
			return s.editV1(ctx, profile, provider, func(_ Entry, secrets map[string]json.RawMessage) (Entry, error) {
				for k, v := range rec.Writes {
					secrets[k] = v
				}
				for _, k := range rec.Deletes {
					delete(secrets, k)
				}
				return rec.Entry, nil
			})
		}
		data, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		dir := s.CredentialsDir(profile)
		if err := atomicfile.MkdirPrivate(filepath.Dir(dir)); err != nil {
			return writeError(dir, err)
		}
		if err := atomicfile.Write(filepath.Join(dir, commitFile), data, 0o600); err != nil {
			return writeError(filepath.Join(dir, commitFile), err)
		}
		return s.apply(ctx, profile, tx, &rec)
	})
	return prev, removed, err
}

// apply carries out a commit record (idempotent: it may run again after a
// crash) and removes it. Called with the profile's lock held.
func (s *Store) apply(ctx context.Context, profile string, tx *Tx, rec *commitRecord) error {
	keys := make([]string, 0, len(rec.Writes))
	for k := range rec.Writes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := tx.WriteSecret(k, rec.Writes[k]); err != nil {
			return err
		}
	}
	if err := s.Update(ctx, func(c *Config) error {
		p := c.Profiles[profile]
		if p == nil {
			p = Profile{}
			c.Profiles[profile] = p
		}
		p[rec.Provider] = rec.Entry
		return nil
	}); err != nil {
		return err
	}
	for _, k := range rec.Deletes {
		if err := tx.DeleteSecret(k); err != nil {
			return err
		}
	}
	path := filepath.Join(s.CredentialsDir(profile), commitFile)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("Could not remove %s: %v", path, unwrapPath(err))
	}
	return nil
}

// rollForward completes a commit a killed process left in profile. Called
// with the profile's lock held.
func (s *Store) rollForward(ctx context.Context, profile string, tx *Tx) error {
	path := filepath.Join(s.CredentialsDir(profile), commitFile)
	data, err := atomicfile.ReadRegular(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("Could not read %s: %v", path, unwrapPath(err))
	}
	var rec commitRecord
	if err := json.Unmarshal(data, &rec); err != nil || rec.Provider == "" {
		// Cut short before it was durable: the commit never happened.
		return os.Remove(path)
	}
	return s.apply(ctx, profile, tx, &rec)
}

// Settle migrates a profiles.json that sits next to profiles/ (v1.go) and
// completes every commit a killed process left, so that what a
// command reads is a whole configuration. It costs a directory listing
// when there is nothing to do.
func (s *Store) Settle(ctx context.Context) error {
	if err := s.migrateV0(ctx); err != nil {
		// The profiles/ files are read as they are; profiles.json waits
		// for a writable home.
		s.warnOnce("migrate", fmt.Sprintf("%s sits next to the profiles/ layout this home uses and could not be migrated into it: %v", s.ConfigPath(), err))
	}
	pending, _ := filepath.Glob(filepath.Join(s.root, "credentials", "*", commitFile))
	for _, p := range pending {
		name := filepath.Base(filepath.Dir(p))
		if ValidateName(name) != nil {
			continue
		}
		if err := s.WithProfile(ctx, name, func(*Tx) error { return nil }); err != nil {
			return err
		}
	}
	return nil
}
