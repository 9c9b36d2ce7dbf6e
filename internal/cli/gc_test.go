package cli

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	old, had := os.LookupEnv("GOGC")
	t.Cleanup(func() {
		if had {
			os.Setenv("GOGC", old)
		} else {
			os.Unsetenv("GOGC")
		}
	})
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	os.Unsetenv("GOGC")
	tuneGC()
	if got := debug.SetGCPercent(100); got != stackGCPercent {
		t.Errorf("without GOGC: GC percent %d, want %d", got, stackGCPercent)
	}
	os.Setenv("GOGC", "50")
	debug.SetGCPercent(50)
	tuneGC()
	if got := debug.SetGCPercent(100); got != 50 {
		t.Errorf("with GOGC=50: GC percent %d, want the user's 50", got)
	}
}
