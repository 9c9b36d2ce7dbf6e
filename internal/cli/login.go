package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/alchemy-go/alchemy/internal/auth"
	"github.com/alchemy-go/alchemy/internal/engine"
	"github.com/alchemy-go/alchemy/internal/profile"
	"github.com/alchemy-go/alchemy/internal/prompt"
	"github.com/alchemy-go/alchemy/internal/stackfile"
)

// LoginOptions are the inputs of `alchemy login`.
type LoginOptions struct {
	F         *Factory
	Flags     ProfileFlags
	Configure bool
	Provider  string
	Method    string
	NoBrowser bool
	Scopes    []string
	AccountID string
	Stack     string
}

// NewCmdLogin builds `alchemy login`.
func NewCmdLogin(f *Factory, runF func(*LoginOptions) error) *cobra.Command {
	opts := &LoginOptions{F: f}
	cmd := &cobra.Command{
		Use:   "login [stack]",
		Short: "Sign in: configure a profile's providers, or refresh the ones already configured",
		Long: `Sign in to the providers of a profile.

A provider that is already configured is refreshed (its stored credentials are checked, or asked
for again when missing). --configure runs the method choice again and removes the old method's
secrets. --provider limits the run to one provider.

Without a terminal, pass --provider and --method: the secrets are then read from the variables the
provider's env method uses (CLOUDFLARE_API_TOKEN or CLOUDFLARE_API_KEY + CLOUDFLARE_EMAIL;
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION; GITHUB_ACCESS_TOKEN or
GITHUB_TOKEN), checked against the provider's API, and stored.

Cloudflare looks up the accounts the credential can see: one is taken, several are chosen from
(without a terminal: --account-id or CLOUDFLARE_ACCOUNT_ID). A configured provider that cannot be
used (no account, credentials rejected or missing) is repaired: what is missing is asked for again.
Credentials saved while the provider's API could not be reached are never called valid: login
warns that they stay unchecked until a check passes (Cloudflare's show as unchecked in profile
show; an AWS key's account id is filled in by the first check).`,
		Example: `  alchemy login
  alchemy login --configure
  alchemy login --profile prod --configure
  CLOUDFLARE_API_TOKEN=... alchemy login --profile ci --provider Cloudflare --method stored --account-id 0123...`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Stack = args[0]
			}
			if opts.Method != "" && opts.Provider == "" {
				return &ExitError{Code: ExitUsage, Err: errors.New("--method needs --provider: say which provider the method is for, e.g. `alchemy login --provider Cloudflare --method stored`")}
			}
			if runF != nil {
				return runF(opts)
			}
			if f.Stack == nil {
				// With a stack file, the stack's own program walks exactly the
				// providers it uses.
				if _, err := stackfile.Locate(opts.Stack); err == nil || opts.Stack != "" {
					if err := f.delegate(c.Context(), args); !errors.Is(err, errLoginHere) {
						return err
					}
					// The stack uses no provider (its program said so), and
					// was built without the built-in ones: this binary has
					// them all.
					return loginRun(c.Context(), opts)
				}
				f.IO.Info("No stack file (alchemy.run.go) here: using the providers built into alchemy.")
			}
			return loginRun(c.Context(), opts)
		},
	}
	opts.Flags.register(cmd)
	cmd.Flags().BoolVar(&opts.Configure, "configure", false, "Run the provider's interactive configure step before logging in")
	cmd.Flags().StringVar(&opts.Provider, "provider", "", "Only this provider (Cloudflare, AWS, GitHub)")
	cmd.Flags().StringVar(&opts.Method, "method", "", "Use this auth method without asking (implies --configure for that provider)")
	cmd.Flags().BoolVar(&opts.NoBrowser, "no-browser", false, "Do not open a browser; print the URL and accept the redirected URL pasted here")
	cmd.Flags().StringSliceVar(&opts.Scopes, "scopes", nil, "OAuth scopes to request instead of the provider's defaults (comma-separated)")
	cmd.Flags().StringVar(&opts.AccountID, "account-id", "", "The account to use when the login can see several (default $CLOUDFLARE_ACCOUNT_ID)")
	return cmd
}

// featureLoginHere is what a stack program that uses no provider, built
// without the built-in ones, answers a login with (as a program says what
// it was built without): the alchemy command then signs in itself
// (errLoginHere), with every built-in provider, and nothing is built.
const featureLoginHere = "login-here"

