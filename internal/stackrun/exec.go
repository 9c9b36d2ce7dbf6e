package stackrun

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"os/signal"
)

// Exec runs exe with args, the current environment plus extraEnv (later
// entries win), and stdin/stdout/stderr inherited, and returns its exit
// code; a child killed by a signal gives 128+signal, as a shell reports it.
// err is non-nil only when the child could not be run at all (exit code 127
// when exe does not exist, 126 otherwise, again as a shell says it).
//
// While the child runs, SIGINT and SIGTERM do not stop this process: they
// are forwarded to the child, which finishes its in-flight work and exits
// (130 after Ctrl-C), and Exec returns only once it has. A SIGINT that came
// from the terminal's Ctrl-C is not forwarded: the terminal sends it to the
// whole foreground process group, so the child already has it, and a second
// one would mean "force quit" to it.
//
// ctx is checked before the child starts. Cancelling it later does not stop
// the child (signals do): a caller's ctx is typically cancelled by that same
// Ctrl-C, which the child is already handling.
func Exec(ctx context.Context, exe string, args []string, extraEnv []string) (exitCode int, err error) {
	if err := ctx.Err(); err != nil {
		return 1, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), extraEnv...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr

	// Catch the signals before the child starts, so none can kill this
	// process while the child lives. A signal this process was started
	// with ignored (nohup, a background job) stays ignored.
	var catch []os.Signal
	for _, s := range forwardedSignals {
		if !signal.Ignored(s) {
			catch = append(catch, s)
		}
	}
	sigs := make(chan os.Signal, 8)
	if len(catch) > 0 {
		signal.Notify(sigs, catch...)
		defer signal.Stop(sigs)
	}

	if err := cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return 127, err
		}
		return 126, err
	}
	done := make(chan struct{})
	forwarded := make(chan struct{})
	go func() {
		defer close(forwarded)
		for {
			select {
			case s := <-sigs:
				forward(cmd.Process, s)
			case <-done:
				return
			}
		}
	}()
	werr := cmd.Wait()
	close(done)
	<-forwarded
	if werr != nil {
		var ee *exec.ExitError
		if !errors.As(werr, &ee) {
			return 1, werr
		}
	}
	return exitStatus(cmd.ProcessState), nil
}
