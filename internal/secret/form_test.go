package secret

import "testing"

func TestFormOf(t *testing.T) {
	c := New("", t.TempDir())
	hashed, _ := c.Seal(Where{Stack: "a", Stage: "b", FQN: "c", Prop: "d"}, "v")
	enc, _ := New("pw", t.TempDir()).Seal(Where{}, "v")
	for _, x := range []struct {
		v    any
		want Form
	}{
		{"v", NotSealed},
		{map[string]any{"a": 1}, NotSealed},
		{hashed, Hashed},
		{map[string]any{RedactedMarker: "sha256:00"}, Hashed},
		{enc, Encrypted},
		{map[string]any{legacyMarker: map[string]any{"version": "v1"}}, Encrypted},
		{map[string]any{RedactedMarker: "in clear"}, Clear},
		{map[string]any{RedactedMarker: map[string]any{"k": "v"}}, Clear},
	} {
		if got := FormOf(x.v); got != x.want {
			t.Errorf("FormOf(%v) = %d, want %d", x.v, got, x.want)
		}
	}
}
