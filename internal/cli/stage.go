package cli

import (
	"fmt"
	"strings"

	"github.com/alchemy-go/alchemy/internal/envfile"
)

// Stage is the stage a command deploys and why.
type Stage struct {
	Name, Source string
}

func validStage(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !ok && (i == 0 || c != '-' && c != '_') {
			return false
		}
	}
	return true
}

// resolveStage applies --stage > ALCHEMY_STAGE > STAGE > dev_$USER >
// dev_unknown. A user name that is not a valid stage is folded to one
// (lower case, other characters as '-').
func resolveStage(flag string, flagSet bool, env envfile.Source) (Stage, error) {
	var st Stage
	switch {
	case flagSet:
		st = Stage{flag, "--stage"}
	case envfile.Get(env, "ALCHEMY_STAGE") != "":
		st = Stage{envfile.Get(env, "ALCHEMY_STAGE"), "ALCHEMY_STAGE"}
	case envfile.Get(env, "STAGE") != "":
		st = Stage{envfile.Get(env, "STAGE"), "STAGE"}
	default:
		user := envfile.Get(env, "USER")
		if user == "" {
			user = envfile.Get(env, "USERNAME")
		}
		user = strings.Map(func(r rune) rune {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
				return r
			case r >= 'A' && r <= 'Z':
				return r + 'a' - 'A'
			}
			return '-'
		}, user)
		st = Stage{"dev_" + user, "dev_$USER"}
		if user == "" || !validStage(st.Name) {
			st = Stage{"dev_unknown", "default"}
		}
	}
	if !validStage(st.Name) {
		return Stage{}, &ExitError{Code: ExitUsage, Err: fmt.Errorf("Invalid stage '%s' (from %s). Stage names must match ^[a-z0-9][-_a-z0-9]*$: start with a lowercase letter or digit, then lowercase letters, digits, '-' or '_'.", st.Name, st.Source)}
	}
	return st, nil
}
