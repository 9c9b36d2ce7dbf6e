package auth

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/alchemy-go/alchemy/internal/display"
	"github.com/alchemy-go/alchemy/internal/envfile"
	"github.com/alchemy-go/alchemy/internal/profile"
)

// This file answers "why this credential?" (`alchemy profile show
// --explain`): how the profile was chosen, and for each provider every
// source considered in order (the process environment, the dotenv file, the
// profile's entry, its stored files, the AWS config chain), which one wins,
// what it shadows, and where each value comes from.
//
// It explains; it does not resolve. Nothing here calls an API, refreshes a
// token, or runs a helper program: an explanation that refreshed would spend
// single-use refresh tokens and change what it describes, and one that
// needed the network would fail exactly when someone is trying to find out
// what is wrong. Secret values are never read into anything shown: only
// their names and where they come from.

// Statuses of a considered source.
const (
	StatusUsed       = "used"
	StatusIgnored    = "ignored"
	StatusShadowed   = "shadowed"
	StatusOverridden = "overridden"
	StatusNotSet     = "not set"
	StatusMissing    = "missing"
	StatusNotNeeded  = "not needed"
)

// Layers of a considered source.
const (
	LayerFlag        = "flag"
	LayerEnvironment = "environment"
	LayerEnvFile     = "env-file"
	LayerProfile     = "profile"
	LayerStored      = "stored"
	LayerDefault     = "default"
	// LayerExternal is a file or program of another tool: the AWS config
	// chain, the AWS CLI's SSO cache, the GitHub CLI.
	LayerExternal = "external"
)

// Explaining is what a provider may look at to explain itself: the
// profile's files and the variables with their layers.
type Explaining struct {
	Profile string
	Store   *profile.Store
	Env     *envfile.Env
	// Home is the user's home directory: paths under it are shown with ~.
	Home string
	Now  func() time.Time
}

// Path is p as shown: under the home directory, with ~.
func (x *Explaining) Path(p string) string {
	if x.Home == "" {
		return p
	}
	rel, err := filepath.Rel(x.Home, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return p
	}
	return filepath.Join("~", rel)
}

// SecretFile is the shown path of one of the profile's secret files.
func (x *Explaining) SecretFile(key string) string {
	return x.Path(x.Store.SecretFile(x.Profile, key))
}

// ReadSecret decodes one of the profile's secret files into v. Decode into
// fields that are not secrets (a type, an account id, an expiry) and
// Present: what is not kept cannot be shown by mistake.
func (x *Explaining) ReadSecret(key string, v any) (bool, error) {
	return x.Store.ReadSecret(x.Profile, key, v)
}

// StoredFile reads one of the profile's secret files into v (see
// ReadSecret) and says so as a source: used, missing or unreadable. problem
// is "" when the file can be used, else what fails, missing when the file
// is not there.
func (x *Explaining) StoredFile(key string, v any, missing string) (file Considered, problem string) {
	file = Considered{Source: x.SecretFile(key), Layer: LayerStored, Status: StatusUsed}
	found, err := x.ReadSecret(key, v)
	switch {
	case err != nil:
		file.Status, file.Why = StatusIgnored, err.Error()
		return file, err.Error()
	case !found:
		file.Status = StatusMissing
		return file, missing
	}
	return file, ""
}

// UnknownMethod is the Use of a method this build of the provider does not
// know (written by a newer alchemy, or by hand).
func (x *Explaining) UnknownMethod(provider, method string) Use {
	return Use{Problem: fmt.Sprintf("the method '%s' is not one this version of alchemy knows. Run `alchemy login --profile %s --provider %s --configure`", method, x.Profile, provider)}
}

// Get is the value a provider reads for key (the environment before the
// dotenv file).
func (x *Explaining) Get(key string) string { return envfile.Get(x.Env, key) }

// From says where the value of key comes from ("CLOUDFLARE_API_TOKEN in the
// environment", "CLOUDFLARE_ACCOUNT_ID in .env"), "" when it is not set.
func (x *Explaining) From(key string) string {
	l := x.Env.Layers(key)
	switch {
	case l.FromProcess():
		return key + " in the environment"
	case l.FromFile():
		return key + " in " + x.Env.File
	}
	return ""
}

// ProfileUses is the reason a variable is ignored: "profile 'prod' uses
// <what>".
func (x *Explaining) ProfileUses(format string, args ...any) string {
	return fmt.Sprintf("profile '%s' uses ", x.Profile) + fmt.Sprintf(format, args...)
}

// Present decodes any JSON value as whether it is set, keeping nothing of
// it: an explanation needs to know that a secret is there, never what it is.
type Present bool

