package state

import "testing"

func TestEncodeDecodeFQN(t *testing.T) {
	for _, tc := range []struct{ fqn, name string }{
		{"Bucket", "Bucket"},
		{"Api/Bucket", "Api__Bucket"},
		{"a/b/c", "a__b__c"},
		{"my_bucket", "my%5Fbucket"},
		{"100%", "100%25"},
		{`a\b`, "a%5Cb"},
		{`a/b_c%d\e`, "a__b%5Fc%25d%5Ce"},
		{"a__b", "a%5F%5Fb"},
		{"/", "__"},
		{"//", "____"},
		{"_/", "%5F__"},
		{"%5F", "%255F"},
		{"", ""},
		{"ünï cødé.x-y", "ünï cødé.x-y"},
	} {
		if got := EncodeFQN(tc.fqn); got != tc.name {
			t.Errorf("EncodeFQN(%q) = %q, want %q", tc.fqn, got, tc.name)
		}
		got, err := DecodeFQN(tc.name)
		if err != nil || got != tc.fqn {
			t.Errorf("DecodeFQN(%q) = %q, %v; want %q", tc.name, got, err, tc.fqn)
		}
	}
}

func TestDecodeFQNLowercaseHex(t *testing.T) {
	if got, err := DecodeFQN("a%5fb%5cc"); err != nil || got != `a_b\c` {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestDecodeFQNRejects(t *testing.T) {
	for _, name := range []string{
		"a_b",   // legacy: a lone underscore
		"a___b", // an odd run
		"_",
		"a%",
		"a%5",
		"a%41", // only %25, %5F, %5C are escapes
		"%zz",
	} {
		if got, err := DecodeFQN(name); err == nil {
			t.Errorf("DecodeFQN(%q) = %q, want an error", name, got)
		}
	}
}

func TestLegacyName(t *testing.T) {
	for _, tc := range []struct {
		fqn, legacy string
		ok          bool
	}{
		{"Api/Bucket", "", false}, // same name in both encodings
		{"Api/my_bucket", "Api__my_bucket", true},
		{"100%", "100%", true},
		{`a\b`, `a\b`, true},
		{"a__b", "", false},             // legacy "a__b" is the current name of "a/b"
		{"__stack_output__", "", false}, // never read the output record as a row
	} {
		legacy, ok := legacyName(tc.fqn)
		if legacy != tc.legacy || ok != tc.ok {
			t.Errorf("legacyName(%q) = %q, %v; want %q, %v", tc.fqn, legacy, ok, tc.legacy, tc.ok)
		}
	}
}

func TestFQNFromFileStem(t *testing.T) {
	for stem, fqn := range map[string]string{
		"Api__Bucket":      "Api/Bucket",
		"Api__my%5Fbucket": "Api/my_bucket",
		"Api__my_bucket":   "Api/my_bucket", // legacy
		"100%":             "100%",          // legacy
		"a%41":             "a%41",          // legacy: not a current encoding
		"a%5fb":            "a%5fb",         // legacy: current encodings use upper-case hex
	} {
		if got := fqnFromFileStem(stem); got != fqn {
			t.Errorf("fqnFromFileStem(%q) = %q, want %q", stem, got, fqn)
		}
	}
}
