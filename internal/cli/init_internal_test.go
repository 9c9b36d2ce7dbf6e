package cli

import (
	"os"
	"regexp"
	"testing"
)

// A module `alchemy init` writes asks for the Go the SDK asks for.
func TestInitGoVersionIsTheSDKs(t *testing.T) {
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if m == nil || string(m[1]) != sdkGoVersion {
		t.Fatalf("go.mod says go %q, sdkGoVersion is %q: update sdkGoVersion in init.go", m, sdkGoVersion)
	}
}
