package alchemy

import (
	"reflect"
	"testing"

	"github.com/alchemy-go/alchemy/internal/engine"
)

func TestStringMap(t *testing.T) {
	a := Output[string]{v: attr{fqn: "A", name: "id"}}
	m := StringMap(map[string]Output[string]{"X": a, "Y": String("lit"), "Z": Sprintf("%s-z", a)})
	if got := m.v.Deps(); !reflect.DeepEqual(got, []string{"A"}) {
		t.Fatalf("deps = %v", got)
	}
	unknown := func(string) (map[string]any, bool) { return nil, false }
	if _, known, _ := m.v.Eval(unknown); known {
		t.Fatal("known before A is")
	}
	known := engine.Lookup(func(fqn string) (map[string]any, bool) { return map[string]any{"id": "a1"}, true })
	v, ok, err := m.v.Eval(known)
	if err != nil || !ok || !reflect.DeepEqual(v, map[string]string{"X": "a1", "Y": "lit", "Z": "a1-z"}) {
		t.Fatalf("value = %v %v %v", v, ok, err)
	}
}
