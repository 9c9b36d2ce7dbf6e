package stackrun

import "testing"

func TestDeclaresStack(t *testing.T) {
	cases := []struct {
		src  string
		want bool
	}{
		{"package main\nimport \"github.com/alchemy-go/alchemy\"\nfunc main() { alchemy.Run(\"x\", nil) }", true},
		{"package main\nimport a \"github.com/alchemy-go/alchemy\"\nfunc main() { a.Run(\"x\", nil) }", true},
		{"package main\n// alchemy.Run(\"x\", nil)\nfunc main() {}", false},
		{"package main\nfunc main() { println(\"alchemy.Run(\") }", false},
		{"package main\nimport a \"github.com/alchemy-go/alchemy\"\nfunc main() { alchemy.Run() }", false},
		{"package main\nfunc main( {", true}, // left to the compiler
	}
	for _, c := range cases {
		if got := declaresStack([]byte(c.src)); got != c.want {
			t.Errorf("declaresStack(%q) = %v, want %v", c.src, got, c.want)
		}
	}
}
