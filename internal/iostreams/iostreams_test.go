package iostreams_test

import (
	"testing"

	"github.com/alchemy-go/alchemy/internal/iostreams"
)

// CI set to a true value makes output plain and prompts impossible; CI set
// to a false value (what some runners and shells export outside CI) is not
// CI, as for credentials.
func TestCIValues(t *testing.T) {
	for _, c := range []struct {
		ci   string
		isCI bool
	}{
		{"", false}, {"false", false}, {"FALSE", false}, {"0", false}, {"no", false}, {"off", false},
		{"1", true}, {"true", true}, {"yes", true}, {"woodpecker", true},
	} {
		s, _, _, _ := iostreams.Test()
		s.SetTTY(true, true, true)
		s.SetGetenv(func(k string) string {
			if k == "CI" {
				return c.ci
			}
			return ""
		})
		if got := s.CanPrompt(); got == c.isCI {
			t.Errorf("CI=%q: CanPrompt() = %v", c.ci, got)
		}
		if got := s.Plain(); got != c.isCI {
			t.Errorf("CI=%q: Plain() = %v", c.ci, got)
		}
		if got := s.Color(false); got == c.isCI {
			t.Errorf("CI=%q: Color() = %v", c.ci, got)
		}
	}
}
