// Package secret keeps secret values out of state in clear.
//
// A secret prop is written to state in one of two forms:
//
//   - with ALCHEMY_PASSWORD set, encrypted: {"__secret__": "v1:<base64>"},
//     AES-256-GCM under a key derived from the password with scrypt
//     (N=16384, r=8, p=1, 16-byte salt, 12-byte nonce: the parameters of
//     the TypeScript tool's encrypt.ts). The plaintext is the value's JSON.
//     It decrypts again, so an update or delete gets the old value, and
//     state moves between machines and tools with the password;
//   - without it, a keyed hash: {"__redacted__": "hmac-sha256:<key id>:<hex>"}.
//     The key is random, kept in $ALCHEMY_HOME/state-hmac.key (0600), never
//     in state, and the hash covers stack, stage, resource and prop, so the
//     same secret hashes differently everywhere and state alone cannot be
//     brute-forced. It detects a change, nothing more: the old value is
//     gone, and on another machine (another key) a secret looks changed
//     once, and is written again.
//
// It also reads what the TypeScript tool writes: {"__redacted__": <value>}
// (its plaintext form) and its encrypted object form
// {"version":"v1","ciphertext","iv","salt","tag"} (under "__secret__" or
// its older "@secret"), and this tool's earlier unsalted "sha256:<hex>"
// hashes, which are rewritten at the next deploy.
package secret

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"

	"golang.org/x/crypto/scrypt"

	"github.com/alchemy-go/alchemy/internal/atomicfile"
)

// The markers of spec 3.4, and the TypeScript tool's older one.
const (
	RedactedMarker = "__redacted__"
	SecretMarker   = "__secret__"
	legacyMarker   = "@secret"
)

const (
	scryptN, scryptR, scryptP = 16384, 8, 1
	keyLen, saltLen, nonceLen = 32, 16, 12
	hmacPrefix                = "hmac-sha256:"
	legacyHashPrefix          = "sha256:"
	encPrefix                 = "v1:"
	keyFile                   = "state-hmac.key"
)

// ErrNoPassword is reading an encrypted secret without ALCHEMY_PASSWORD.
var ErrNoPassword = errors.New(`State contains encrypted secrets ("__secret__") but no decryption key is available. Set ALCHEMY_PASSWORD to the key that wrote this state.`)

// ErrWrongPassword is an encrypted secret that ALCHEMY_PASSWORD does not open.
var ErrWrongPassword = errors.New("ALCHEMY_PASSWORD does not decrypt the secrets in this state: it was written with another password. Set ALCHEMY_PASSWORD to the one that wrote it (nothing was changed)")

// Where is what a keyed hash covers besides the value.
type Where struct {
	Stack, Stage, FQN, Prop string
}

// Codec seals and opens secret values. It is safe for concurrent use.
type Codec struct {
	password string
	home     string

	keyOnce sync.Once
	hmacKey []byte
	keyID   string
	keyErr  error

	mu       sync.Mutex
	derived  map[string][]byte // salt -> scrypt key
	sealSalt []byte
}

// New returns a codec: password is ALCHEMY_PASSWORD ("" when unset), home
// the alchemy home where the hash key lives.
func New(password, home string) *Codec {
	return &Codec{password: password, home: home, derived: map[string][]byte{}}
}

// Encrypts reports whether sealed values can be opened again (a password is
// set).
func (c *Codec) Encrypts() bool { return c.password != "" }

// IsSealed reports whether v is a marker object (a secret as stored).
func IsSealed(v any) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	for k := range m {
		return k == RedactedMarker || k == SecretMarker || k == legacyMarker
	}
	return false
}

// Seal returns the stored form of the secret value v.
func (c *Codec) Seal(w Where, v any) (any, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if c.password != "" {
		ct, err := c.encrypt(plain)
		if err != nil {
			return nil, err
		}
		return map[string]any{SecretMarker: ct}, nil
	}
	sum, err := c.hash(w, plain)
	if err != nil {
		return nil, err
	}
	return map[string]any{RedactedMarker: sum}, nil
}