func (p *Present) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	*p = Present(s != `""` && s != "null")
	return nil
}

// Explainer is implemented by providers that can say where their
// credentials would come from, from files and variables alone.
type Explainer interface {
	// Variables are the environment variables the provider reads, in the
	// order it reads them.
	Variables() []Variable
	// Explain says what the method of e takes, and from where. It must not
	// call an API, refresh anything or run a program.
	Explain(x *Explaining, e profile.Entry) Use
}

// Variable is one environment variable a provider reads.
type Variable struct {
	Name string
	// Secret variables never have their value shown.
	Secret bool
}

// Use is what one method of a provider takes, and from where.
type Use struct {
	// Summary names the credentials: "the API token stored for profile 'prod'".
	Summary string
	// Reads are the variables the method reads, from either layer;
	// ProcessOnly those it reads from the process environment alone (an
	// SDK's own loader, a helper program that inherits it).
	Reads, ProcessOnly []string
	// Instead says, for a variable the method does not read, why: usually
	// what it uses in its place (x.ProfileUses("its stored API token")).
	Instead map[string]string
	// Files are the files or programs the method reads, in order.
	Files []Considered
	// Values say where each value it uses comes from.
	Values []Provenance
	// Problem is what would fail now (a missing file or variable), with
	// the command that fixes it.
	Problem string
}

// Considered is one source considered, in a profile's selection or a
// provider's resolution.
type Considered struct {
	// Source names it: a variable, "--profile", a file's shown path, "the
	// Cloudflare entry of profile 'prod'".
	Source string `json:"source"`
	Layer  string `json:"layer"`
	// Where is the file it is in, when Source is not a path itself.
	Where string `json:"where,omitempty"`
	// Value is shown for what is not secret (a profile name, an account
	// id, a region), "" otherwise.
	Value  string `json:"value,omitempty"`
	Status string `json:"status"`
	Why    string `json:"why,omitempty"`
}

// Provenance is where one value of the credentials comes from.
type Provenance struct {
	Name string `json:"name"`
	// Value is "" for secrets.
	Value  string `json:"value,omitempty"`
	Secret bool   `json:"secret,omitempty"`
	From   string `json:"from"`
}

// ProviderExplanation is one provider's part of the explanation.
type ProviderExplanation struct {
	Provider string `json:"provider"`
	// Method is the method that would be used, "" when none.
	Method  string       `json:"method,omitempty"`
	Uses    string       `json:"uses,omitempty"`
	Why     string       `json:"why"`
	Sources []Considered `json:"sources"`
	Values  []Provenance `json:"values"`
	Problem string       `json:"problem,omitempty"`
}

// Explanation is the whole of `profile show --explain`.
type Explanation struct {
	Profile      string       `json:"profile"`
	SelectedBy   string       `json:"selectedBy"`
	Selection    []Considered `json:"selection"`
	ProfilesFile string       `json:"profilesFile"`
	Exists       bool         `json:"exists"`
	// EnvOnly is CI without an explicit profile: every provider reads its
	// environment variables.
	EnvOnly   bool                  `json:"envOnly"`
	Mode      string                `json:"mode"`
	Providers []ProviderExplanation `json:"providers"`
}

// Explain explains the selection sel and, for each provider of the profile
// and each provider of reg whose variables are set, where its credentials
// would come from. envOnly is CI without an explicit profile.
func Explain(x *Explaining, reg *Registry, cfg *profile.Config, sel profile.Selection, envOnly bool) *Explanation {
	p, exists := cfg.Profiles[sel.Name]
	ex := &Explanation{Profile: sel.Name, SelectedBy: sel.Source, Selection: explainSelection(x, sel),
		ProfilesFile: x.Path(x.Store.EntryFile(sel.Name, "")), Exists: exists, EnvOnly: envOnly, Providers: []ProviderExplanation{}}
	switch {
	case envOnly:
		ex.Mode = fmt.Sprintf("CI is set and neither --profile nor ALCHEMY_PROFILE chose a profile: deploy, plan, destroy and dev read each provider's environment variables, not the entries of profile '%s'.", sel.Name)
	case !exists:
		ex.Mode = fmt.Sprintf("Profile '%s' is not in %s: the first deploy in a terminal creates it, asking how to sign in to each provider the stack uses.", sel.Name, ex.ProfilesFile)
	case envfile.Bool(x.Env, "CI"):
		ex.Mode = fmt.Sprintf("CI is set, but %s chose the profile, so deploy, plan, destroy and dev use each provider's entry in profile '%s' (%s).", sel.Source, sel.Name, ex.ProfilesFile)
	default:
		ex.Mode = fmt.Sprintf("deploy, plan, destroy and dev use each provider's entry in profile '%s' (%s).", sel.Name, ex.ProfilesFile)
	}
	names := p.Providers()
	for _, prov := range reg.All() {
		if _, ok := p[prov.Name()]; !ok && anySet(x, prov) {
			names = append(names, prov.Name())
		}
	}
	sort.Strings(names)
	for _, name := range names {
		ex.Providers = append(ex.Providers, explainProvider(x, reg, name, p[name], envOnly))
	}
	return ex
}

