// Package s3url is the s3:// state URL: parsed and described without the S3
// client, so that every program can say what a URL names and only one that
// opens such a store links the client (internal/state/s3state).
package s3url

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Location is where a store lives: s3://Bucket/Prefix, in Region, at
// Endpoint (an S3-compatible service such as R2 or MinIO; empty for AWS).
type Location struct {
	Bucket string
	// Prefix is "" (the bucket's root) or a path ending in "/":
	// "teams/infra/".
	Prefix string
	// Region signs the requests; empty takes the AWS config's region.
	Region string
	// Endpoint is the service's base URL, http(s)://host[:port]; empty
	// takes the AWS config's BaseEndpoint (the CLI sets it from
	// AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL), else AWS's.
	Endpoint string
	// PathStyle addresses https://endpoint/bucket/key rather than
	// https://bucket.endpoint/key. ParseURL sets it when an endpoint is
	// given, unless the URL says path_style=false.
	PathStyle bool
	// Profile is the alchemy profile whose AWS provider signs the requests
	// (?profile=NAME: state kept in an account of its own); empty means the
	// profile the command runs with.
	Profile string
}

// validBucket checks a bucket name the way S3 does, loosely: 3 to 63
// lowercase letters, digits, '.', '-' (and '_', which some S3-compatible
// services allow), starting and ending with a letter or digit. (No regexp:
// its compilation would run at every start of the CLI.)
func validBucket(name string) bool {
	if len(name) < 3 || len(name) > 63 || strings.Contains(name, "..") {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || i == len(name)-1 || (c != '.' && c != '-' && c != '_')) {
			return false
		}
	}
	return true
}

// validProfile is a profile name as alchemy accepts one
// (profile.ValidateName): 1 to 64 ASCII letters, digits, '.', '_', '-',
// starting with a letter or digit.
func validProfile(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || (c != '.' && c != '-' && c != '_')) {
			return false
		}
	}
	return true
}

// ParseURL reads a state URL:
//
//	s3://bucket
//	s3://bucket/prefix/of/keys?region=eu-west-1
//	s3://bucket/prefix?endpoint=https://ACCOUNT.r2.cloudflarestorage.com&region=auto
//	s3://bucket/prefix?endpoint=http://127.0.0.1:9000&path_style=false
//	s3://bucket/prefix?region=eu-west-1&profile=state-admin
//
// Credentials never go in the URL: they come from the AWS provider of the
// profile the command runs with, or of the one ?profile= names.
func ParseURL(raw string) (Location, error) {
	var loc Location
	rest, ok := strings.CutPrefix(raw, "s3://")
	if !ok {
		return loc, errors.New(`an S3 state URL starts with "s3://": s3://bucket/prefix?region=eu-west-1`)
	}
	if at := strings.IndexByte(rest, '@'); at >= 0 && at < strings.IndexAny(rest+"/?", "/?") {
		return loc, errors.New("an S3 state URL must not carry credentials (user:secret@): they come from the profile's AWS provider")
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // never echo the URL back
		}
		return loc, fmt.Errorf("invalid S3 state URL: %v", err)
	}
	loc.Bucket = u.Host
	if !validBucket(loc.Bucket) {
		return loc, fmt.Errorf("invalid S3 state URL: %q is not a bucket name (3 to 63 lowercase letters, digits, '.', '-')", loc.Bucket)
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		for _, seg := range strings.Split(p, "/") {
			if seg == "" || seg == "." || seg == ".." {
				return loc, fmt.Errorf("invalid S3 state URL: the prefix %q has an empty, '.' or '..' segment", p)
			}
		}
		loc.Prefix = p + "/"
	}
	if u.Fragment != "" {
		return loc, errors.New("invalid S3 state URL: it has a #fragment")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return loc, fmt.Errorf("invalid S3 state URL query: %v", err)
	}
	pathStyle := ""
	for k, vs := range q {
		if len(vs) != 1 {
			return loc, fmt.Errorf("invalid S3 state URL: %s is given %d times", k, len(vs))
		}
		switch v := vs[0]; k {
		case "region":
			loc.Region = v
		case "endpoint":
			e, err := url.Parse(v)
			if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
				return loc, fmt.Errorf("invalid S3 state URL: endpoint must be http(s)://host[:port], got %q", redactURL(v))
			}
			if e.User != nil {
				return loc, errors.New("invalid S3 state URL: the endpoint must not carry credentials")
			}
			loc.Endpoint = strings.TrimSuffix(v, "/")
		case "path_style":
			pathStyle = v
		case "profile":
			if !validProfile(v) {
				return loc, fmt.Errorf("invalid S3 state URL: profile=%q is not a profile name (letters, digits, '.', '_', '-', starting with a letter or digit)", v)
			}
			loc.Profile = v
		default:
			return loc, fmt.Errorf("invalid S3 state URL: unknown parameter %q (known: region, endpoint, path_style, profile)", k)
		}
	}
	loc.PathStyle = loc.Endpoint != ""
	if pathStyle != "" {
		b, err := strconv.ParseBool(pathStyle)
		if err != nil {
			return loc, fmt.Errorf("invalid S3 state URL: path_style=%q is not true or false", pathStyle)
		}
		loc.PathStyle = b
	}
	return loc, nil
}

// String is the URL ParseURL reads back.
func (l Location) String() string {
	s := l.Describe()
	q := url.Values{}
	if l.Region != "" {
		q.Set("region", l.Region)
	}
	if l.Endpoint != "" {
		q.Set("endpoint", l.Endpoint)
		if !l.PathStyle {
			q.Set("path_style", "false")
		}
	} else if l.PathStyle {
		q.Set("path_style", "true")
	}
	if l.Profile != "" {
		q.Set("profile", l.Profile)
	}
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

// Describe is s3://bucket/prefix, for people.
func (l Location) Describe() string {
	if l.Prefix == "" {
		return "s3://" + l.Bucket
	}
	return "s3://" + l.Bucket + "/" + strings.TrimSuffix(l.Prefix, "/")
}

// redactURL drops anything that could be a secret from a URL (userinfo,
// query) before it goes into an error.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable)"
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}
