// Package display formats values for people: redacted secrets and expiry
// times. Every place that shows a secret or an expiry calls it, so the rules
// live here once.
package display

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Redact shows the first visible characters of a secret followed by "****",
// or only "****" when the secret is not longer than visible. The length is
// never revealed.
func Redact(secret string, visible int) string {
	r := []rune(secret)
	if len(r) <= visible {
		return "****"
	}
	return string(r[:visible]) + "****"
}

// Duration formats d as its non-zero components d, h, m, s, ms, ns joined by
// spaces ("59m 58s 999ms", "1h 2s"), like Effect's Duration.format, which the
// TypeScript tool prints.
func Duration(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	units := []struct {
		size time.Duration
		name string
	}{
		{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"},
		{time.Millisecond, "ms"}, {time.Nanosecond, "ns"},
	}
	var parts []string
	for _, u := range units {
		if n := d / u.size; n > 0 {
			parts = append(parts, strconv.FormatInt(int64(n), 10)+u.name)
			d -= n * u.size
		}
	}
	return strings.Join(parts, " ")
}

// ISO formats t as UTC with millisecond precision, like JavaScript's
// Date.toISOString: 2026-04-27T20:45:47.937Z.
func ISO(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// Expiry is "in <duration> (<ISO>)" or "expired (<ISO>)", computed in whole
// milliseconds as the TypeScript tool does.
func Expiry(expires, now time.Time) string {
	remaining := time.Duration(expires.UnixMilli()-now.UnixMilli()) * time.Millisecond
	if remaining <= 0 {
		return "expired (" + ISO(expires) + ")"
	}
	return "in " + Duration(remaining) + " (" + ISO(expires) + ")"
}

// Safe escapes what a terminal would interpret in a string read from a file
// (a profile name, a method, an account id in profiles.json): control
// characters (an ESC starts a sequence that can clear the screen or retitle
// the window) and the invisible format characters that reorder text. They
// are shown as \x1b, \u202e, ...; everything else is left as it is.
func Safe(s string) string {
	clean := true
	for _, r := range s {
		if unsafeRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case !unsafeRune(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError
}