// explainSelection lists every candidate of the profile selection
// (profile.Select's order) and what became of it; sel is what won.
func explainSelection(x *Explaining, sel profile.Selection) []Considered {
	flagSet := sel.Source == "--profile"
	flag := Considered{Source: "--profile", Layer: LayerFlag, Status: StatusNotSet}
	if flagSet {
		flag.Value, flag.Status = sel.Name, StatusUsed
	}
	out := []Considered{flag}
	l := x.Env.Layers("ALCHEMY_PROFILE")
	proc := Considered{Source: "ALCHEMY_PROFILE", Layer: LayerEnvironment, Value: l.Process, Status: StatusUsed}
	switch {
	case l.Process == "":
		proc.Status = StatusNotSet
	case flagSet:
		proc.Status, proc.Why = StatusOverridden, "--profile comes first"
	}
	out = append(out, proc)
	if x.Env.File != "" {
		file := Considered{Source: "ALCHEMY_PROFILE", Layer: LayerEnvFile, Where: x.Env.File, Value: l.File, Status: StatusUsed}
		switch {
		case !l.InFile || l.File == "":
			file.Status = StatusNotSet
		case l.Process != "":
			file.Status, file.Why = StatusShadowed, "the environment comes first"
		case flagSet:
			file.Status, file.Why = StatusOverridden, "--profile comes first"
		}
		out = append(out, file)
	}
	def := Considered{Source: "built-in default", Layer: LayerDefault, Value: profile.DefaultName, Status: StatusNotNeeded}
	if !sel.Explicit() {
		def.Status = StatusUsed
	}
	return append(out, def)
}

func anySet(x *Explaining, p Provider) bool {
	xp, ok := p.(Explainer)
	if !ok {
		return false
	}
	for _, v := range xp.Variables() {
		if l := x.Env.Layers(v.Name); l.Process != "" || l.InFile {
			return true
		}
	}
	return false
}

func explainProvider(x *Explaining, reg *Registry, name string, e profile.Entry, envOnly bool) ProviderExplanation {
	pe := ProviderExplanation{Provider: name, Sources: []Considered{}, Values: []Provenance{}}
	prov, err := reg.Get(name)
	if err != nil || prov.Name() != name {
		pe.Method = e.Method()
		pe.Why = "this version of alchemy does not know this provider; its entry is kept as it is"
		return pe
	}
	xp, ok := prov.(Explainer)
	if !ok {
		pe.Method = e.Method()
		pe.Why = "this provider does not describe its sources"
		return pe
	}
	entry := Considered{Source: fmt.Sprintf("the %s entry of profile '%s'", name, x.Profile), Layer: LayerProfile,
		Where: x.Path(x.Store.EntryFile(x.Profile, name))}
	noUse := fmt.Sprintf("profile '%s' has no %s entry", x.Profile, name)
	var use *Use
	switch {
	case envOnly:
		env, _ := profile.NewEntry(map[string]string{"method": "env"})
		u := xp.Explain(x, env)
		use, pe.Method = &u, "env"
		pe.Why = "CI is set and no profile was chosen (--profile, ALCHEMY_PROFILE): every provider reads its environment variables"
		entry.Status, entry.Why = StatusIgnored, "CI without an explicit profile reads environment variables only"
	case e == nil:
		pe.Why = fmt.Sprintf("%s: a deploy that needs %s asks how to sign in when run in a terminal, and fails without one. Run `alchemy login --profile %s --provider %s --method env` to use the variables", noUse, name, x.Profile, name)
		entry.Status = StatusMissing
	default:
		u := xp.Explain(x, e)
		use, pe.Method = &u, e.Method()
		entry.Status = StatusUsed
		if pe.Method == "env" {
			pe.Why = fmt.Sprintf("profile '%s' chooses the env method: each variable is read from the environment first, then from the env file", x.Profile)
		} else {
			pe.Why = fmt.Sprintf("profile '%s' chooses the %s method, and the method decides what is read: alchemy reads these variables only with the env method", x.Profile, pe.Method)
		}
	}
	pe.Sources = variableSources(x, xp.Variables(), use, noUse)
	if e != nil {
		entry.Value = "method " + e.Method()
		pe.Sources = append(pe.Sources, entry)
	} else if !envOnly {
		pe.Sources = append(pe.Sources, entry)
	}
	if use != nil {
		pe.Uses, pe.Problem = use.Summary, use.Problem
		pe.Sources = append(pe.Sources, use.Files...)
		pe.Values = append(pe.Values, use.Values...)
	}
	return pe
}

