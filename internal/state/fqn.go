package state

import (
	"fmt"
	"strings"
)

// EncodeFQN turns an FQN into a file name stem (spec 3.2): "%" -> "%25",
// "_" -> "%5F", "\" -> "%5C", then "/" -> "__". Escaping "_" first is what
// makes the result decodable: "__" can then only come from "/".
func EncodeFQN(fqn string) string {
	if !strings.ContainsAny(fqn, "%_\\/") {
		return fqn
	}
	var b strings.Builder
	b.Grow(len(fqn) + 8)
	for i := 0; i < len(fqn); i++ {
		switch c := fqn[i]; c {
		case '%':
			b.WriteString("%25")
		case '_':
			b.WriteString("%5F")
		case '\\':
			b.WriteString("%5C")
		case '/':
			b.WriteString("__")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// DecodeFQN reverses EncodeFQN. It rejects names EncodeFQN cannot produce:
// a "%" not followed by 25, 5F or 5C (hex digits in either case), or a "_"
// that is not part of a "__" pair.
func DecodeFQN(name string) (string, error) {
	if !strings.ContainsAny(name, "%_") {
		return name, nil
	}
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); i++ {
		switch c := name[i]; c {
		case '%':
			if i+3 > len(name) {
				return "", fmt.Errorf("invalid encoded FQN %q: truncated escape at byte %d", name, i)
			}
			switch strings.ToUpper(name[i+1 : i+3]) {
			case "25":
				b.WriteByte('%')
			case "5F":
				b.WriteByte('_')
			case "5C":
				b.WriteByte('\\')
			default:
				return "", fmt.Errorf("invalid encoded FQN %q: unknown escape %q", name, name[i:i+3])
			}
			i += 2
		case '_':
			if i+1 >= len(name) || name[i+1] != '_' {
				return "", fmt.Errorf("invalid encoded FQN %q: lone \"_\" at byte %d", name, i)
			}
			b.WriteByte('/')
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// canonical reports whether name is exactly what EncodeFQN writes for some FQN.
func canonical(name string) bool {
	fqn, err := DecodeFQN(name)
	return err == nil && EncodeFQN(fqn) == name
}

// legacyName returns the stem older tools wrote for fqn ("/" -> "__" only),
// when readers should fall back to it: it differs from the current name, and
// it is not the current name of another FQN (legacy "a__b" is also the
// current name of "a/b", whose row it must stay).
func legacyName(fqn string) (string, bool) {
	legacy := strings.ReplaceAll(fqn, "/", "__")
	if legacy == EncodeFQN(fqn) || legacy+".json" == outputFile || canonical(legacy) {
		return "", false
	}
	return legacy, true
}

// fqnFromFileStem maps a row file's stem to its FQN: the current encoding when
// the stem is canonical, else the legacy one.
func fqnFromFileStem(stem string) string {
	if fqn, err := DecodeFQN(stem); err == nil && EncodeFQN(fqn) == stem {
		return fqn
	}
	return strings.ReplaceAll(stem, "__", "/")
}
