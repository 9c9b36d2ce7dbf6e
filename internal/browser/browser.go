// Package browser opens a URL for a person to sign in: with $BROWSER when
// set (always: the user asked for it), else with the platform opener, but
// only where there is a display to open it on (not over SSH, not in a
// headless container), so callers can fall back to printing the URL.
package browser

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/alchemy-go/alchemy/internal/envfile"
)

// ErrNoDisplay means there is nowhere to open a browser: print the URL.
var ErrNoDisplay = errors.New("no display to open a browser on")

// Open opens target. $BROWSER is a list of commands separated like PATH;
// the URL replaces %s in one, or is appended.
func Open(env envfile.Source, target string) error {
	if b := envfile.Get(env, "BROWSER"); b != "" {
		for _, cmdline := range strings.Split(b, string(os.PathListSeparator)) {
			args := strings.Fields(cmdline)
			if len(args) == 0 {
				continue
			}
			replaced := false
			for i, a := range args {
				if strings.Contains(a, "%s") {
					args[i], replaced = strings.ReplaceAll(a, "%s", target), true
				}
			}
			if !replaced {
				args = append(args, target)
			}
			if err := exec.Command(args[0], args[1:]...).Start(); err == nil {
				return nil
			}
		}
		return errors.New("none of the $BROWSER commands could be started")
	}
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		if envfile.Get(env, "SSH_CONNECTION") != "" {
			return ErrNoDisplay
		}
		cmd = exec.Command("open", target)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", target)
	default:
		if envfile.Get(env, "DISPLAY") == "" && envfile.Get(env, "WAYLAND_DISPLAY") == "" {
			return ErrNoDisplay
		}
		cmd = exec.Command("xdg-open", target)
	}
	return cmd.Start()
}
