package suggest

import (
	"slices"
	"testing"
)

func TestClosest(t *testing.T) {
	names := []string{"cfreal", "default", "dev", "prod", "production", "staging", "Work"}
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"cfrael", []string{"cfreal"}},                // a swap is one edit
		{"defualt", []string{"default"}},              // a swap
		{"defalt", []string{"default"}},               // a letter missing
		{"prd", []string{"prod"}},                     // one edit; "dev" is two, too many for short names
		{"prodution", []string{"production", "prod"}}, // closest first
		{"prod-eu", []string{"prod", "production"}},   // a shared start
		{"pro", []string{"prod", "production"}},       // prefix
		{"stage", []string{"staging"}},                // two edits
		{"work", []string{"Work"}},                    // case
		{"de", []string{"dev"}},
		{"zzz", nil},
		{"staging", nil}, // itself is not a suggestion
		{"qa", nil},
	} {
		if got := Closest(tc.name, names); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("Closest(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"abc", "abc", 0}, {"abc", "acb", 1}, {"kitten", "sitting", 3}, {"ca", "abc", 3},
	} {
		if got := distance(tc.a, tc.b); got != tc.want {
			t.Errorf("distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
