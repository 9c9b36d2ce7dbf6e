package auth

import (
	"slices"
	"strings"
	"time"
)

// The built-in providers' credentials as the public auth package reads
// them (auth.Cloudflare, auth.AWS, auth.GitHub). Each provider's
// Credentials give their values through a method, so that reading them
// needs no import of the provider: a stack program links only the
// providers its resources use.

// CloudflareValues are Cloudflare credentials: exactly one of APIToken,
// APIKey (with Email) or OAuthToken is set.
type CloudflareValues struct {
	AccountID, APIToken, APIKey, Email, OAuthToken string
	ExpiresAt                                      time.Time
}

// AWSValues are AWS keys, the region to act in and the account once STS
// has confirmed it.
type AWSValues struct {
	AccessKeyID, SecretAccessKey, SessionToken, Region, AccountID string
	ExpiresAt                                                     time.Time
}

// CloudflareReader is implemented by the Cloudflare provider's
// credentials; ok is false for a nil pointer.
type CloudflareReader interface {
	CloudflareValues() (v CloudflareValues, ok bool)
}

// AWSReader is implemented by the AWS provider's credentials.
type AWSReader interface {
	AWSValues() (v AWSValues, ok bool)
}

// GitHubReader is implemented by the GitHub provider's credentials.
type GitHubReader interface {
	GitHubToken() (token string, ok bool)
}

// Builtin names the providers built into alchemy, in menu order.
var Builtin = []string{"Cloudflare", "AWS", "GitHub"}

var linked []Provider

// Link makes a built-in provider available to the program: each one's
// package calls it from init, so a stack program has the providers its
// resources' packages import (aws, cloudflare), and every one when it is
// built with them all (the alchemy package's providers.go).
func Link(p Provider) {
	for _, have := range linked {
		if have.Name() == p.Name() {
			return
		}
	}
	linked = append(linked, p)
	slices.SortStableFunc(linked, func(a, b Provider) int { return builtinRank(a.Name()) - builtinRank(b.Name()) })
}

func builtinRank(name string) int {
	if i := slices.Index(Builtin, name); i >= 0 {
		return i
	}
	return len(Builtin)
}

// Linked returns the providers linked into this program, in menu order.
func Linked() []Provider { return slices.Clone(linked) }

// Unlinked are the built-in providers among names that this program does
// not link, each once, in menu order.
func Unlinked(names ...string) []string {
	var out []string
	for _, b := range Builtin {
		if !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, b) }) {
			continue
		}
		if !slices.ContainsFunc(linked, func(p Provider) bool { return p.Name() == b }) {
			out = append(out, b)
		}
	}
	return out
}
