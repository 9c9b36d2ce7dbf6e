package profile

import (
	"fmt"
	"regexp"
)

var (
	nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	keyRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
)

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
	if !nameRE.MatchString(name) {
		return &InvalidNameError{Name: name}
	}
	return nil
}

func validateKey(key string) error {
	if !keyRE.MatchString(key) {
		return fmt.Errorf("Invalid credential key '%s'.", key)
	}
	return nil
}