// Open returns the value of a stored secret. known is false when it cannot
// be recovered (a hash). A value that is not sealed is returned as is.
func (c *Codec) Open(stored any) (v any, known bool, err error) {
	m, ok := stored.(map[string]any)
	if !ok || !IsSealed(stored) {
		return stored, true, nil
	}
	if inner, ok := m[RedactedMarker]; ok {
		if s, ok := inner.(string); ok && (strings.HasPrefix(s, hmacPrefix) || strings.HasPrefix(s, legacyHashPrefix)) {
			return nil, false, nil
		}
		return inner, true, nil // the TypeScript tool's plaintext form
	}
	inner, ok := m[SecretMarker]
	if !ok {
		inner = m[legacyMarker]
	}
	if c.password == "" {
		return nil, false, ErrNoPassword
	}
	switch x := inner.(type) {
	case string:
		plain, err := c.decrypt(x)
		if err != nil {
			return nil, false, err
		}
		var out any
		if err := json.Unmarshal(plain, &out); err != nil {
			return nil, false, fmt.Errorf("decrypted secret is not JSON: %w", err)
		}
		return out, true, nil
	case map[string]any:
		return c.openObject(x)
	}
	return nil, false, fmt.Errorf("unreadable encrypted secret (%T)", inner)
}

// Matches reports whether stored is the sealed form of v, and whether it
// should be written again in the current form (an old unsalted hash, the
// TypeScript tool's plaintext, another machine's hash key).
func (c *Codec) Matches(w Where, stored, v any) (match, rewrite bool, err error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return false, false, err
	}
	m, ok := stored.(map[string]any)
	if !ok || !IsSealed(stored) {
		// Stored in clear (written before the prop was secret): rewrite.
		return jsonEqual(stored, v), true, nil
	}
	if inner, ok := m[RedactedMarker].(string); ok {
		switch {
		case strings.HasPrefix(inner, hmacPrefix):
			want, err := c.hash(w, plain)
			if err != nil {
				return false, false, err
			}
			if hmac.Equal([]byte(inner), []byte(want)) {
				return true, c.password != "", nil
			}
			return false, false, nil
		case strings.HasPrefix(inner, legacyHashPrefix):
			sum := sha256.Sum256(plain)
			return inner == legacyHashPrefix+hex.EncodeToString(sum[:]), true, nil
		}
	}
	old, known, err := c.Open(stored)
	if err != nil {
		return false, false, err
	}
	if !known {
		return false, false, nil
	}
	_, plaintext := m[RedactedMarker]
	_, legacyObject := m[legacyMarker]
	return jsonEqual(old, v), plaintext || legacyObject, nil
}

// OpenProps returns a props object with every sealed value opened; values
// that cannot be recovered (hashes) are left out, as if unset.
func (c *Codec) OpenProps(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 || !bytes.Contains(raw, []byte("__")) && !bytes.Contains(raw, []byte(legacyMarker)) {
		return raw, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return raw, nil
	}
	out, _, err := c.openAll(v)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

func (c *Codec) openAll(v any) (any, bool, error) {
	if IsSealed(v) {
		return c.Open(v)
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ov, known, err := c.openAll(e)
			if err != nil {
				return nil, false, err
			}
			if known {
				out[k] = ov
			}
		}
		return out, true, nil
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			ov, known, err := c.openAll(e)
			if err != nil {
				return nil, false, err
			}
			if known {
				out = append(out, ov)
			}
		}
		return out, true, nil
	}
	return v, true, nil
}

func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		return false
	}
	var xa, ya any
	_ = json.Unmarshal(x, &xa)
	_ = json.Unmarshal(y, &ya)
	return reflect.DeepEqual(xa, ya)
}

// --- encryption

// key derives (once per salt) the AES key for the password.
func (c *Codec) key(salt []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k, ok := c.derived[string(salt)]; ok {
		return k, nil
	}
	k, err := scrypt.Key([]byte(c.password), salt, scryptN, scryptR, scryptP, keyLen)
	if err != nil {
		return nil, err
	}
	c.derived[string(salt)] = k
	return k, nil
}

// encrypt seals plain: one salt (one scrypt run) per process, a fresh
// nonce per value.
func (c *Codec) encrypt(plain []byte) (string, error) {
	c.mu.Lock()
	if c.sealSalt == nil {
		c.sealSalt = make([]byte, saltLen)
		rand.Read(c.sealSalt)
	}
	salt := c.sealSalt
	c.mu.Unlock()
	key, err := c.key(salt)
	if err != nil {
		return "", err
	}
	gcm, err := newGCM(key)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, nonceLen)
	rand.Read(nonce)
	out := append(append(append([]byte{}, salt...), nonce...), gcm.Seal(nil, nonce, plain, nil)...)
	return encPrefix + base64.StdEncoding.EncodeToString(out), nil
}

