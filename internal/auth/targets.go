package auth

import (
	"fmt"
	"strings"

	"github.com/alchemy-go/alchemy/internal/envfile"
)

// Target is one thing that decides where a deploy goes (an account, a
// region, an AWS CLI profile) as resolved credentials use it, with the
// variables that can also name it. A profile's stored method ignores those
// variables, so a CLOUDFLARE_ACCOUNT_ID pointing elsewhere used to be
// silently outranked (the TypeScript tool's #1083: a deploy that went to
// the wrong account and reported success).
type Target struct {
	// Vars can name it; the first one set counts (AWS_REGION before
	// AWS_DEFAULT_REGION).
	Vars []string
	// What it is: "account", "region", "AWS profile".
	What string
	// Value is what the credentials use, "" when they use no such thing at
	// all (stored access keys use no AWS profile).
	Value string
	// Origin says where Value comes from: "stored with its API token".
	Origin string
	// Method is the method that makes the profile follow the variable.
	Method string
}

// Targeted is implemented by credentials that can say where they deploy.
// Credentials read from the environment return none: the variables are
// what they use.
type Targeted interface {
	Targets() []Target
}

// Disagreements are the warnings for the variables that name another
// target than creds (provider's, resolved for profileName) use: both
// values, the one used, and how to choose the other. One line each.
func Disagreements(env *envfile.Env, profileName, provider string, creds Credentials) []string {
	t, ok := creds.(Targeted)
	if !ok {
		return nil
	}
	var out []string
	for _, tg := range t.Targets() {
		name, val := "", ""
		for _, v := range tg.Vars {
			if s := envfile.Get(env, v); s != "" {
				name, val = v, s
				break
			}
		}
		// Account ids are compared case-insensitively: Cloudflare's are
		// hex, and alchemy stores them lower-case.
		if name == "" || strings.EqualFold(val, tg.Value) {
			continue
		}
		where := "in the environment"
		if env.Layers(name).FromFile() {
			where = "in " + env.File
		}
		login := fmt.Sprintf("alchemy login --profile %s --provider %s --method %s", profileName, provider, tg.Method)
		if tg.Value == "" {
			out = append(out, fmt.Sprintf("%s: %s %s is %s, but profile '%s' uses no %s (%s): this run ignores %s. To use %s %s, pass --profile <name> of a profile that uses it, or run `%s`; to keep the profile's credentials, unset %s.",
				provider, name, where, val, profileName, tg.What, tg.Origin, name, tg.What, val, login, name))
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s %s is %s, but profile '%s' uses %s %s (%s): this run uses %s. To use %s instead, pass --profile <name> of a profile that uses it, or run `%s`; to keep %s, unset %s.",
			provider, name, where, val, profileName, tg.What, tg.Value, tg.Origin, tg.Value, val, login, tg.Value, name))
	}
	return out
}
