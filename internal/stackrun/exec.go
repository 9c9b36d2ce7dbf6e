package stackrun

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"

	"github.com/alchemy-go/alchemy/internal/prompt"
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
//
// When asker is not nil the child's questions are drawn by this process
// with it (prompt.Serve, over two pipes named in prompt.ParentEnv): a stack
// program built by Builder links no terminal prompter (buildFlags).
//
// files become the child's descriptors 3, 4, … in order, before the
// prompts' pipes (on Unix; elsewhere os/exec passes none, and there must
// be none).
func Exec(ctx context.Context, exe string, args []string, extraEnv []string, asker prompt.Prompter, files ...*os.File) (exitCode int, err error) {
	if err := ctx.Err(); err != nil {
		return 1, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), extraEnv...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = files
	if asker != nil && childPipes {
		done, err := servePrompts(cmd, asker)
		if err != nil {
			return 126, err
		}
		defer done()
	}

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

// servePrompts passes cmd two pipes to ask over and answers on them with
// asker. done, called after cmd has exited, closes the pipes (a question
// still in flight has nobody left to answer) and returns once its prompt is
// gone from the screen.
func servePrompts(cmd *exec.Cmd, asker prompt.Prompter) (done func(), err error) {
	childIn, toChild, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	fromChild, childOut, err := os.Pipe()
	if err != nil {
		childIn.Close()
		toChild.Close()
		return nil, err
	}
	n := 3 + len(cmd.ExtraFiles)
	cmd.ExtraFiles = append(cmd.ExtraFiles, childIn, childOut)
	cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d,%d", prompt.ParentEnv, n, n+1))
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = prompt.Serve(fromChild, toChild, asker) // closes toChild
	}()
	return func() {
		childIn.Close()
		childOut.Close()
		fromChild.Close() // ends Serve's read even if something else holds the child's end
		<-served
	}, nil
}
