package secret

import "strings"

// Form is how a secret value is stored.
type Form int

const (
	// NotSealed: not a secret marker at all.
	NotSealed Form = iota
	// Encrypted with ALCHEMY_PASSWORD: any machine with the password
	// opens it.
	Encrypted
	// Hashed with this machine's key (or the old unsalted hash): no other
	// machine can check it against a value, and nobody can open it.
	Hashed
	// Clear: {"__redacted__": <the value>}, the TypeScript tool's
	// plaintext form.
	Clear
)

// FormOf says how v, a value as stored, keeps its secret.
func FormOf(v any) Form {
	if !IsSealed(v) {
		return NotSealed
	}
	m := v.(map[string]any)
	inner, ok := m[RedactedMarker]
	if !ok {
		return Encrypted
	}
	if s, ok := inner.(string); ok && (strings.HasPrefix(s, hmacPrefix) || strings.HasPrefix(s, legacyHashPrefix)) {
		return Hashed
	}
	return Clear
}
