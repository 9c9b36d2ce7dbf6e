// Package stackfile names a stack file: where the [stack] argument of a
// command points, and the SDK module a stack imports. It is what both the
// alchemy command and a stack program need of stackrun, without the
// builder (go/build, go/parser, fsnotify), which a stack program never
// runs.
package stackfile

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
)

// DefaultFile is the stack file looked up when none is given.
const DefaultFile = "alchemy.run.go"

// Locate resolves the [stack] argument: "" -> ./alchemy.run.go; a directory
// -> <dir>/alchemy.run.go; a file path as is. A missing file gives
// *NotFoundError.
func Locate(arg string) (string, error) {
	path := arg
	switch {
	case arg == "":
		path = "." + string(filepath.Separator) + DefaultFile
	default:
		if fi, err := os.Stat(arg); err == nil && fi.IsDir() {
			path = filepath.Join(arg, DefaultFile)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		if os.IsNotExist(err) {
			return "", &NotFoundError{Path: path}
		}
		return "", err
	}
	if fi.IsDir() {
		return "", &NotFoundError{Path: path}
	}
	return path, nil
}

// NotFoundError reports a stack file that does not exist.
type NotFoundError struct {
	Path string
}

func (e *NotFoundError) Error() string {
	return "No stack file at " + e.Path + ". Create one with `alchemy init`, or pass its path: alchemy deploy path/to/alchemy.run.go"
}

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
