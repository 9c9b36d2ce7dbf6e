package display

import (
	"testing"
	"time"
)

func TestRedact(t *testing.T) {
	cases := []struct {
		in      string
		visible int
		want    string
	}{
		{"", 4, "****"},
		{"abc", 4, "****"},
		{"abcd", 4, "****"}, // exactly visible: nothing shown
		{"abcde", 4, "abcd****"},
		{"ASIAXXXXXXXXXXXXXXXX", 4, "ASIA****"},
		{"v0-cf-api-token", 9, "v0-cf-api****"},
		{"123456789", 9, "****"},
		{"1234567890", 9, "123456789****"},
		{"ghp_abcdef", 6, "ghp_ab****"},
		{"ééééé", 4, "éééé****"},
	}
	for _, c := range cases {
		if got := Redact(c.in, c.visible); got != c.want {
			t.Errorf("Redact(%q, %d) = %q, want %q", c.in, c.visible, got, c.want)
		}
	}
}

func TestDuration(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want string
	}{
		{59*time.Minute + 58*time.Second + 999*time.Millisecond, "59m 58s 999ms"},
		{time.Hour + 2*time.Second, "1h 2s"},
		{3*24*time.Hour + 4*time.Hour + 5*time.Minute + 6*time.Second + 7*time.Millisecond, "3d 4h 5m 6s 7ms"},
		{time.Millisecond, "1ms"},
		{1500 * time.Nanosecond, "1500ns"},
		{0, "0"},
	}
	for _, c := range cases {
		if got := Duration(c.d); got != c.want {
			t.Errorf("Duration(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestExpiry(t *testing.T) {
	exp := time.Date(2026, 4, 27, 20, 45, 47, 937_000_000, time.UTC)
	cases := []struct {
		now  time.Time
		want string
	}{
		{exp.Add(-(59*time.Minute + 58*time.Second + 999*time.Millisecond)), "in 59m 58s 999ms (2026-04-27T20:45:47.937Z)"},
		{exp, "expired (2026-04-27T20:45:47.937Z)"},
		{exp.Add(time.Hour), "expired (2026-04-27T20:45:47.937Z)"},
		// Sub-millisecond remainders are dropped, as in JavaScript.
		{exp.Add(-time.Millisecond - 300*time.Microsecond), "in 2ms (2026-04-27T20:45:47.937Z)"},
	}
	for _, c := range cases {
		if got := Expiry(exp, c.now); got != c.want {
			t.Errorf("Expiry(now=%v) = %q, want %q", c.now, got, c.want)
		}
	}
	// Local time zones print as UTC.
	if got := ISO(exp.In(time.FixedZone("X", 3600))); got != "2026-04-27T20:45:47.937Z" {
		t.Errorf("ISO = %q", got)
	}
}
