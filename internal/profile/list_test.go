package profile_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/alchemy-go/alchemy/internal/profile"
)

// TestNamesReadsNoSecret: Names lists a v1 home's profiles from its
// directories without opening the files that hold the secrets: a file
// that Load warns about (it reads it) gives no warning here. No lock is
// taken either: shell completion calls it on every Tab.
func TestNamesReadsNoSecret(t *testing.T) {
	s, warnings := v1Store(t)
	writeFile(t, filepath.Join(s.Root(), "profiles", "work", "cloudflare.json"), `{not json, "apiToken":"cf-secret"`)
	writeFile(t, filepath.Join(s.Root(), "profiles", "..bad", "aws.json"), `{}`)
	names, err := s.Names()
	if err != nil || !reflect.DeepEqual(names, []string{"default", "work"}) || len(*warnings) != 0 {
		t.Fatalf("Names() = %v, %v; warnings %v", names, err, *warnings)
	}
	if _, err := os.Stat(filepath.Join(s.Root(), "lock")); !os.IsNotExist(err) {
		t.Errorf("Names created the lock directory (%v)", err)
	}
	// The same home through Load reads the file, and says so.
	if _, err := s.Load(); err != nil || len(*warnings) == 0 {
		t.Fatalf("Load() = %v with warnings %v; the test's file should be reported", err, *warnings)
	}
}

// TestNamesV0: a seed-layout home lists the profiles of profiles.json; a
// home with no file has none.
func TestNamesV0(t *testing.T) {
	root := t.TempDir()
	s := profile.New(root, nil)
	if names, err := s.Names(); err != nil || len(names) != 0 {
		t.Fatalf("empty home: %v, %v", names, err)
	}
	writeFile(t, filepath.Join(root, "profiles.json"), `{"version":0,"profiles":{"prod":{},"default":{"GitHub":{"method":"env"}}}}`)
	if names, err := s.Names(); err != nil || !reflect.DeepEqual(names, []string{"default", "prod"}) {
		t.Fatalf("Names() = %v, %v", names, err)
	}
	writeFile(t, filepath.Join(root, "profiles.json"), `{"version":0,"profiles":`)
	if _, err := s.Names(); err == nil {
		t.Fatal("a truncated profiles.json gave names, not an error")
	}
}
