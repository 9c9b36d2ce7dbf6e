package profile

import "fmt"

// matches reports whether s matches ^[A-Za-z0-9][A-Za-z0-9._-]{0,max-1}$.
// It is written out rather than a regexp: the counted repetition compiles to
// a program large enough to show in every command's start-up time.
func matches(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}

// InvalidNameError rejects a profile name that could escape the home
// directory or was never meant to be a name (an unexpanded shell default such
// as ${ALCHEMY_PROFILE:-default} has reached production before).
type InvalidNameError struct{ Name string }

func (e *InvalidNameError) Error() string {
	return fmt.Sprintf("Invalid profile name '%s'. Profile names must start with an ASCII letter or number, contain only letters, numbers, '.', '_' or '-', and be at most 64 characters.", e.Name)
}

// ValidateName returns an *InvalidNameError for names outside
// ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$.
func ValidateName(name string) error {
	if !matches(name, 64) {
		return &InvalidNameError{Name: name}
	}
	return nil
}

func validateKey(key string) error {
	if !matches(key, 128) {
		return fmt.Errorf("Invalid credential key '%s'.", key)
	}
	return nil
}
