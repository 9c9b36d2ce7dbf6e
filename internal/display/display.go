// Package display formats values for people: redacted secrets and expiry
// times. Every place that shows a secret or an expiry calls it, so the rules
// live here once.
package display

import (
	"strconv"
	"strings"
	"time"
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
