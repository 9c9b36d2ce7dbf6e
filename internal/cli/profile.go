package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/display"
	"github.com/alchemy-go/alchemy/internal/profile"
	"github.com/alchemy-go/alchemy/internal/suggest"
)

func newCmdProfile(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profile",
		Short: "Show, list and clear profiles (named bundles of cloud credentials)",
	}
	cmd.AddCommand(
		NewCmdProfileShow(f, nil),
		NewCmdProfileList(f, nil),
		NewCmdProfileClear(f, nil),
		newCmdProfileEnv(f),
		newCmdProfileExec(f),
	)
	return cmd
}

// ProfileShowOptions are the inputs of `alchemy profile show`.
type ProfileShowOptions struct {
	F       *Factory
	Flags   ProfileFlags
	JSON    bool
	Explain bool
}

// NewCmdProfileShow builds `alchemy profile show`.
func NewCmdProfileShow(f *Factory, runF func(*ProfileShowOptions) error) *cobra.Command {
	opts := &ProfileShowOptions{F: f}
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show what a profile stores, secrets redacted",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return profileShowRun(c.Context(), opts)
		},
	}
	opts.Flags.register(cmd)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Print the same facts as JSON (secrets redacted the same way)")
	cmd.Flags().BoolVar(&opts.Explain, "explain", false, "Explain how the profile was chosen and, for each provider, every source considered, which one wins and why, what it shadows, and where each value comes from (names only, never secrets; calls no API and refreshes nothing)")
	return cmd
}

type showJSON struct {
	Profile    string              `json:"profile"`
	SelectedBy string              `json:"selectedBy"`
	Exists     bool                `json:"exists"`
	Available  []string            `json:"available,omitempty"`
	DidYouMean []string            `json:"didYouMean,omitempty"`
	Providers  []auth.JSONProvider `json:"providers"`
}

func profileShowRun(ctx context.Context, opts *ProfileShowOptions) error {
	s, err := opts.F.session(&opts.Flags)
	if err != nil {
		return err
	}
	cfg, err := s.Store.Load()
	if err != nil {
		return err
	}
	if opts.Explain {
		return explain(opts.F, s, cfg, opts.JSON)
	}
	io, name := opts.F.IO, s.Sel.Name
	p, exists := cfg.Profiles[name]
	if opts.JSON {
		out := showJSON{Profile: name, SelectedBy: s.Sel.Source, Exists: exists, Providers: []auth.JSONProvider{}}
		if exists {
			out.Providers = auth.JSONViews(auth.Describe(ctx, s.Auth, opts.F.Registry(), p), opts.F.Now())
		} else {
			// The document still says so, for scripts; the exit code is 1.
			out.Available = cfg.Names()
			out.DidYouMean = suggest.Closest(name, out.Available)
		}
		if err := writeJSON(opts.F, out); err != nil || exists {
			return err
		}
	}
	if !exists {
		return s.profileError(cfg)
	}
	auth.RenderText(io.Out, io.ErrOut, name, auth.Describe(ctx, s.Auth, opts.F.Registry(), p))
	return nil
}

func writeJSON(f *Factory, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	f.IO.Printf("%s\n", b)
	return nil
}

// ProfileListOptions are the inputs of `alchemy profile list`.
type ProfileListOptions struct {
	F     *Factory
	Flags ProfileFlags
	JSON  bool
}

// NewCmdProfileList builds `alchemy profile list`.
func NewCmdProfileList(f *Factory, runF func(*ProfileListOptions) error) *cobra.Command {
	opts := &ProfileListOptions{F: f}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List profiles, their providers, and which one is selected and why",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return profileListRun(opts)
		},
	}
	opts.Flags.register(cmd)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Print as JSON")
	return cmd
}

type listJSON struct {
	Selected   string        `json:"selected"`
	SelectedBy string        `json:"selectedBy"`
	Profiles   []listProfile `json:"profiles"`
}

type listProfile struct {
	Name      string            `json:"name"`
	Selected  bool              `json:"selected"`
	Providers map[string]string `json:"providers"`
	// SignedOut are the providers `alchemy logout` signed out: their
	// method is kept, their secrets are gone.
	SignedOut []string `json:"signedOut,omitempty"`
}