var errLoginHere = errors.New("the stack program hands the login back to the alchemy command")

func loginRun(ctx context.Context, opts *LoginOptions) error {
	s, err := opts.F.session(&opts.Flags)
	if err != nil {
		return err
	}
	s.Auth.Login = auth.LoginOptions{NoBrowser: opts.NoBrowser, Scopes: opts.Scopes, AccountID: opts.AccountID}
	reg := opts.F.Registry()
	cfg, err := loadForWrite(s.Store)
	if err != nil {
		return err
	}
	name := s.Sel.Name
	existing := cfg.Profiles[name]

	var providers []auth.Provider
	if opts.F.Stack != nil {
		if providers, err = stackProviders(opts.F); err != nil {
			return err
		}
		if len(providers) == 0 {
			// Nothing in the stack needs credentials yet; the person is
			// most likely about to add something that does.
			opts.F.IO.Info(fmt.Sprintf("Stack %s declares no resource that needs credentials: using the providers built into alchemy.", opts.F.Stack.Name))
			// A program built with only its resources' providers hands the
			// login back to the alchemy command, which has every one, rather
			// than being built again with them for this.
			if err := opts.F.linkedOr(featureLoginHere, auth.Builtin...); err != nil {
				return err
			}
		}
	}
	if len(providers) > 0 {
		if opts.Provider != "" {
			p, err := auth.NewRegistry(providers...).Get(opts.Provider)
			if err != nil {
				return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%w (the providers this stack uses)", err)}
			}
			providers = []auth.Provider{p}
		}
		reg = auth.NewRegistry(append(providers, reg.All()...)...)
	} else if providers, err = loginProviders(ctx, opts, s.Auth, reg, existing); err != nil {
		return err
	}
	if err := checkMethod(providers, opts.Method); err != nil {
		return err
	}
	for _, p := range providers {
		entry, configured := existing[p.Name()]
		if configured && !opts.Configure && opts.Method == "" {
			if err := auth.Login(ctx, s.Auth, p, entry); err != nil {
				return err
			}
			continue
		}
		if _, err := auth.Configure(ctx, s.Auth, p, opts.Method); err != nil {
			return err
		}
	}

	cfg, err = s.Store.Load()
	if err != nil {
		return err
	}
	if p, ok := cfg.Profiles[name]; ok {
		io := opts.F.IO
		io.Printf("\n")
		auth.RenderText(io.Out, io.ErrOut, name, auth.Describe(ctx, s.Auth, reg, p))
	}
	return nil
}

// stackProviders are the auth providers a stack uses: those its resources
// name and those it adds with alchemy.WithAuth, found without running any
// resource operation.
func stackProviders(f *Factory) ([]auth.Provider, error) {
	spec, err := f.Stack.Build("placeholder")
	var decl *engine.DeclarationError
	if err != nil && (spec == nil || !errors.As(err, &decl)) {
		return nil, err // a file a resource reads does not matter to signing in
	}
	if err := f.providersLinked(spec.Auths()...); err != nil {
		return nil, err
	}
	reg := f.stackRegistry()
	seen := map[string]bool{}
	var out []auth.Provider
	add := func(p auth.Provider) {
		if !seen[p.Name()] {
			seen[p.Name()] = true
			out = append(out, p)
		}
	}
	for _, p := range f.Stack.Auth {
		add(p)
	}
	for _, n := range spec.Nodes {
		if name := n.Provider.Auth(); name != "" {
			p, err := reg.Get(name)
			if err != nil {
				return nil, fmt.Errorf("%s (%s) needs the %s auth provider, which is not available: %w", n.FQN, n.Type, name, err)
			}
			add(p)
		}
	}
	return out, nil
}

