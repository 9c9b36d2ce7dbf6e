package alchemy

import (
	"strings"
	"testing"
)

func TestPhysicalName(t *testing.T) {
	id := "00112233445566778899aabbccddeeff"
	cases := []struct {
		name            string
		stack, res, stg string
		max             int
		lower           bool
		want            string
	}{
		{"stack, id, stage, 16 base32 chars", "myapp", "Photos", "live_sam", 0, false, "myapp-Photos-live-sam-aaisem2ekvthpcez"},
		{"lowercase", "MyApp", "Photos", "prod", 0, true, "myapp-photos-prod-aaisem2ekvthpcez"},
		{"stages differ", "myapp", "Photos", "prod", 0, false, "myapp-Photos-prod-aaisem2ekvthpcez"},
	}
	for _, c := range cases {
		if got := PhysicalName(c.stack, c.res, c.stg, id, c.max, c.lower); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
	// Over maxLength: cut to the limit, still ending in the instance suffix,
	// and two names that share the cut prefix stay different.
	long := strings.Repeat("VeryLongStackName", 5)
	a := PhysicalName(long, "Bucket", "prod", id, 63, true)
	b := PhysicalName(long, "Bucket", "staging", id, 63, true)
	if len(a) != 63 || !strings.HasSuffix(a, "aaisem2ekvthpcez") || a == b {
		t.Fatalf("truncated names: %q %q", a, b)
	}
	if strings.ToLower(a) != a || strings.ContainsAny(a, "_ ") {
		t.Fatalf("not sanitized: %q", a)
	}
	// Another instance (a replacement) gets another name.
	if PhysicalName("s", "r", "dev", "ffeeddccbbaa99887766554433221100", 0, false) == PhysicalName("s", "r", "dev", id, 0, false) {
		t.Fatal("two instances share a name")
	}
}
