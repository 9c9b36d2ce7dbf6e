//go:build unix

package stackrun

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// execHelper returns a command running this test binary as a stand-in for
// the alchemy binary, which Execs this binary again as the stack (role
// childRole) with args.
func execHelper(t *testing.T, childRole string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(),
		roleEnv+"=exec",
		"ALCHEMY_TEST_CHILD_ROLE="+childRole,
		"ALCHEMY_TEST_X=overridden-by-extra-env",
		"ALCHEMY_TEST_INHERITED=inherited",
		"ALCHEMY_TEST_EXIT=7",
	)
	return cmd
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("run: %v", err)
	}
	return ee.ExitCode()
}

func TestExecPassesArgsEnvAndExitCode(t *testing.T) {
	t.Parallel()
	cmd := execHelper(t, "child", "deploy", "--stage", "dev", "two words", "")
	out, err := cmd.Output()
	if code := exitCode(t, err); code != 7 {
		t.Fatalf("alchemy exited %d, want the stack's 7; output:\n%s", code, out)
	}
	want := `arg="deploy"
arg="--stage"
arg="dev"
arg="two words"
arg=""
X=from-extra-env
INHERITED=inherited
exec returned code=7 err=<nil>
`
	if string(out) != want {
		t.Fatalf("output:\n%s\nwant:\n%s", out, want)
	}
}

func TestExecExitCodes(t *testing.T) {
	t.Parallel()
	// A stack killed by a signal: 128+signal, as a shell says it.
	out, err := execHelper(t, "selfkill").Output()
	if code := exitCode(t, err); code != 128+int(syscall.SIGKILL) {
		t.Fatalf("exit code %d, want %d; output:\n%s", code, 128+int(syscall.SIGKILL), out)
	}
	// A stack exiting 0.
	cmd := execHelper(t, "child")
	cmd.Env = append(cmd.Env, "ALCHEMY_TEST_EXIT=0")
	if out, err := cmd.Output(); exitCode(t, err) != 0 {
		t.Fatalf("exit code %d; output:\n%s", exitCode(t, err), out)
	}
	// An executable that is not there.
	code, err := Exec(context.Background(), "/nonexistent/stack", nil, nil, nil)
	if err == nil || code != 127 {
		t.Fatalf("Exec of a missing file: %d, %v", code, err)
	}
	// A cancelled context starts nothing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Exec(ctx, os.Args[0], nil, nil, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Exec with a cancelled context: %v", err)
	}
}

// startSignalHelper starts the alchemy stand-in in its own session (no
// controlling terminal, like a process run by a supervisor or CI) with a
// stack that handles signals, and waits until the stack is ready.
func startSignalHelper(t *testing.T) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd := execHelper(t, "sigchild")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	r := bufio.NewReader(stdout)
	line := readLine(t, r)
	if line != "ready" {
		t.Fatalf("stack said %q, want ready", line)
	}
	return cmd, r
}

func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := r.ReadString('\n')
		ch <- res{strings.TrimRight(s, "\r\n"), err}
	}()
	select {
	case x := <-ch:
		if x.err != nil && x.s == "" {
			t.Fatalf("read: %v", x.err)
		}
		return x.s
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for output")
		return ""
	}
}

func TestExecForwardsSignals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			t.Parallel()
			cmd, r := startSignalHelper(t)
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			// The stack gets the signal once, finishes, and only then does
			// the alchemy process report and exit with the stack's code.
			if got, want := readLine(t, r), "signals=1 first="+tc.sig.String(); got != want {
				t.Fatalf("stack said %q, want %q", got, want)
			}
			if got, want := readLine(t, r), "exec returned code="+strconv.Itoa(tc.code)+" err=<nil>"; got != want {
				t.Fatalf("alchemy said %q, want %q", got, want)
			}
			if code := exitCode(t, cmd.Wait()); code != tc.code {
				t.Fatalf("alchemy exited %d, want %d", code, tc.code)
			}
		})
	}
}

// A Ctrl-C on the terminal reaches the stack directly (same foreground
// process group); Exec must not forward a second one.
func TestExecTerminalCtrlCReachesStackOnce(t *testing.T) {
	t.Parallel()
	cmd := execHelper(t, "sigchild")
	tty, err := pty.Start(cmd) // a new session with the pty as its controlling terminal
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer tty.Close()
	t.Cleanup(func() { cmd.Process.Kill() })
	r := bufio.NewReader(tty)
	if line := readLine(t, r); line != "ready" {
		t.Fatalf("stack said %q, want ready", line)
	}
	if _, err := io.WriteString(tty, "\x03"); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for {
		line := strings.TrimPrefix(readLine(t, r), "^C") // the terminal's echo
		if strings.TrimSpace(line) == "" {
			continue
		}
		lines = append(lines, line)
		if strings.HasPrefix(line, "exec returned") {
			break
		}
	}
	if got := strings.Join(lines, "\n"); got != "signals=1 first=interrupt\nexec returned code=130 err=<nil>" {
		t.Fatalf("output:\n%s", got)
	}
	if code := exitCode(t, cmd.Wait()); code != 130 {
		t.Fatalf("alchemy exited %d, want 130", code)
	}
}