func profileListRun(opts *ProfileListOptions) error {
	s, err := opts.F.session(&opts.Flags)
	if err != nil {
		return err
	}
	cfg, err := s.Store.Load()
	if err != nil {
		return err
	}
	io := opts.F.IO
	if opts.JSON {
		out := listJSON{Selected: s.Sel.Name, SelectedBy: s.Sel.Source, Profiles: []listProfile{}}
		for _, name := range cfg.Names() {
			lp := listProfile{Name: name, Selected: name == s.Sel.Name, Providers: map[string]string{}}
			for prov, e := range cfg.Profiles[name] {
				lp.Providers[prov] = e.Method()
			}
			lp.SignedOut = signedOut(s.Store, opts.F.Registry(), name, cfg.Profiles[name])
			out.Profiles = append(out.Profiles, lp)
		}
		return writeJSON(opts.F, out)
	}
	names := cfg.Names()
	if len(names) == 0 {
		io.Printf("No profiles configured. Run `alchemy login`.\n")
	} else {
		io.Printf("Profiles (%d)\n", len(names))
	}
	anyOut := false
	for _, name := range names {
		mark := "-"
		if name == s.Sel.Name {
			mark = "*"
		}
		p := cfg.Profiles[name]
		out := signedOut(s.Store, opts.F.Registry(), name, p)
		var provs []string
		for _, prov := range p.Providers() {
			state := p[prov].Method()
			if slices.Contains(out, prov) {
				state += ", signed out"
				anyOut = true
			}
			provs = append(provs, fmt.Sprintf("%s (%s)", display.Safe(prov), display.Safe(state)))
		}
		if len(provs) == 0 {
			provs = []string{"(no providers configured)"}
		}
		io.Printf("%s %s: %s\n", mark, display.Safe(name), strings.Join(provs, ", "))
	}
	if anyOut {
		io.Printf("\nSigned out: the method is kept and its secrets are gone. `alchemy login --profile <name>` signs in again.\n")
	}
	if _, ok := cfg.Profiles[s.Sel.Name]; ok {
		io.Printf("\nSelected: %s (%s)\n", s.Sel.Name, s.Sel.Source)
	} else {
		io.Printf("\nSelected: %s (%s), not configured yet. Run `alchemy login --profile %s` to set it up.\n", s.Sel.Name, s.Sel.Source, s.Sel.Name)
		if dym := didYouMean(s.Sel.Name, cfg); dym != "" {
			io.Printf("Did you mean %s?\n", dym)
		}
	}
	return nil
}

// signedOut names the providers of a profile that `alchemy logout` signed
// out: their method keeps secrets (a stored key, an OAuth grant) and none is
// left. Methods without secrets of their own (env, sso, gh-cli) never are.
func signedOut(store *profile.Store, reg *auth.Registry, name string, p profile.Profile) []string {
	var out []string
	for _, prov := range p.Providers() {
		pr, err := reg.Get(prov)
		if err != nil {
			continue // a provider of a stack this binary does not have
		}
		keys := pr.SecretKeys(p[prov])
		left := len(keys) == 0
		for _, k := range keys {
			var raw json.RawMessage
			if found, err := store.ReadSecret(name, k, &raw); err != nil || found {
				left = true // unreadable is not signed out: show says why
			}
		}
		if !left {
			out = append(out, prov)
		}
	}
	return out
}

// ProfileClearOptions are the inputs of `alchemy profile clear`.
type ProfileClearOptions struct {
	F     *Factory
	Flags ProfileFlags
	Yes   bool
}

// NewCmdProfileClear builds `alchemy profile clear`.
func NewCmdProfileClear(f *Factory, runF func(*ProfileClearOptions) error) *cobra.Command {
	opts := &ProfileClearOptions{F: f}
	cmd := &cobra.Command{
		Use:   "clear",
		Short: "Remove a profile and all its stored credentials, revoking its OAuth grants",
		Long: `Remove a profile and all its stored credentials, revoking its OAuth grants.

It asks first on a terminal; --yes answers for it. Without a terminal and without --yes nothing
is removed (exit 2). A profile that does not exist is an error (exit 1).`,
		Example: `  alchemy profile clear --profile old
  alchemy profile clear --profile ci --yes`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return profileClearRun(c.Context(), opts)
		},
	}
	opts.Flags.register(cmd)
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "Remove without asking")
	return cmd
}