// variableSources lists each set variable of a provider, the process
// environment's first and then the env file's, and what became of it. use
// is nil when the provider is not used at all (noUse says why).
func variableSources(x *Explaining, vars []Variable, use *Use, noUse string) []Considered {
	var proc, file []Considered
	for _, v := range vars {
		l := x.Env.Layers(v.Name)
		shown := func(s string) string {
			if v.Secret {
				return ""
			}
			return s
		}
		if l.Process != "" {
			c := Considered{Source: v.Name, Layer: LayerEnvironment, Value: shown(l.Process), Status: StatusUsed}
			if use == nil || (!slices.Contains(use.Reads, v.Name) && !slices.Contains(use.ProcessOnly, v.Name)) {
				c.Status, c.Why = StatusIgnored, ignoredWhy(use, v.Name, noUse)
			}
			proc = append(proc, c)
		}
		if l.InFile {
			c := Considered{Source: v.Name, Layer: LayerEnvFile, Where: x.Env.File, Value: shown(l.File), Status: StatusUsed}
			switch {
			case l.Protected:
				c.Status, c.Why = StatusIgnored, "a project file may not set it; only the environment can"
			case use != nil && slices.Contains(use.ProcessOnly, v.Name):
				c.Status, c.Why = StatusIgnored, "it is read from the process environment only"
				if why := use.Instead[v.Name]; why != "" {
					c.Why += "; " + why
				}
			case use == nil || !slices.Contains(use.Reads, v.Name):
				c.Status, c.Why = StatusIgnored, ignoredWhy(use, v.Name, noUse)
			case l.Process != "":
				c.Status, c.Why = StatusShadowed, "the environment sets it too, and the environment comes first"
			}
			file = append(file, c)
		}
	}
	return append(proc, file...)
}

func ignoredWhy(use *Use, name, noUse string) string {
	if use == nil {
		return noUse
	}
	if why := use.Instead[name]; why != "" {
		return why
	}
	return "this method does not read it"
}

// RenderExplanation prints an explanation, one fact a line. Everything read
// from files and variables goes through display.Safe: a project's .env is
// written by someone else.
func RenderExplanation(w io.Writer, ex *Explanation) {
	line := func(indent, s string) { fmt.Fprintf(w, "%s%s\n", indent, display.Safe(s)) }
	line("", fmt.Sprintf("Profile: %s (chosen by %s)", ex.Profile, ex.SelectedBy))
	for _, c := range ex.Selection {
		line("  - ", c.String())
	}
	line("  ", ex.Mode)
	for _, p := range ex.Providers {
		line("\n", "── "+p.Provider+" ──")
		if p.Uses != "" {
			line("  uses: ", p.Uses)
		}
		line("  why: ", p.Why)
		if len(p.Sources) > 0 {
			line("  ", "sources, in order:")
			for _, c := range p.Sources {
				line("    - ", c.String())
			}
		}
		if len(p.Values) > 0 {
			line("  ", "values:")
			for _, v := range p.Values {
				line("    - ", v.String())
			}
		}
		if p.Problem != "" {
			line("  problem: ", p.Problem)
		}
	}
}

// String is the source as one line: "CLOUDFLARE_API_TOKEN in the
// environment is ignored: profile 'prod' uses its stored API token".
func (c Considered) String() string {
	s := c.Source
	switch c.Layer {
	case LayerEnvironment:
		s += " in the environment"
	case LayerEnvFile:
		s += " in " + c.Where
	default:
		if c.Where != "" {
			s += " in " + c.Where
		}
	}
	if c.Value != "" {
		s += " (" + c.Value + ")"
	}
	s += " is " + c.Status
	if c.Why != "" {
		s += ": " + c.Why
	}
	return s
}

// String is the value as one line: "accountId: 0123…, from
// CLOUDFLARE_ACCOUNT_ID in .env", "apiToken: secret, from <file>".
func (v Provenance) String() string {
	value := v.Value
	if v.Secret {
		value = "secret"
	}
	return v.Name + ": " + value + ", from " + v.From
}