func (c *Codec) decrypt(s string) ([]byte, error) {
	if !strings.HasPrefix(s, encPrefix) {
		return nil, fmt.Errorf("encrypted secret of an unknown format (%.8q...): written by a newer alchemy?", s)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, encPrefix))
	if err != nil || len(raw) < saltLen+nonceLen+16 {
		return nil, errors.New("encrypted secret is damaged")
	}
	return c.open(raw[:saltLen], raw[saltLen:saltLen+nonceLen], raw[saltLen+nonceLen:])
}

// openObject opens the TypeScript tool's {version, ciphertext, iv, salt,
// tag}: the plaintext is the string itself, or {"data": <that object of
// the value's JSON>} for other values.
func (c *Codec) openObject(o map[string]any) (any, bool, error) {
	if data, ok := o["data"].(map[string]any); ok {
		v, known, err := c.openObject(data)
		if err != nil || !known {
			return nil, known, err
		}
		var out any
		if err := json.Unmarshal([]byte(v.(string)), &out); err != nil {
			return nil, false, fmt.Errorf("decrypted secret is not JSON: %w", err)
		}
		return out, true, nil
	}
	field := func(k string) []byte {
		s, _ := o[k].(string)
		b, _ := base64.StdEncoding.DecodeString(s)
		return b
	}
	if v, _ := o["version"].(string); v != "" && v != "v1" {
		return nil, false, fmt.Errorf("encrypted secret of version %q: written by a newer alchemy?", v)
	}
	salt, iv, ct, tag := field("salt"), field("iv"), field("ciphertext"), field("tag")
	if len(salt) == 0 || len(iv) != nonceLen || len(tag) != 16 {
		return nil, false, errors.New("encrypted secret is damaged")
	}
	plain, err := c.open(salt, iv, append(ct, tag...))
	if err != nil {
		return nil, false, err
	}
	return string(plain), true, nil
}

func (c *Codec) open(salt, nonce, sealed []byte) ([]byte, error) {
	key, err := c.key(salt)
	if err != nil {
		return nil, err
	}
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, nonce, sealed, nil)
	if err != nil {
		return nil, ErrWrongPassword
	}
	return plain, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// --- keyed hashes

func (c *Codec) hash(w Where, plain []byte) (string, error) {
	c.keyOnce.Do(c.loadKey)
	if c.keyErr != nil {
		return "", c.keyErr
	}
	m := hmac.New(sha256.New, c.hmacKey)
	for _, part := range []string{w.Stack, w.Stage, w.FQN, w.Prop} {
		fmt.Fprintf(m, "%d:%s;", len(part), part)
	}
	m.Write(plain)
	return hmacPrefix + c.keyID + ":" + hex.EncodeToString(m.Sum(nil)), nil
}

// loadKey reads the hash key, creating it on first use. Two processes
// creating it at once agree: the key is published with a link, which fails
// when the file exists, and the loser reads the winner's.
func (c *Codec) loadKey() {
	if c.home == "" {
		c.keyErr = errors.New("a secret prop needs a key for its hash in the alchemy home, and there is none: set ALCHEMY_HOME, or ALCHEMY_PASSWORD to encrypt secrets instead")
		return
	}
	path := filepath.Join(c.home, keyFile)
	key, err := readKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createKey(c.home, path)
	}
	if err != nil {
		c.keyErr = fmt.Errorf("the key that hashes secret props (%s): %w. Fix the file or the directory's permissions, or set ALCHEMY_PASSWORD to encrypt secrets instead", path, err)
		return
	}
	sum := sha256.Sum256(key)
	c.hmacKey, c.keyID = key, hex.EncodeToString(sum[:4])
}

func readKey(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(key) != 32 {
		return nil, errors.New("it is not 64 hexadecimal characters")
	}
	return key, nil
}

func createKey(home, path string) ([]byte, error) {
	if err := atomicfile.MkdirPrivate(home); err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	rand.Read(key)
	tmp, err := os.CreateTemp(home, "."+keyFile+"-*.tmp")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readKey(path)
		}
		return nil, err
	}
	return key, nil
}
