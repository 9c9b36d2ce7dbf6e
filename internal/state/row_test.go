package state

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// tsRow is a row as the TypeScript tool writes it: an update in flight on a
// namespaced bucket, with the fields this tool does not model (namespace,
// bindings, providerMode, adopting) and a {props, bindings, attr} snapshot.
const tsRow = `{
  "kind": "resource",
  "resourceType": "AWS.S3.Bucket",
  "namespace": {
    "Id": "Api",
    "Parent": {
      "Id": "App"
    }
  },
  "fqn": "App/Api/Bucket_1",
  "logicalId": "Bucket_1",
  "instanceId": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
  "providerVersion": 2,
  "status": "updating",
  "downstream": [
    "App/Api/Function"
  ],
  "bindings": [
    {
      "sid": "Read",
      "data": {
        "policy": "s3:GetObject"
      }
    }
  ],
  "props": {
    "bucketName": "app-api-bucket-1",
    "tags": {
      "note": "<a & b>"
    },
    "token": {
      "__redacted__": "s3cr3t"
    }
  },
  "attr": {
    "arn": "arn:aws:s3:::app-api-bucket-1",
    "empty": null
  },
  "removalPolicy": "retain",
  "providerMode": "live",
  "adopting": true,
  "old": {
    "props": {
      "bucketName": "app-api-bucket-1"
    },
    "bindings": [],
    "attr": {
      "arn": "arn:aws:s3:::app-api-bucket-1"
    }
  }
}`

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%v in %s", err, a)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
	return reflect.DeepEqual(x, y)
}

func TestRowRoundTripKeepsUnknownFields(t *testing.T) {
	var row Row
	if err := json.Unmarshal([]byte(tsRow), &row); err != nil {
		t.Fatal(err)
	}
	if row.FQN != "App/Api/Bucket_1" || row.Status != Updating || row.ProviderVersion != 2 ||
		row.RemovalPolicy != "retain" || len(row.Downstream) != 1 || row.Old == nil {
		t.Fatalf("modelled fields not read: %+v", row)
	}
	for _, k := range []string{"namespace", "bindings", "providerMode", "adopting"} {
		if _, ok := row.Extra[k]; !ok {
			t.Errorf("Extra lacks %q: %v", k, row.Extra)
		}
	}
	if _, ok := row.Old.Extra["bindings"]; !ok {
		t.Errorf("old snapshot lost its bindings")
	}
	out, err := marshalIndent(&row)
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(t, out, []byte(tsRow)) {
		t.Fatalf("round trip changed the row:\n%s", out)
	}
	// Written like JSON.stringify(row, null, 2): no HTML escaping.
	if !strings.Contains(string(out), `"note": "<a & b>"`) {
		t.Errorf("HTML characters escaped:\n%s", out)
	}
	// The modelled fields come first, in the TypeScript tool's order.
	if !regexp.MustCompile(`(?s)^\{\n  "kind".*"resourceType".*"fqn".*"logicalId".*"instanceId".*"providerVersion".*"status".*"downstream"`).Match(out) {
		t.Errorf("unexpected field order:\n%s", out)
	}
}

func TestRowReplacedChainRoundTrip(t *testing.T) {
	const chain = `{"resourceType":"T","fqn":"x","logicalId":"x","instanceId":"c","providerVersion":0,"status":"replaced","downstream":[],"props":{"v":3},"attr":{"id":"3"},"deleteFirst":true,
	  "old":{"resourceType":"T","fqn":"x","logicalId":"x","instanceId":"b","providerVersion":0,"status":"replacing","downstream":[],"props":{"v":2},
	    "old":{"kind":"resource","resourceType":"T","fqn":"x","logicalId":"x","instanceId":"a","providerVersion":0,"status":"created","downstream":["y"],"props":{"v":1},"attr":{"id":"1"},"providerMode":"local"}}}`
	var row Row
	if err := json.Unmarshal([]byte(chain), &row); err != nil {
		t.Fatal(err)
	}
	if row.Old == nil || row.Old.Old == nil || row.Old.Old.InstanceID != "a" || row.Old.Old.Extra["providerMode"] == nil {
		t.Fatalf("chain not read: %+v", row)
	}
	out, err := json.Marshal(row) // a value, not a pointer: MarshalJSON must still apply
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(t, out, []byte(chain)) {
		t.Fatalf("round trip changed the chain:\n%s", out)
	}
}

