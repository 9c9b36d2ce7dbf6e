package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/display"
	"github.com/alchemy-go/alchemy/internal/profile"
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
			out.Available = cfg.Names()
		}
		return writeJSON(opts.F, out)
	}
	if !exists {
		io.Printf("Profile '%s' not found.\n", display.Safe(name))
		if names := cfg.Names(); len(names) > 0 {
			for i := range names {
				names[i] = display.Safe(names[i])
			}
			io.Printf("Available profiles: %s\n", strings.Join(names, ", "))
		} else {
			io.Printf("No profiles configured. Run `alchemy login`.\n")
		}
		return nil
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
	for _, name := range names {
		mark := "-"
		if name == s.Sel.Name {
			mark = "*"
		}
		p := cfg.Profiles[name]
		var provs []string
		for _, prov := range p.Providers() {
			provs = append(provs, fmt.Sprintf("%s (%s)", display.Safe(prov), display.Safe(p[prov].Method())))
		}
		if len(provs) == 0 {
			provs = []string{"(no providers configured)"}
		}
		io.Printf("%s %s: %s\n", mark, display.Safe(name), strings.Join(provs, ", "))
	}
	if _, ok := cfg.Profiles[s.Sel.Name]; ok {
		io.Printf("\nSelected: %s (%s)\n", s.Sel.Name, s.Sel.Source)
	} else {
		io.Printf("\nSelected: %s (%s), not configured yet. Run `alchemy login --profile %s` to set it up.\n", s.Sel.Name, s.Sel.Source, s.Sel.Name)
	}
	return nil
}

// ProfileClearOptions are the inputs of `alchemy profile clear`.
type ProfileClearOptions struct {
	F     *Factory
	Flags ProfileFlags
}

// NewCmdProfileClear builds `alchemy profile clear`.
func NewCmdProfileClear(f *Factory, runF func(*ProfileClearOptions) error) *cobra.Command {
	opts := &ProfileClearOptions{F: f}
	cmd := &cobra.Command{
		Use:   "clear",
		Short: "Remove a profile and all its stored credentials, revoking its OAuth grants",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return profileClearRun(c.Context(), opts)
		},
	}
	opts.Flags.register(cmd)
	return cmd
}

func profileClearRun(ctx context.Context, opts *ProfileClearOptions) error {
	s, err := opts.F.session(&opts.Flags)
	if err != nil {
		return err
	}
	name := s.Sel.Name
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
