package stackrun

import (
	"runtime/debug"
	"strings"
)

// SDKModule is the module path of the alchemy SDK a stack file imports.
const SDKModule = "github.com/alchemy-go/alchemy"

// SDKVersion is the version of the SDK module this program was built from,
// when it names something the go command can fetch: a release or the
// pseudo-version of a clean commit. It is "" for a build from a working
// tree (`(devel)`, or a `+dirty` stamp) and for a replaced SDK, whose
// version says nothing about what a user could require.
func SDKVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	mod := &bi.Main
	if mod.Path != SDKModule { // a stack program: the SDK is a dependency
		mod = nil
		for _, d := range bi.Deps {
			if d.Path == SDKModule && d.Replace == nil {
				mod = d
			}
		}
	}
	if mod == nil || !strings.HasPrefix(mod.Version, "v") || strings.Contains(mod.Version, "+dirty") {
		return ""
	}
	return mod.Version
}