func profileClearRun(ctx context.Context, opts *ProfileClearOptions) error {
	s, err := opts.F.session(&opts.Flags)
	if err != nil {
		return err
	}
	name := s.Sel.Name
	if err := confirmClear(ctx, s, opts.Yes); err != nil {
		return err
	}
	var existed bool
	var before profile.Profile
	secrets := map[string]json.RawMessage{}
	err = s.Store.WithProfile(ctx, name, func(tx *profile.Tx) error {
		// What the files hold is read before they go, to give back after.
		if cfg, err := loadForWrite(s.Store); err == nil {
			for _, prov := range cfg.Profiles[name].Providers() {
				if pr, err := opts.F.Registry().Get(prov); err == nil {
					for _, k := range pr.SecretKeys(cfg.Profiles[name][prov]) {
						var raw json.RawMessage
						if found, err := tx.ReadSecret(k, &raw); err == nil && found {
							secrets[k] = raw
						}
					}
				}
			}
		}
		err := s.Store.Update(ctx, func(c *profile.Config) error {
			before, existed = c.Profiles[name]
			delete(c.Profiles, name)
			return nil
		})
		if err != nil {
			return err
		}
		return tx.DeleteAll()
	})
	if err != nil {
		return err
	}
	// Grants die with the profile: a refresh token left valid at the
	// provider would outlive the file that held it.
	for _, prov := range before.Providers() {
		if pr, err := opts.F.Registry().Get(prov); err == nil {
			if fg, ok := pr.(auth.Forgetter); ok {
				if err := fg.Forget(ctx, s.Auth, before[prov], secrets); err != nil {
					opts.F.IO.Warn(fmt.Sprintf("%s: %v", prov, err))
				}
			}
		}
	}
	if existed {
		opts.F.IO.Printf("Cleared profile '%s' and all its credentials.\n", display.Safe(name))
	} else {
		opts.F.IO.Printf("Profile '%s' not found in profiles.json; removed any stray credentials directory.\n", display.Safe(name))
	}
	return nil
}

// confirmClear refuses a profile that is neither in profiles.json nor has
// a credentials directory left, and asks before removing one that has.
func confirmClear(ctx context.Context, s *session, yes bool) error {
	name := display.Safe(s.Sel.Name)
	command := "alchemy profile clear --profile " + name
	cfg, err := s.Store.Load()
	var invalid *profile.InvalidError
	if errors.As(err, &invalid) {
		return confirmRemoval(ctx, s, yes, command, fmt.Sprintf("Remove profile '%s' and all its credentials?", name),
			"profiles.json cannot be used: clearing moves it to a backup and starts a new one.")
	}
	if err != nil {
		return err
	}
	p, ok := cfg.Profiles[s.Sel.Name]
	if !ok {
		// Lstat: a link there is refused by the clear itself, saying so.
		if _, err := os.Lstat(s.Store.CredentialsDir(s.Sel.Name)); err != nil {
			return s.profileError(cfg)
		}
		return confirmRemoval(ctx, s, yes, command, fmt.Sprintf("Remove what is left of profile '%s'?", name),
			"profiles.json does not list it, but its credentials directory is there.")
	}
	provs := "no providers"
	if len(p) > 0 {
		provs = strings.Join(p.Providers(), ", ")
	}
	return confirmRemoval(ctx, s, yes, command, fmt.Sprintf("Remove profile '%s' and all its credentials (%s)?", name, display.Safe(provs)), "")
}

// loadForWrite reads the config for a command that will write it: an
// unusable file is reported as empty here, because the write moves it to a
// backup first (profile.Store.Update).
func loadForWrite(store *profile.Store) (*profile.Config, error) {
	cfg, err := store.Load()
	var invalid *profile.InvalidError
	if errors.As(err, &invalid) {
		return &profile.Config{Profiles: map[string]profile.Profile{}}, nil
	}
	return cfg, err
}
