package profile

import "github.com/alchemy-go/alchemy/internal/envfile"

// DefaultName is the profile used when nothing selects another.
const DefaultName = "default"

// Selection is the profile a command uses and why.
type Selection struct {
	Name string
	// Source says what chose the name: "--profile", "ALCHEMY_PROFILE in <file>",
	// "ALCHEMY_PROFILE" or "built-in default".
	Source string
}

// Select applies the precedence --profile > ALCHEMY_PROFILE (the process
// environment before the dotenv file) > "default". flagSet distinguishes an omitted flag from an
// explicit one: an omitted flag must never shadow ALCHEMY_PROFILE (the
// upstream tool's flag default did exactly that).
func Select(flag string, flagSet bool, env *envfile.Env) (Selection, error) {
	sel := Selection{Name: DefaultName, Source: "built-in default"}
	switch {
	case flagSet:
		sel = Selection{Name: flag, Source: "--profile"}
	case env != nil:
		if v, ok := env.Lookup("ALCHEMY_PROFILE"); ok && v != "" {
			sel = Selection{Name: v, Source: "ALCHEMY_PROFILE"}
			if env.FromFile("ALCHEMY_PROFILE") {
				sel.Source = "ALCHEMY_PROFILE in " + env.File
			}
		}
	}
	if err := ValidateName(sel.Name); err != nil {
		return Selection{}, err
	}
	return sel, nil
}

// Explicit reports whether something chose the profile (a flag or
// ALCHEMY_PROFILE), rather than the built-in default.
func (s Selection) Explicit() bool { return s.Source != "built-in default" }
