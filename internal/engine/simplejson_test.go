package engine

import (
	"encoding/json"
	"math"
	"testing"
)

// appendSimpleJSON must write exactly what json.Marshal writes whenever it
// says it could: a plan compares the bytes with the stored props.
func TestAppendSimpleJSONMatchesMarshal(t *testing.T) {
	for _, props := range []map[string]any{
		{},
		{"length": float64(12)},
		{"b": "x", "a": float64(-3), "c": true, "d": nil, "e": false},
		{"path": "out/file.txt", "content": "value abc\n"},
		{"html": "<b>&</b>"},
		{"quote": `say "hi"`, "slash": `a\b`},
		{"unicode": "héllo", "ctl": "\x01"},
		{"big": float64(1 << 53), "frac": 1.5, "neg0": math.Copysign(0, -1), "tiny": 1e-7},
		{"list": []any{"a"}, "map": map[string]any{"k": "v"}},
		{"key<": "v"},
		{"zz": float64(9007199254740991), "aa": float64(-9007199254740991)},
	} {
		want, err := json.Marshal(props)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendSimpleJSON(nil, props)
		if ok && string(got) != string(want) {
			t.Errorf("appendSimpleJSON(%v) = %s, json.Marshal = %s", props, got, want)
		}
	}
	// The common shapes take the fast way.
	for _, props := range []map[string]any{{"length": float64(12)}, {"path": "a.txt", "content": "x y", "mode": nil, "on": true}} {
		if _, ok := appendSimpleJSON(nil, props); !ok {
			t.Errorf("appendSimpleJSON(%v) fell back", props)
		}
	}
}

func FuzzAppendSimpleJSON(f *testing.F) {
	f.Add("k", "v", 1.0, true)
	f.Add("a<", "\"", -0.0, false)
	f.Add("", "é", 1e300, true)
	f.Fuzz(func(t *testing.T, k, v string, n float64, b bool) {
		props := map[string]any{k: v, k + "n": n, k + "b": b, "z" + k: nil}
		want, err := json.Marshal(props)
		if err != nil {
			return // NaN, Inf
		}
		if got, ok := appendSimpleJSON(nil, props); ok && string(got) != string(want) {
			t.Fatalf("appendSimpleJSON(%v) = %s, json.Marshal = %s", props, got, want)
		}
	})
}
