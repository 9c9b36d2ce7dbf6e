package e2e

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// proc is a process as /proc shows it.
type proc struct {
	pid, ppid, pgrp int
	state           string // R, S, D, Z, ...
	comm            string
	start           string // start time in clock ticks since boot: with pid, who it is
}

// procs lists the processes running now.
func procs() map[int]proc {
	out := map[int]proc{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp session tty tpgid flags minflt
		// cminflt majflt cmajflt utime stime cutime cstime priority nice
		// threads itrealvalue starttime ...
		open, end := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(string(data[end+1:]))
		if len(f) < 20 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		pgrp, _ := strconv.Atoi(f[2])
		out[pid] = proc{pid: pid, ppid: ppid, pgrp: pgrp, state: f[0], comm: string(data[open+1 : end]), start: f[19]}
	}
	return out
}

// descendants returns the processes below pid.
func descendants(all map[int]proc, pid int) []proc {
	var out []proc
	for _, p := range all {
		for a, hops := p.ppid, 0; a > 1 && hops < 64; a, hops = all[a].ppid, hops+1 {
			if a == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// environMentions lists the live (not zombie) processes whose environment
// holds s.
func environMentions(s string) []proc {
	var out []proc
	for pid, p := range procs() {
		if p.state == "Z" || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
		if err == nil && bytes.Contains(env, []byte(s)) {
			out = append(out, p)
		}
	}
	return out
}

// linking reports whether pid is the linker at work (not `link -V=full`,
// which go runs first to fingerprint the linker).
func linking(pid int) bool {
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	return err == nil && bytes.Contains(cmdline, []byte("\x00-importcfg"))
}

// Ctrl-C while `alchemy dev` links the rebuilt stack stops the whole build:
// once alchemy has exited, no process of it is left (the compiler and the
// linker that go started included) and neither is any of its temporary
// directories (go's go-build work directory, the build's GOTMPDIR).
func TestDevInterruptDuringRebuild(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		group  bool // signal alchemy's process group (a terminal's Ctrl-C), else alchemy alone
		relink bool // the session prepared a relink: alchemy runs the linker itself, not go
	}{
		{"SIGINT to alchemy", false, false},
		{"SIGINT to its process group", true, false},
		{"SIGINT to alchemy during a relink", false, true},
		{"SIGINT to its process group during a relink", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			devModule(t, w.dir)
			// A cache and a temp directory of this test's own, so that
			// whatever is left in them, and every process whose
			// environment names them, is this session's.
			cache, tmp := t.TempDir(), t.TempDir()
			extra := []string{"ALCHEMY_DEV_POLL=50ms", "ALCHEMY_CACHE_DIR=" + cache, "TMPDIR=" + tmp, "GOTMPDIR="}
			cmd, out := startDev(t, w, extra...)
			out.waitFor(t, "[dev] cycle 1 applied")
			if tc.relink {
				waitForRecipe(t, cache)
			}

			os.WriteFile(w.path("alchemy.run.go"), []byte(devStack("rebuilt")), 0o644)
			seen := map[[2]string]proc{} // every process of the session: pid and start time
			var linker proc
			deadline := time.Now().Add(90 * time.Second)
			for linker.pid == 0 {
				if time.Now().After(deadline) {
					t.Fatalf("the rebuild never ran the linker:\n%s", out.String())
				}
				if strings.Contains(out.String(), "[dev] cycle 2 ") {
					t.Fatalf("the rebuild finished before the linker was seen:\n%s", out.String())
				}
				for _, p := range descendants(procs(), cmd.Process.Pid) {
					seen[[2]string{strconv.Itoa(p.pid), p.start}] = p
					if p.comm == "link" && p.state != "Z" && linking(p.pid) {
						linker = p
					}
				}
				time.Sleep(2 * time.Millisecond)
			}
			// Who started the linker: alchemy itself when it relinks, else
			// the go command.
			if relinked := linker.ppid == cmd.Process.Pid; relinked != tc.relink {
				t.Fatalf("linker started by pid %d (alchemy is %d): relinking %v, want %v", linker.ppid, cmd.Process.Pid, relinked, tc.relink)
			}
			target := cmd.Process.Pid
			if tc.group {
				target = -target
			}
			syscall.Kill(target, syscall.SIGINT)
			interrupted := time.Now()
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				t.Logf("alchemy dev exited %v after SIGINT", time.Since(interrupted).Round(time.Millisecond))
				if code, _ := exitCode(t, err); code != 130 {
					t.Fatalf("exit %d after SIGINT during the link, want 130:\n%s", code, out.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("alchemy dev did not stop within 30 s of SIGINT:\n%s", out.String())
			}
			if !strings.HasSuffix(out.String(), "[dev] stopped.\n") {
				t.Errorf("the session did not say it stopped:\n%s", out.String())
			}

			// Right away: alchemy returns only once the build is gone.
			// Zombies do not count (killed orphans wait to be reaped).
			now := procs()
			for _, p := range seen {
				if q, ok := now[p.pid]; ok && q.start == p.start && q.state != "Z" {
					t.Errorf("%s (pid %d, process group %d; the linker's was %d) is still running after alchemy exited", q.comm, q.pid, q.pgrp, linker.pgrp)
				}
			}
			for _, p := range environMentions("ALCHEMY_CACHE_DIR=" + cache) {
				t.Errorf("%s (pid %d) of the interrupted session is still running", p.comm, p.pid)
			}
			// Orphans of the session come to this process (a child
			// subreaper): reap them.
			groups := map[int]bool{}
			for _, p := range seen {
				groups[p.pgrp] = true
			}
			for g := range groups {
				reapGroup(g)
			}

			// No temporary directory is left: go's work directory
			// (go-build*, in GOTMPDIR or else TMPDIR), the build's own
			// GOTMPDIR, nor the half-built executable.
			for _, dir := range []string{tmp, cache} {
				filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
					if err != nil {
						return nil
					}
					name := d.Name()
					if strings.HasPrefix(name, "go-build") || strings.Contains(name, "gotmp") || strings.Contains(name, ".tmp-") {
						t.Errorf("left behind: %s", path)
						if d.IsDir() {
							return filepath.SkipDir
						}
					}
					return nil
				})
			}

			// The interrupted build left the cache usable.
			r := w.runEnv(extra[1:], "plan")
			if r.code != 0 || !strings.Contains(r.stdout, "Plan: 1 to update") {
				t.Errorf("plan after the interrupted rebuild: %s", r)
			}
		})
	}
}

// waitForRecipe waits until the dev session using cache prepared a relink
// of its stack (stackrun.Builder.Prepare).
func waitForRecipe(t *testing.T, cache string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if recipes, _ := filepath.Glob(filepath.Join(cache, "stacks", "*", "*.relink")); len(recipes) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the session never prepared a relink")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
