package cli

import (
	"encoding/json"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/alchemy-go/alchemy/internal/stackfile"
)

// Version is the version a release build sets with
// -ldflags "-X github.com/alchemy-go/alchemy/internal/cli.Version=v1.2.3".
// It is used only when the build info has none: `go install
// module@version` and builds from a tagged checkout already carry it.
var Version = ""

// BuildVersion is what `alchemy version` reports.
type BuildVersion struct {
	Version string `json:"version"`
	// Commit and Dirty come from the VCS stamp of a build of this
	// repository; a stack program (a user's module) has the module version
	// only, since the stamp there is the user's commit, not alchemy's.
	Commit string `json:"commit,omitempty"`
	Dirty  bool   `json:"dirty,omitempty"`
	Go     string `json:"go,omitempty"`
}

// String is the human line after "alchemy ": "v0.3.0 (commit 1a2b3c4, dirty)".
func (v BuildVersion) String() string {
	s := v.Version
	if v.Commit != "" {
		short := v.Commit
		if len(short) > 7 {
			short = short[:7]
		}
		s += " (commit " + short
		if v.Dirty {
			s += ", dirty"
		}
		s += ")"
	}
	return s
}

// buildVersion reads the running binary's build info.
func buildVersion() BuildVersion {
	bi, _ := debug.ReadBuildInfo()
	return versionFrom(bi, Version)
}

// versionFrom picks the version of the alchemy module out of bi: the main
// module in the alchemy binary, a dependency (possibly replaced by a local
// checkout) in a stack program. ldflags fills in when the build info has no
// real version ("(devel)" or none, as with `go build` outside VCS).
func versionFrom(bi *debug.BuildInfo, ldflags string) BuildVersion {
	v := BuildVersion{Version: "(devel)"}
	if bi == nil {
		if ldflags != "" {
			v.Version = ldflags
		}
		return v
	}
	v.Go = bi.GoVersion
	mod := &bi.Main
	if mod.Path != stackfile.SDKModule {
		mod = nil
		for _, d := range bi.Deps {
			if d.Path == stackfile.SDKModule {
				mod = d
				if d.Replace != nil && d.Replace.Version != "" {
					mod = d.Replace
				}
			}
		}
	} else {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Commit = s.Value
			case "vcs.modified":
				v.Dirty = s.Value == "true"
			}
		}
	}
	switch {
	case mod != nil && mod.Version != "" && mod.Version != "(devel)":
		v.Version = mod.Version
	case ldflags != "":
		v.Version = ldflags
	}
	return v
}

func newCmdVersion(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the alchemy version and the commit it was built from",
		Long: `Print the alchemy version and the commit it was built from, read from the binary's build
information (a release build's -ldflags version when the build information has none).
The same line as alchemy --version.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			v := buildVersion()
			if asJSON {
				b, err := json.MarshalIndent(v, "", "  ")
				if err != nil {
					return err
				}
				f.IO.Printf("%s\n", b)
				return nil
			}
			f.IO.Printf("alchemy %s\n", v)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "Print the version, full commit, dirty flag and Go version as JSON")
	return cmd
}

// versionFlag makes `alchemy --version` print what `alchemy version` does.
//
// The version is read only when --version is given: reading the build
// information on every start-up costs page faults for nothing. cobra adds
// the flag when Version is set, and renders the template only for it.
func versionFlag(root *cobra.Command) {
	cobra.AddTemplateFunc("alchemyVersion", func() string { return buildVersion().String() })
	root.Version = "(read from the build information)"
	root.SetVersionTemplate("{{.Name}} {{alchemyVersion}}\n")
}
