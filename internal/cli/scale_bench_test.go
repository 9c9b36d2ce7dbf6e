package cli_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/internal/auth/bundled"
	"github.com/alchemy-go/alchemy/internal/cli"
	"github.com/alchemy-go/alchemy/internal/iostreams"
	"github.com/alchemy-go/alchemy/internal/stacktest"
	"github.com/alchemy-go/alchemy/local"
)

// BenchmarkDeployScale deploys a stack of N independent Local.RandomString
// resources from empty, plans it unchanged and destroys it, in-process
// (everything but process start-up), state on disk with every commit
// durable, CI output, for N = 1k, 2k, 4k and 8k. Time per resource should
// stay flat as N doubles: a step up is a superlinear cost.
//
//	go test -run '^$' -bench DeployScale -benchtime 3x ./internal/cli/
//	BENCH_BUSY=2 go test -run '^$' -bench DeployScale -benchtime 3x ./internal/cli/
//
// BENCH_BUSY=k runs k processes spinning on the CPUs meanwhile (the machine
// of a CI runner shared with other jobs). One op is deploy + plan + destroy;
// each phase is reported in ns/resource.
func BenchmarkDeployScale(b *testing.B) {
	if k, _ := strconv.Atoi(os.Getenv("BENCH_BUSY")); k > 0 {
		spin(b, k)
	}
	for _, n := range []int{1000, 2000, 4000, 8000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			run := scaleStack(b, n)
			var deploy, plan, destroy time.Duration
			for b.Loop() {
				deploy += run("deploy", "--yes")
				plan += run("plan")
				destroy += run("destroy", "--yes")
			}
			per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N*n) }
			b.ReportMetric(per(deploy), "deploy-ns/resource")
			b.ReportMetric(per(plan), "plan-ns/resource")
			b.ReportMetric(per(destroy), "destroy-ns/resource")
		})
	}
}

// spin keeps k processes busy on the CPUs until the benchmark ends.
func spin(b *testing.B, k int) {
	for range k {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSpin$")
		cmd.Env = append(os.Environ(), "ALCHEMY_TEST_SPIN=1")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}
}

// TestSpin is BenchmarkDeployScale's competing load: it burns a CPU until it
// is killed, when ALCHEMY_TEST_SPIN is set.
func TestSpin(t *testing.T) {
	if os.Getenv("ALCHEMY_TEST_SPIN") == "" {
		t.Skip("the load of BenchmarkDeployScale under BENCH_BUSY")
	}
	for x := uint64(1); ; x = x*6364136223846793005 + 1 {
		_ = x
	}
}

// BenchmarkPlanNoop plans a deployed stack of 1,000 independent
// Local.RandomString resources that did not change, in-process, state on
// disk, CI output: the engine's part of issue 14's "no-op plan, 1,000"
// (whole processes add two process starts). With -benchmem, B/op and
// allocs/op are the fresh memory a plan touches, which on a VM where a
// first touch of a page costs ~10 µs is most of its time.
//
//	go test -run '^$' -bench PlanNoop -benchmem ./internal/cli/
func BenchmarkPlanNoop(b *testing.B) {
	run := scaleStack(b, 1000)
	run("deploy", "--yes")
	for b.Loop() {
		run("plan")
	}
}

// scaleStack makes an isolated project of n independent
// Local.RandomString resources (CI output, stage "bench") and returns what
// runs a command of its CLI in-process and times it.
func scaleStack(b *testing.B, n int) func(args ...string) time.Duration {
	dir := b.TempDir()
	b.Chdir(dir)
	for k, v := range map[string]string{
		"ALCHEMY_HOME": filepath.Join(dir, "home"), "HOME": filepath.Join(dir, "userhome"),
		"CI": "true", "USER": "bench", "ALCHEMY_PROFILE": "", "ALCHEMY_STAGE": "bench", "STAGE": "",
	} {
		b.Setenv(k, v)
	}
	prog := stacktest.Program("scale", func(s *alchemy.Stack) {
		for i := range n {
			local.NewRandomString(s, fmt.Sprintf("R%05d", i), local.RandomStringProps{Length: alchemy.Int(12)})
		}
	})
	return func(args ...string) time.Duration {
		io, _, out, errOut := iostreams.Test()
		f := &cli.Factory{IO: io, Registry: bundled.Registry, Now: time.Now, Stack: prog}
		root := cli.NewRoot(f)
		root.SetArgs(args)
		start := time.Now()
		if code := cli.ExitCode(io, root.ExecuteContext(context.Background())); code != 0 {
			b.Fatalf("%v: exit %d\n%s\n%s", args, code, out, errOut)
		}
		return time.Since(start)
	}
}
