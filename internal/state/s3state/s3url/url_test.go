package s3url

import (
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	for raw, want := range map[string]Location{
		"s3://bucket":     {Bucket: "bucket"},
		"s3://my.bucket/": {Bucket: "my.bucket"},
		"s3://bucket/teams/infra/?region=eu-west-1": {Bucket: "bucket", Prefix: "teams/infra/", Region: "eu-west-1"},
		"s3://b-1/p?endpoint=http://127.0.0.1:9000&region=us-east-1": {Bucket: "b-1", Prefix: "p/", Region: "us-east-1",
			Endpoint: "http://127.0.0.1:9000", PathStyle: true},
		"s3://b-1/p?endpoint=https://acct.r2.cloudflarestorage.com/&path_style=false": {Bucket: "b-1", Prefix: "p/",
			Endpoint: "https://acct.r2.cloudflarestorage.com"},
		"s3://bucket/p?region=eu-west-1&profile=state-admin": {Bucket: "bucket", Prefix: "p/", Region: "eu-west-1", Profile: "state-admin"},
	} {
		got, err := ParseURL(raw)
		if err != nil || got != want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", raw, got, err, want)
			continue
		}
		if back, err := ParseURL(got.String()); err != nil || back != got {
			t.Errorf("ParseURL(%q).String() = %q reads back as %+v, %v", raw, got.String(), back, err)
		}
	}
	for raw, want := range map[string]string{
		"file:///x":                                   `starts with "s3://"`,
		"s3://AKIAXX:s3cr3tvalue@bucket/p":            "must not carry credentials",
		"s3://Bucket":                                 "not a bucket name",
		"s3://bucket/a//b":                            "empty",
		"s3://bucket/../b":                            "'..'",
		"s3://bucket?endpoint=ftp://x":                "endpoint must be http(s)",
		"s3://bucket?endpoint=http://u:s3cr3tvalue@h": "must not carry credentials",
		"s3://bucket?regio=x":                         `unknown parameter "regio"`,
		"s3://bucket?path_style=maybe":                "not true or false",
		"s3://bucket?profile=../../etc":               "is not a profile name",
		"s3://bucket?profile=-x":                      "is not a profile name",
		"s3://bucket?profile=":                        "is not a profile name",
	} {
		_, err := ParseURL(raw)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "s3cr3tvalue") {
			t.Errorf("ParseURL(%q) = %v, want an error with %q and no secret", raw, err, want)
		}
	}
}
