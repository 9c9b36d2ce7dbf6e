package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"sync"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/envfile"
	"github.com/alchemy-go/alchemy/internal/profile"
)

// envOnly is CI without an explicit profile (--profile, ALCHEMY_PROFILE):
// each provider then reads its env method and no profile entry is used.
// The seed's CI pairing is `alchemy deploy --stage prod --profile prod`, so
// an explicit profile keeps its entries under CI.
func (s *session) envOnly() bool {
	return envfile.Bool(s.Env, "CI") && !s.Sel.Explicit()
}

// explain is `profile show --explain`: how the profile was chosen and where
// each provider's credentials would come from, from files and variables
// alone (auth.Explain calls no API and refreshes nothing).
func explain(f *Factory, s *session, cfg *profile.Config, asJSON bool) error {
	home, _ := os.UserHomeDir()
	x := &auth.Explaining{Profile: s.Sel.Name, Store: s.Store, Env: s.Env, Home: home, Now: f.Now}
	ex := auth.Explain(x, f.Registry(), cfg, s.Sel, s.envOnly())
	if asJSON {
		return writeJSON(f, ex)
	}
	auth.RenderExplanation(f.IO.Out, ex)
	return nil
}

// warnDisagreements makes the resolver check each provider's credentials,
// once per run, against the variables that name an account, region or AWS
// profile: a stored profile silently outranking CLOUDFLARE_ACCOUNT_ID sent
// the TypeScript tool's deploys to the wrong account (its #1083). Under
// envOnly the variables are what is used, so nothing can disagree.
func (f *Factory) warnDisagreements(s *session, r *auth.Resolver) {
	if s.envOnly() {
		return
	}
	r.OnResolved(func(provider string, creds auth.Credentials) {
		for _, w := range auth.Disagreements(s.Env, s.Sel.Name, provider, creds) {
			f.warnOncePerSession(w)
		}
	})
}

// devNoticesEnv names the shared file (newShared, a program's descriptor
// 5) in which an `alchemy dev` session records the warnings its cycles
// printed. Each cycle is a deploy process of its own; without it every
// cycle would repeat the same warning.
const devNoticesEnv = "ALCHEMY_DEV_NOTICES"

// programNotices is that file in a deploy run by `alchemy dev`, claimed at
// package init; nil otherwise.
var programNotices = claimShared(os.Getenv(devNoticesEnv))

var noticesMu sync.Mutex

// warnOncePerSession warns, unless this dev session already did.
func (f *Factory) warnOncePerSession(msg string) {
	if saidInSession(msg) {
		return
	}
	f.IO.Warn(msg)
	noteInSession(msg)
}

// saidInSession reports whether this dev session's notices hold msg (as
// a hash, one a line, not the message). Outside dev, false.
func saidInSession(msg string) bool {
	if programNotices == nil {
		return false
	}
	noticesMu.Lock()
	defer noticesMu.Unlock()
	data, err := readShared(programNotices)
	return err == nil && strings.Contains(string(data), noticeKey(msg))
}

// noteInSession records msg in this dev session's notices.
func noteInSession(msg string) {
	if programNotices == nil {
		return
	}
	noticesMu.Lock()
	defer noticesMu.Unlock()
	if fi, err := programNotices.Stat(); err == nil {
		programNotices.WriteAt([]byte(noticeKey(msg)+"\n"), fi.Size())
	}
}

func noticeKey(msg string) string {
	sum := sha256.Sum256([]byte(msg))
	return hex.EncodeToString(sum[:])
}