// loginProviders decides which providers a login walks: the one named by
// --provider; else the ones the profile already has; else, for a new
// profile, the ones the person picks. (With a stack file, the engine will
// supply the stack's providers instead.)
func loginProviders(ctx context.Context, opts *LoginOptions, c *auth.Context, reg *auth.Registry, existing profile.Profile) ([]auth.Provider, error) {
	if opts.Provider != "" {
		p, err := reg.Get(opts.Provider)
		if err != nil {
			return nil, &ExitError{Code: ExitUsage, Err: err}
		}
		return []auth.Provider{p}, nil
	}
	var ps []auth.Provider
	for _, p := range reg.All() {
		if _, ok := existing[p.Name()]; ok {
			ps = append(ps, p)
		}
	}
	if len(ps) > 0 {
		return ps, nil
	}
	var names []string
	var options []prompt.Option
	for _, p := range reg.All() {
		names = append(names, p.Name())
		options = append(options, prompt.Option{Value: p.Name(), Label: p.Name()})
	}
	if len(existing) > 0 {
		// The profile's providers come from a stack this binary cannot see
		// (custom ones, given to alchemy.Run with WithAuth).
		return nil, fmt.Errorf("Profile '%s' has only providers this alchemy binary does not have built in (%s). Run `alchemy login` next to the stack file that uses them (or pass its path: alchemy login path/to/alchemy.run.go).", c.Profile, strings.Join(existing.Providers(), ", "))
	}
	if !c.Interactive {
		return nil, fmt.Errorf("Profile '%s' has no providers configured, and this process is non-interactive so they can't be chosen interactively. Run `alchemy login --profile %s --provider <%s> --method <method>` to configure one from environment variables, or run `alchemy login --profile %s` in a terminal.", c.Profile, c.Profile, strings.Join(names, "|"), c.Profile)
	}
	var picked []string
	err := prompt.Exclusive(func() error {
		var err error
		picked, err = c.Prompt.MultiSelect(ctx, fmt.Sprintf("Which providers should profile '%s' sign in to?", c.Profile), options, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, n := range picked {
		p, err := reg.Get(n)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// LogoutOptions are the inputs of `alchemy logout`.
type LogoutOptions struct {
	F        *Factory
	Flags    ProfileFlags
	Provider string
	SSO      bool
	Yes      bool
}

// NewCmdLogout builds `alchemy logout`.
func NewCmdLogout(f *Factory, runF func(*LogoutOptions) error) *cobra.Command {
	opts := &LogoutOptions{F: f}
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "Sign out: remove or revoke a profile's stored secrets (the method choice is kept)",
		Long: `Sign out: remove or revoke a profile's stored secrets. The method choice is kept, so
` + "`alchemy profile list`" + ` shows the provider as signed out and ` + "`alchemy login`" + ` signs it in again.

It asks first on a terminal; --yes answers for it. Without a terminal and without --yes nothing
is removed (exit 2). A profile that does not exist is an error (exit 1).`,
		Example: `  alchemy logout --profile prod
  alchemy logout --profile ci --provider Cloudflare --yes`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return logoutRun(c.Context(), opts)
		},
	}
	opts.Flags.register(cmd)
	cmd.Flags().StringVar(&opts.Provider, "provider", "", "Only this provider (Cloudflare, AWS, GitHub)")
	cmd.Flags().BoolVar(&opts.SSO, "sso", false, "Also end the AWS SSO sign-in, which the AWS CLI shares")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "Sign out without asking")
	return cmd
}

func logoutRun(ctx context.Context, opts *LogoutOptions) error {
	s, err := opts.F.session(&opts.Flags)
	if err != nil {
		return err
	}
	_, p, err := s.existingProfile()
	if err != nil {
		return err
	}
	s.Auth.Login.EndSSO = opts.SSO
	name := s.Sel.Name
	reg := opts.F.Registry()
	var targets []auth.Provider
	if opts.Provider != "" {
		prov, err := reg.Get(opts.Provider)
		if err != nil {
			return &ExitError{Code: ExitUsage, Err: err}
		}
		if _, ok := p[prov.Name()]; !ok {
			opts.F.IO.Printf("%s is not configured in profile '%s'. Nothing to log out of.\n", prov.Name(), name)
			return nil
		}
		targets = []auth.Provider{prov}
	} else {
		for _, prov := range reg.All() {
			if _, ok := p[prov.Name()]; ok {
				targets = append(targets, prov)
			}
		}
	}
	if err := confirmLogout(ctx, s, opts, targets); err != nil {
		return err
	}
	for _, prov := range targets {
		if err := auth.Logout(ctx, s.Auth, prov, p[prov.Name()]); err != nil {
			return err
		}
	}
	return nil
}
