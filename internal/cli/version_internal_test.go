package cli

import (
	"fmt"
	"runtime/debug"
	"testing"
)

// buildInfo parses build info as `go version -m` prints it (the Go
// version is on its first line, not in the text parsed here).
func buildInfo(t *testing.T, text string) *debug.BuildInfo {
	t.Helper()
	bi, err := debug.ParseBuildInfo(text)
	if err != nil {
		t.Fatal(err)
	}
	bi.GoVersion = "go1.26.0"
	return bi
}

// TestVersionFromBuildInfo: the alchemy binary reports its module version
// and VCS stamp; a stack program reports the alchemy module it was built
// with (not the user's commit); -ldflags fills in only when the build info
// has no version.
func TestVersionFromBuildInfo(t *testing.T) {
	const binary = "path\tgithub.com/alchemy-go/alchemy/cmd/alchemy\nmod\tgithub.com/alchemy-go/alchemy\t%s\t\n" +
		"dep\tgithub.com/spf13/cobra\tv1.10.2\th1:abc=\n" +
		"build\t-buildmode=exe\nbuild\tvcs=git\nbuild\tvcs.revision=1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b\n" +
		"build\tvcs.time=2025-01-02T03:04:05Z\nbuild\tvcs.modified=%s\n"
	cases := []struct {
		name, info, ldflags, line string
		json                      BuildVersion
	}{
		{"release, clean", fmt.Sprintf(binary, "v0.3.0", "false"), "", "v0.3.0 (commit 1a2b3c4)",
			BuildVersion{Version: "v0.3.0", Commit: "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b", Go: "go1.26.0"}},
		{"tagged, dirty", fmt.Sprintf(binary, "v0.3.0+dirty", "true"), "", "v0.3.0+dirty (commit 1a2b3c4, dirty)",
			BuildVersion{Version: "v0.3.0+dirty", Commit: "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b", Dirty: true, Go: "go1.26.0"}},
		{"devel", fmt.Sprintf(binary, "(devel)", "true"), "", "(devel) (commit 1a2b3c4, dirty)",
			BuildVersion{Version: "(devel)", Commit: "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b", Dirty: true, Go: "go1.26.0"}},
		{"devel with ldflags", fmt.Sprintf(binary, "(devel)", "false"), "v0.4.0-rc1", "v0.4.0-rc1 (commit 1a2b3c4)",
			BuildVersion{Version: "v0.4.0-rc1", Commit: "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b", Go: "go1.26.0"}},
		{"build info beats ldflags", fmt.Sprintf(binary, "v0.3.0", "false"), "v9.9.9", "v0.3.0 (commit 1a2b3c4)",
			BuildVersion{Version: "v0.3.0", Commit: "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b", Go: "go1.26.0"}},
		{"stack program", "path\texample.com/hello\nmod\texample.com/hello\t(devel)\t\n" +
			"dep\tgithub.com/alchemy-go/alchemy\tv0.3.0\th1:xyz=\n" +
			"build\tvcs=git\nbuild\tvcs.revision=ffffffffffffffffffffffffffffffffffffffff\nbuild\tvcs.modified=true\n",
			"", "v0.3.0", BuildVersion{Version: "v0.3.0", Go: "go1.26.0"}},
		{"stack program on a replaced checkout", "path\texample.com/hello\nmod\texample.com/hello\t(devel)\t\n" +
			"dep\tgithub.com/alchemy-go/alchemy\tv0.0.0-00010101000000-000000000000\t\n=>\tgithub.com/fork/alchemy\tv0.3.1\th1:q=\n",
			"", "v0.3.1", BuildVersion{Version: "v0.3.1", Go: "go1.26.0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := versionFrom(buildInfo(t, tc.info), tc.ldflags)
			if v != tc.json || v.String() != tc.line {
				t.Errorf("got %#v %q, want %#v %q", v, v.String(), tc.json, tc.line)
			}
		})
	}
	if v := versionFrom(nil, ""); v.String() != "(devel)" {
		t.Errorf("no build info: %q, want (devel)", v)
	}
	if v := versionFrom(nil, "v1.0.0"); v.String() != "v1.0.0" {
		t.Errorf("no build info, ldflags: %q, want v1.0.0", v)
	}
}
