package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/alchemy-go/alchemy/internal/auth"
)

// exportEnv resolves the selected profile's providers (or one) and returns
// their credentials as environment variables.
func exportEnv(ctx context.Context, f *Factory, flags *ProfileFlags, provider string) (env map[string]string, inherited []string, err error) {
	s, err := f.session(flags)
	if err != nil {
		return nil, nil, err
	}
	_, p, err := s.existingProfile()
	if err != nil {
		return nil, nil, err
	}
	reg := f.Registry()
	var names []string
	if provider != "" {
		prov, err := reg.Get(provider)
		if err != nil {
			return nil, nil, &ExitError{Code: ExitUsage, Err: err}
		}
		if _, ok := p[prov.Name()]; !ok {
			return nil, nil, fmt.Errorf("%s is not configured in profile '%s'. Run `alchemy login --profile %s --provider %s`.", prov.Name(), s.Sel.Name, s.Sel.Name, prov.Name())
		}
		names = []string{prov.Name()}
	} else {
		names = p.Providers()
	}
	env = map[string]string{}
	for _, name := range names {
		prov, err := reg.Get(name)
		if err != nil {
			continue // a provider this binary does not have
		}
		creds, err := auth.Read(ctx, s.Auth, prov, p[name])
		if err != nil {
			return nil, nil, err
		}
		ex, ok := creds.(auth.Exporter)
		if !ok {
			continue
		}
		for k, v := range ex.Env() {
			if v != "" {
				env[k] = v
			}
		}
		inherited = append(inherited, ex.Inherited()...)
	}
	if len(env) == 0 {
		return nil, nil, errors.New("no credentials to export from profile '" + s.Sel.Name + "'")
	}
	return env, inherited, nil
}

// childEnv is the environment `profile exec` hands down: the process's,
// without any variable the exported providers' credentials could be read
// from, plus the exported ones.
func childEnv(parent []string, env map[string]string, inherited []string) []string {
	drop := map[string]bool{}
	for _, k := range inherited {
		drop[k] = true
	}
	for k := range env {
		drop[k] = true
	}
	out := make([]string, 0, len(parent)+len(env))
	for _, kv := range parent {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			out = append(out, kv)
		}
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+env[k])
	}
	return out
}

func newCmdProfileEnv(f *Factory) *cobra.Command {
	var flags ProfileFlags
	var provider, format string
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Print the profile's resolved credentials as environment variables, for another tool",
		Long: `Print the profile's resolved credentials as environment variables (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, AWS_DEFAULT_REGION; CLOUDFLARE_API_TOKEN,
CLOUDFLARE_ACCOUNT_ID; GITHUB_TOKEN). This prints secrets: it is meant for eval "$(alchemy profile env)"
or a pipe, not a terminal others can see.`,
		Example: `  eval "$(alchemy profile env --provider AWS)"
  alchemy profile env --provider AWS --format json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			env, inherited, err := exportEnv(c.Context(), f, &flags, provider)
			if err != nil {
				return err
			}
			keys := make([]string, 0, len(env))
			for k := range env {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			// The one place secrets are printed, because the user asked.
			out, _ := f.IO.Disclosed()
			switch format {
			case "sh":
				// What the shell has of these providers' variables and the
				// profile does not set goes, so nothing stale mixes in.
				var unset []string
				for _, k := range inherited {
					if _, set := env[k]; !set && !slices.Contains(unset, k) {
						unset = append(unset, k)
					}
				}
				sort.Strings(unset)
				if len(unset) > 0 {
					fmt.Fprintf(out, "unset %s\n", strings.Join(unset, " "))
				}
				for _, k := range keys {
					fmt.Fprintf(out, "export %s=%s\n", k, shellQuote(env[k]))
				}
			case "dotenv":
				for _, k := range keys {
					fmt.Fprintf(out, "%s=%s\n", k, dotenvQuote(env[k]))
				}
			case "json":
				b, _ := json.MarshalIndent(env, "", "  ")
				fmt.Fprintf(out, "%s\n", b)
			default:
				return &ExitError{Code: ExitUsage, Err: fmt.Errorf("unknown --format %q: use sh, json or dotenv", format)}
			}
			return nil
		},
	}
	flags.register(cmd)
	cmd.Flags().StringVar(&provider, "provider", "", "Only this provider (default: every provider of the profile)")
	cmd.Flags().StringVar(&format, "format", "sh", "sh, json or dotenv")
	return cmd
}

func newCmdProfileExec(f *Factory) *cobra.Command {
	var flags ProfileFlags
	var provider string
	cmd := &cobra.Command{
		Use:   "exec [--profile P] [--provider NAME] -- CMD [ARGS...]",
		Short: "Run a command with the profile's credentials in its environment",
		Example: `  alchemy profile exec --profile prod -- aws s3 ls
  alchemy profile exec --provider Cloudflare -- wrangler whoami`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			env, inherited, err := exportEnv(c.Context(), f, &flags, provider)
			if err != nil {
				return err
			}
			cmd := exec.Command(args[0], args[1:]...)
			out, errOut := f.IO.Disclosed() // the command's own output is its business
			cmd.Stdin, cmd.Stdout, cmd.Stderr = f.IO.In, out, errOut
			cmd.Env = childEnv(os.Environ(), env, inherited)
			err = cmd.Run()
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				return &ExitError{Code: childExitCode(exit)}
			}
			if err != nil {
				return fmt.Errorf("could not run %s: %v", args[0], err)
			}
			return nil
		},
	}
	flags.register(cmd)
	cmd.Flags().StringVar(&provider, "provider", "", "Only this provider's variables (default: every provider of the profile)")
	return cmd
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func dotenvQuote(s string) string {
	if strings.ContainsAny(s, " \t\"'#$\\\n") {
		b, _ := json.Marshal(s)
		return string(b)
	}
	return s
}
