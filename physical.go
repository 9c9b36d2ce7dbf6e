package alchemy

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"
)

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// PhysicalName builds the cloud name of a resource the stack author did not
// name: "<stack>-<id>-<stage>-<16 base32 chars of the instance id>", so two
// stages, two stacks or two generations of one resource never collide.
// When maxLength is set and exceeded, the prefix is cut and an 8-character
// hash of the full name keeps it unique. Characters outside [A-Za-z0-9-]
// become '-' (and the name is lower-cased when lowercase is set), the same
// rule as the TypeScript tool, so names match across tools.
func PhysicalName(stack, id, stage, instanceID string, maxLength int, lowercase bool) string {
	raw, err := hex.DecodeString(instanceID)
	if err != nil {
		raw = []byte(instanceID)
	}
	suffix := b32.EncodeToString(raw)
	if len(suffix) > 16 {
		suffix = suffix[:16]
	}
	prefix := stack + "-" + id + "-" + stage + "-"
	name := prefix + suffix
	if maxLength > 0 && len(name) > maxLength {
		sum := sha256.Sum256([]byte(name))
		tail := b32.EncodeToString(sum[:])[:8] + suffix
		if len(tail) > maxLength {
			tail = tail[len(tail)-maxLength:]
		}
		name = prefix[:maxLength-len(tail)] + tail
	}
	if lowercase {
		name = strings.ToLower(name)
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			return r
		case r >= 'A' && r <= 'Z' && !lowercase:
			return r
		}
		return '-'
	}, name)
}