func TestRowMarshal(t *testing.T) {
	for _, tc := range []struct {
		name string
		row  Row
		want string
	}{
		{"downstream is never null", Row{ResourceType: "T", FQN: "a", LogicalID: "a", Status: Creating},
			`{"resourceType":"T","fqn":"a","logicalId":"a","instanceId":"","providerVersion":0,"status":"creating","downstream":[]}`},
		{"extra follows, sorted; known names in Extra are ignored",
			Row{FQN: "a", Status: Created, Extra: map[string]json.RawMessage{"z": json.RawMessage(`1`), "b": json.RawMessage(`{"k": [1, 2]}`), "status": json.RawMessage(`"x"`)}},
			`{"resourceType":"","fqn":"a","logicalId":"","instanceId":"","providerVersion":0,"status":"created","downstream":[],"b":{"k":[1,2]},"z":1}`},
		{"an updating row's snapshot has no identity fields",
			Row{Props: json.RawMessage(`{"a":1}`), Extra: map[string]json.RawMessage{"bindings": json.RawMessage(`[]`)}},
			`{"props":{"a":1},"bindings":[]}`},
		{"null props survive", Row{FQN: "a", Status: Created, Props: json.RawMessage(`null`)},
			`{"resourceType":"","fqn":"a","logicalId":"","instanceId":"","providerVersion":0,"status":"created","downstream":[],"props":null}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(&tc.row)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestRowUnmarshalNulls(t *testing.T) {
	var row Row
	if err := json.Unmarshal([]byte(`{"fqn":"a","downstream":null,"props":null,"old":null}`), &row); err != nil {
		t.Fatal(err)
	}
	if row.Downstream != nil || string(row.Props) != "null" || row.Old != nil {
		t.Fatalf("%+v", row)
	}
	if err := json.Unmarshal([]byte(`{"fqn":"a","status":5}`), &row); err == nil || !strings.Contains(err.Error(), `"status"`) {
		t.Fatalf("a wrongly typed field: %v", err)
	}
}

func TestStable(t *testing.T) {
	for s, want := range map[Status]bool{
		Creating: false, Created: true, Updating: false, Updated: true,
		Deleting: false, Replacing: false, Replaced: true,
	} {
		if got := (&Row{Status: s}).Stable(); got != want {
			t.Errorf("%s: Stable() = %v", s, got)
		}
	}
}

func TestNewInstanceID(t *testing.T) {
	a, b := NewInstanceID(), NewInstanceID()
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(a) || a == b {
		t.Fatalf("%q %q", a, b)
	}
}

// The one-pass decoding of a row reads exactly what the field-by-field one
// does, whatever the row holds.
func FuzzRowUnmarshalPaths(f *testing.F) {
	for _, seed := range []string{
		tsRow,
		`{"kind":"resource","resourceType":"T","fqn":"a/b","logicalId":"b","instanceId":"00","providerVersion":2,"status":"created","downstream":["x","y"],"props":{"s":"a}b\"c","n":[1,{"x":null}]},"attr":{"v":"\u00e9"},"removalPolicy":"retain","deleteFirst":true,"claimed":true}`,
		`{"fqn":"a","downstream":null,"props":null,"old":null,"attr":null}`,
		`{"fqn":"a","status":5}`,
		`{"fqn":"a","providerVersion":1.5}`,
		`{"Status":"created","fqn":"a"}`,
		`{"fq\u006e":"a"}`,
		`{"fqn":"a","fqn":"b"}`,
		` { "fqn" : "a" , "status" : "replaced" , "old" : { "fqn" : "a" , "status" : "created" , "bindings" : [ ] } } `,
		`{}`,
		`null`,
		`{"fqn":"a","extra":{"deep":[{"}":"]"}]}}`,
		`{"kind":"a","kind":null}`,
		`{"x":1,"x":2,"fqn":"\ud800"}`,
		`{"downstream":["a",null,""],"providerVersion":-0,"claimed":null}`,
		`{"old":{"x":[],"old":null},"deleteFirst":false,"attr":"s","props":[1]}`,
		"{\"fqn\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		var fast, slow Row
		errFast := fast.UnmarshalJSON(data)
		errSlow := slow.unmarshalFields(data)
		if (errFast == nil) != (errSlow == nil) {
			t.Fatalf("%s: one-pass error %v, field by field %v", data, errFast, errSlow)
		}
		if errSlow != nil {
			if errFast.Error() != errSlow.Error() {
				t.Fatalf("%s: errors differ: %v / %v", data, errFast, errSlow)
			}
			return
		}
		a, _ := json.Marshal(fast)
		b, _ := json.Marshal(slow)
		if string(a) != string(b) || !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%s:\none-pass    %s\nfield by field %s", data, a, b)
		}
	})
}

// The direct writing of a row writes exactly what encoding/json does.
func FuzzRowMarshalPaths(f *testing.F) {
	f.Add(tsRow)
	f.Add(`{"kind":"resource","resourceType":"T <&>","fqn":"a/b\"c","logicalId":"é","instanceId":"\u2028","providerVersion":-3,"status":"created","downstream":["x","\n"],"props":{ "a" : [1, 2] },"attr":null,"claimed":true,"deleteFirst":true,"old":{"props":{},"x":null}}`)
	f.Add(`{"fqn":"a","status":"replaced","old":{"fqn":"a","status":"replacing","old":{"fqn":"a","status":"created"}}}`)
	f.Add(`{"props":{"a":1},"bindings":[]}`)
	f.Add(`{"fqn":"a","Status":"x","status":"created","zz":"\u003c"}`)
	f.Fuzz(func(t *testing.T, data string) {
		var row Row
		if json.Unmarshal([]byte(data), &row) != nil {
			return
		}
		for _, r := range []Row{row, {FQN: "x", Props: json.RawMessage(data), Extra: map[string]json.RawMessage{"e": json.RawMessage(data), "n": nil}}} {
			fast, fastErr := r.MarshalJSON()
			slow, slowErr := r.marshalFields()
			if (fastErr == nil) != (slowErr == nil) || string(fast) != string(slow) {
				t.Fatalf("%s:\ndirect         %s (%v)\nencoding/json  %s (%v)", data, fast, fastErr, slow, slowErr)
			}
		}
	})
}

// A row file read in one pass reads as it does compacted and decoded, and
// the one pass accepts nothing that is not valid JSON.
func FuzzRowFile(f *testing.F) {
	var indented bytes.Buffer
	json.Indent(&indented, []byte(tsRow), "", "  ")
	for _, seed := range []string{tsRow, indented.String(), `{"fqn":"a"} x`, `{"fqn":"a",}`, `{"providerVersion":01}`, `{"props":{]}`,
		`{"old":{"fqn":"b"}  ,"fqn":"a"}`, "{\"fqn\":\"a\"}\n", `{"fqn" "a"}`, `{"downstream":["a" "b"]}`, `null`, `{"claimed":tru}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		row, ok := decodeRowFile(data)
		var compact bytes.Buffer
		if err := json.Compact(&compact, data); err != nil {
			if ok {
				t.Fatalf("%q is not valid JSON, read as %+v", data, row)
			}
			return
		}
		if !ok {
			return // the long way
		}
		var want Row
		if err := want.UnmarshalJSON(compact.Bytes()); err != nil {
			t.Fatalf("%q: read in one pass, but compacted: %v", data, err)
		}
		if !reflect.DeepEqual(row, want) {
			t.Fatalf("%q:\none pass  %+v\ncompacted %+v", data, row, want)
		}
	})
}
