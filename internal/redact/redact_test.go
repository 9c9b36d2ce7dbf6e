package redact

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestRegistry(t *testing.T) {
	Reset()
	defer Reset()
	if got := String("nothing registered"); got != "nothing registered" {
		t.Fatal(got)
	}
	Add("ghp_abcdefghijklmnop1234", "short", "")
	for in, want := range map[string]string{
		"token ghp_abcdefghijklmnop1234 rejected":   "token ghp_**** rejected",
		"a cut-short ghp_abcdef...":                 "a cut-short ghp_****ef...",
		"short words stay":                          "short words stay",
		"ghp_abcdefghijklmnop1234ghp_abcdefghijklm": "ghp_****ghp_****efghijklm",
	} {
		if got := String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
	var b bytes.Buffer
	w := Writer{W: &b}
	n, err := fmt.Fprintf(w, "key=%s\n", "ghp_abcdefghijklmnop1234")
	if err != nil || n != len("key=ghp_abcdefghijklmnop1234\n") || b.String() != "key=ghp_****\n" {
		t.Fatalf("Writer wrote %q (%d, %v)", b.String(), n, err)
	}
	base := errors.New("bad token ghp_abcdefghijklmnop1234")
	err = Error(base)
	if strings.Contains(err.Error(), "ijklmnop") || !errors.Is(err, base) {
		t.Fatalf("Error = %v (unwraps: %v)", err, errors.Is(err, base))
	}
}
