package aws_test

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/aws"
	"github.com/alchemy-go/alchemy/internal/cli"
	"github.com/alchemy-go/alchemy/internal/stacktest"
	"github.com/alchemy-go/alchemy/internal/testpeers"
	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

type bucketConfig struct {
	present bool
	name    string
	tags    map[string]string
}

func bucketStack(c *bucketConfig) *cli.StackProgram {
	return stacktest.Program("s3test", func(s *alchemy.Stack) {
		if !c.present {
			return
		}
		props := aws.S3BucketProps{Tags: alchemy.V(c.tags)}
		if c.name != "" {
			props.BucketName = alchemy.String(c.name)
		}
		b := aws.NewS3Bucket(s, "Bucket", props)
		s.Output("bucket", b.BucketName)
		s.Output("arn", b.ARN)
	})
}

func buckets(t *testing.T, c *s3.Client) []string {
	t.Helper()
	out, err := c.ListBuckets(context.Background(), &s3.ListBucketsInput{})
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	var names []string
	for _, b := range out.Buckets {
		names = append(names, sdkaws.ToString(b.Name))
	}
	slices.Sort(names)
	return names
}

func putObjects(t *testing.T, c *s3.Client, bucket string, n int) {
	t.Helper()
	for i := range n {
		key := "dir/obj-" + string(rune('a'+i))
		if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &bucket, Key: &key,
			Body: strings.NewReader("data " + key)}); err != nil {
			t.Fatalf("PutObject %s: %v", key, err)
		}
	}
}

func startS3rver(t *testing.T) *s3.Client {
	t.Helper()
	started := time.Now()
	peer := testpeers.S3rver(t)
	t.Logf("s3rver ready in %v", time.Since(started).Round(time.Millisecond))
	awsTestEnv(t, map[string]string{"AWS_ENDPOINT_URL_S3": peer.URL})
	return s3.NewFromConfig(sdkConfig(t))
}

// TestS3BucketLifecycle drives a bucket through the engine against s3rver,
// which checks the access key of every signed request, so it also proves the
// AWS credentials flow from the environment into the provider.
func TestS3BucketLifecycle(t *testing.T) {
	c := startS3rver(t)
	// s3rver answers 501 to bucket tagging.
	t.Setenv(aws.EnvTolerateNotImplemented, "1")
	cfg := &bucketConfig{present: true, tags: map[string]string{"team": "a"}}

	// Create.
	r := mustRun(t, bucketStack(cfg), "deploy", "--yes")
	got := buckets(t, c)
	if len(got) != 1 || !strings.HasPrefix(got[0], "s3test-bucket-dev-tester-") || len(got[0]) > 63 {
		t.Fatalf("buckets after create: %v", got)
	}
	first := got[0]
	if !strings.Contains(r.out, "arn: arn:aws:s3:::"+first) {
		t.Errorf("deploy output lacks the ARN:\n%s", r.out)
	}
	putObjects(t, c, first, 3)

	// No-op re-deploy.
	r = mustRun(t, bucketStack(cfg), "deploy", "--yes")
	if !strings.Contains(r.out, "Plan: no changes") {
		t.Errorf("re-deploy was not a no-op:\n%s", r.out)
	}

	// Update (tags): in place.
	cfg.tags = map[string]string{"team": "b"}
	r = mustRun(t, bucketStack(cfg), "deploy", "--yes")
	if !strings.Contains(r.out, "Plan: 1 to update") {
		t.Errorf("tag change is not an update:\n%s", r.out)
	}
	if got := buckets(t, c); !slices.Equal(got, []string{first}) {
		t.Fatalf("buckets after update: %v", got)
	}

	// Replace (name change): the new bucket is created, the old one, which
	// holds objects, emptied and deleted.
	cfg.name = "s3test-renamed-bucket"
	r = mustRun(t, bucketStack(cfg), "deploy", "--yes")
	if !strings.Contains(r.out, "Plan: 1 to replace") {
		t.Errorf("name change is not a replace:\n%s", r.out)
	}
	if got := buckets(t, c); !slices.Equal(got, []string{"s3test-renamed-bucket"}) {
		t.Fatalf("buckets after replace: %v", got)
	}
	putObjects(t, c, "s3test-renamed-bucket", 2)

	// Removal from the stack deletes it.
	cfg.present = false
	mustRun(t, bucketStack(cfg), "deploy", "--yes")
	if got := buckets(t, c); len(got) != 0 {
		t.Fatalf("buckets after removal: %v", got)
	}

	// Destroy of a bucket deleted behind alchemy's back succeeds.
	cfg.present, cfg.name = true, ""
	mustRun(t, bucketStack(cfg), "deploy", "--yes")
	got = buckets(t, c)
	if len(got) != 1 || got[0] == first {
		t.Fatalf("buckets after re-create: %v (a new generation must get a new name)", got)
	}
	if _, err := c.DeleteBucket(context.Background(), &s3.DeleteBucketInput{Bucket: &got[0]}); err != nil {
		t.Fatal(err)
	}
	mustRun(t, bucketStack(cfg), "destroy", "--yes")
	if _, err := os.Stat(filepath.Join(".alchemy", "state", "s3test", "dev_tester")); !os.IsNotExist(err) {
		t.Fatalf("destroy left state: %v", err)
	}
}

// Without the knob, an endpoint that does not implement tagging is a
// failure: against AWS it would mean the ownership tags are missing.
func TestS3BucketNotImplementedFailsWithoutKnob(t *testing.T) {
	startS3rver(t)
	r := run(t, bucketStack(&bucketConfig{present: true}), "deploy", "--yes")
	if r.code == 0 || !strings.Contains(r.errOut, "tagging") || !strings.Contains(r.errOut, "NotImplemented") {
		t.Fatalf("want a tagging NotImplemented failure: %d\n%s\n%s", r.code, r.out, r.errOut)
	}
}

// A key s3rver does not know is refused, and the error never shows the
// secret.
func TestS3BucketBadCredentials(t *testing.T) {
	startS3rver(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000000")
	const secret = "very-secret-value-do-not-print"
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	r := run(t, bucketStack(&bucketConfig{present: true}), "deploy", "--yes")
	if r.code == 0 || !strings.Contains(r.errOut, "InvalidAccessKeyId") {
		t.Fatalf("want InvalidAccessKeyId: %d\n%s\n%s", r.code, r.out, r.errOut)
	}
	if strings.Contains(r.out+r.errOut, secret) {
		t.Fatal("the secret access key was printed")
	}
}

// taggingS3 is s3rver with bucket tagging, which s3rver answers with 501:
// this proxy in front of it keeps the buckets' tags itself (GET, PUT and
// DELETE ?tagging on a bucket that s3rver says exists; NoSuchTagSet when it
// has none) and forgets them when s3rver deletes the bucket. Everything
// else is s3rver's. It also plays buckets of another AWS account: to every
// request about a bucket in foreign it answers 403 AccessDenied, as S3 does
// to a caller without access.
type taggingS3 struct {
	up      string
	proxy   *httputil.ReverseProxy
	mu      sync.Mutex
	tags    map[string]map[string]string
	foreign map[string]bool
}

type s3Tagging struct {
	XMLName xml.Name `xml:"Tagging"`
	Tags    []struct {
		Key   string `xml:"Key"`
		Value string `xml:"Value"`
	} `xml:"TagSet>Tag"`
}

// startTaggingS3 starts s3rver and the proxy, points AWS_ENDPOINT_URL_S3 at
// the proxy and sets EnvTolerateNotImplemented (s3rver lacks versioning
// and the public access block).
func startTaggingS3(t *testing.T) (*taggingS3, *s3.Client) {
	t.Helper()
	peer := testpeers.S3rver(t)
	up, err := url.Parse(peer.URL)
	if err != nil {
		t.Fatal(err)
	}
	p := &taggingS3{up: peer.URL, proxy: httputil.NewSingleHostReverseProxy(up),
		tags: map[string]map[string]string{}, foreign: map[string]bool{}}
	ts := httptest.NewServer(p)
	t.Cleanup(ts.Close)
	awsTestEnv(t, map[string]string{"AWS_ENDPOINT_URL_S3": ts.URL})
	t.Setenv(aws.EnvTolerateNotImplemented, "1")
	return p, s3.NewFromConfig(sdkConfig(t))
}

func s3Error(w http.ResponseWriter, r *http.Request, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, code)
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (p *taggingS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	p.mu.Lock()
	foreign := p.foreign[bucket]
	p.mu.Unlock()
	_, tagging := r.URL.Query()["tagging"]
	switch {
	case bucket != "" && foreign:
		s3Error(w, r, http.StatusForbidden, "AccessDenied")
	case bucket != "" && key == "" && tagging:
		p.tagging(w, r, bucket)
	case bucket != "" && key == "" && r.Method == http.MethodDelete && r.URL.RawQuery == "":
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		p.proxy.ServeHTTP(rec, r)
		if rec.status < 300 {
			p.mu.Lock()
			delete(p.tags, bucket)
			p.mu.Unlock()
		}
	default:
		p.proxy.ServeHTTP(w, r)
	}
}

func (p *taggingS3) tagging(w http.ResponseWriter, r *http.Request, bucket string) {
	// Does s3rver know the bucket (and the caller's key)?
	head, _ := http.NewRequest(http.MethodHead, p.up+"/"+bucket, nil)
	for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
		head.Header.Set(h, r.Header.Get(h))
	}
	head.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	resp, err := http.DefaultClient.Do(head)
	if err != nil {
		s3Error(w, r, http.StatusBadGateway, "InternalError")
		return
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		s3Error(w, r, http.StatusNotFound, "NoSuchBucket")
		return
	default:
		s3Error(w, r, resp.StatusCode, "AccessDenied")
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
		tags := p.tags[bucket]
		if len(tags) == 0 {
			s3Error(w, r, http.StatusNotFound, "NoSuchTagSet")
			return
		}
		var out s3Tagging
		for _, k := range slices.Sorted(maps.Keys(tags)) {
			out.Tags = append(out.Tags, struct {
				Key   string `xml:"Key"`
				Value string `xml:"Value"`
			}{k, tags[k]})
		}
		w.Header().Set("Content-Type", "application/xml")
		xml.NewEncoder(w).Encode(out)
	case http.MethodPut:
		var in s3Tagging
		if err := xml.NewDecoder(r.Body).Decode(&in); err != nil {
			s3Error(w, r, http.StatusBadRequest, "MalformedXML")
			return
		}
		tags := map[string]string{}
		for _, t := range in.Tags {
			tags[t.Key] = t.Value
		}
		p.tags[bucket] = tags
	case http.MethodDelete:
		delete(p.tags, bucket)
		w.WriteHeader(http.StatusNoContent)
	default:
		s3Error(w, r, http.StatusMethodNotAllowed, "MethodNotAllowed")
	}
}

func bucketTags(t *testing.T, c *s3.Client, name string) map[string]string {
	t.Helper()
	out, err := c.GetBucketTagging(context.Background(), &s3.GetBucketTaggingInput{Bucket: &name})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchTagSet" {
		return map[string]string{}
	}
	if err != nil {
		t.Fatalf("GetBucketTagging %s: %v", name, err)
	}
	tags := map[string]string{}
	for _, tg := range out.TagSet {
		tags[sdkaws.ToString(tg.Key)] = sdkaws.ToString(tg.Value)
	}
	return tags
}

func putBucketTags(t *testing.T, c *s3.Client, name string, tags map[string]string) {
	t.Helper()
	var set []s3types.Tag
	for k, v := range tags {
		set = append(set, s3types.Tag{Key: sdkaws.String(k), Value: sdkaws.String(v)})
	}
	if _, err := c.PutBucketTagging(context.Background(), &s3.PutBucketTaggingInput{Bucket: &name,
		Tagging: &s3types.Tagging{TagSet: set}}); err != nil {
		t.Fatalf("PutBucketTagging %s: %v", name, err)
	}
}

func objects(t *testing.T, c *s3.Client, bucket string) []string {
	t.Helper()
	out, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &bucket})
	if err != nil {
		t.Fatalf("ListObjectsV2 %s: %v", bucket, err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, sdkaws.ToString(o.Key))
	}
	return keys
}

// createBucketDirect makes a bucket behind alchemy's back, with one object
// and tags.
func createBucketDirect(t *testing.T, c *s3.Client, name string, tags map[string]string) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &name, Key: sdkaws.String("keep.txt"), Body: strings.NewReader("keep me")}); err != nil {
		t.Fatal(err)
	}
	if len(tags) > 0 {
		putBucketTags(t, c, name, tags)
	}
}

// A bucket that exists under the declared name without this resource's
// ownership tags is refused without --adopt (untouched, and never deleted
// by destroy) and taken over with it.
func TestS3BucketExistingNeedsAdopt(t *testing.T) {
	_, c := startTaggingS3(t)
	const name = "s3test-theirs"
	createBucketDirect(t, c, name, map[string]string{"owner": "them"})
	cfg := &bucketConfig{present: true, name: name, tags: map[string]string{"team": "a"}}
	untouched := func(when string) {
		t.Helper()
		if got := buckets(t, c); !slices.Equal(got, []string{name}) {
			t.Fatalf("%s: buckets %v", when, got)
		}
		if tags := bucketTags(t, c, name); !maps.Equal(tags, map[string]string{"owner": "them"}) {
			t.Errorf("%s: tags %v", when, tags)
		}
		if objs := objects(t, c, name); !slices.Equal(objs, []string{"keep.txt"}) {
			t.Errorf("%s: objects %v", when, objs)
		}
	}

	r := run(t, bucketStack(cfg), "deploy", "--yes")
	wantRefused(t, r, "Bucket", "AWS.S3.Bucket", "bucket "+name, "")
	untouched("after the refused deploy")
	wantContains(t, mustRun(t, bucketStack(cfg), "plan"), "Plan: 1 to create")
	mustRun(t, bucketStack(cfg), "destroy", "--yes")
	untouched("after destroy")

	r = mustRun(t, bucketStack(cfg), "deploy", "--yes", "--adopt")
	wantContains(t, r, "bucket "+name+" already exists: taking it over (--adopt)")
	if tags, want := bucketTags(t, c, name), map[string]string{"team": "a", "alchemy::stack": "s3test", "alchemy::stage": "dev_tester", "alchemy::id": "Bucket"}; !maps.Equal(tags, want) {
		t.Errorf("tags after --adopt %v, want %v", tags, want)
	}
	if objs := objects(t, c, name); !slices.Equal(objs, []string{"keep.txt"}) {
		t.Errorf("objects after --adopt: %v", objs)
	}
	wantContains(t, mustRun(t, bucketStack(cfg), "plan"), "Plan: no changes")
	mustRun(t, bucketStack(cfg), "destroy", "--yes")
	if got := buckets(t, c); len(got) != 0 {
		t.Fatalf("buckets after destroying the adopted one: %v", got)
	}
}

// A bucket stamped by another stage of the same stack is that stage's: it
// is refused, naming that owner.
func TestS3BucketOfAnotherStage(t *testing.T) {
	_, c := startTaggingS3(t)
	prod := map[string]string{"alchemy::stack": "s3test", "alchemy::stage": "prod", "alchemy::id": "Bucket"}
	createBucketDirect(t, c, "s3test-prod", prod)
	r := run(t, bucketStack(&bucketConfig{present: true, name: "s3test-prod"}), "deploy", "--yes")
	wantRefused(t, r, "Bucket", "AWS.S3.Bucket", "bucket s3test-prod", "s3test/prod/Bucket")
	if tags := bucketTags(t, c, "s3test-prod"); !maps.Equal(tags, prod) {
		t.Errorf("the other stage's bucket was retagged: %v", tags)
	}
}

// A bucket of another AWS account (403) can never be taken over, not even
// with --adopt, and nothing is written to it.
func TestS3BucketOfAnotherAccount(t *testing.T) {
	p, c := startTaggingS3(t)
	p.foreign["s3test-foreign"] = true
	r := run(t, bucketStack(&bucketConfig{present: true, name: "s3test-foreign"}), "deploy", "--yes", "--adopt")
	want := "Cannot create Bucket (AWS.S3.Bucket): bucket s3test-foreign already exists and it belongs to another AWS account"
	if r.code != 1 || !strings.Contains(r.out+r.errOut, want) || !strings.Contains(r.out+r.errOut, "cannot be taken over") {
		t.Fatalf("deploy --adopt onto another account's bucket: exit %d, want %q\n%s\n%s", r.code, want, r.out, r.errOut)
	}
	if got := buckets(t, c); len(got) != 0 {
		t.Errorf("buckets: %v", got)
	}
	mustRun(t, bucketStack(&bucketConfig{present: true, name: "s3test-foreign"}), "destroy", "--yes")
}

// A create interrupted after CreateBucket leaves a row without attributes
// and a bucket without tags. Claimed, or under a name generated from the
// row's instance, it is the resource's own: the next deploy takes it over
// and tags it. An unclaimed row for an explicit name proves nothing: the
// bucket is refused and destroy leaves it alone.
func TestS3BucketInterruptedCreate(t *testing.T) {
	_, c := startTaggingS3(t)

	createBucketDirect(t, c, "s3test-unclaimed", nil)
	putRow(t, "s3test", interruptedRow("AWS.S3.Bucket", "Bucket", map[string]any{"bucketName": "s3test-unclaimed"}, false))
	cfg := &bucketConfig{present: true, name: "s3test-unclaimed"}
	wantRefused(t, run(t, bucketStack(cfg), "deploy", "--yes"), "Bucket", "AWS.S3.Bucket", "bucket s3test-unclaimed", "")
	mustRun(t, bucketStack(cfg), "destroy", "--yes")
	if tags := bucketTags(t, c, "s3test-unclaimed"); len(tags) != 0 || len(objects(t, c, "s3test-unclaimed")) != 1 {
		t.Fatalf("destroy touched the unclaimed bucket: tags %v", tags)
	}

	createBucketDirect(t, c, "s3test-claimed", nil)
	putRow(t, "s3test", interruptedRow("AWS.S3.Bucket", "Bucket", map[string]any{"bucketName": "s3test-claimed"}, true))
	cfg.name = "s3test-claimed"
	r := mustRun(t, bucketStack(cfg), "deploy", "--yes")
	wantContains(t, r, "bucket s3test-claimed is the one an interrupted create of this resource made: taking it over")
	if tags := bucketTags(t, c, "s3test-claimed"); tags["alchemy::id"] != "Bucket" || tags["alchemy::stage"] != "dev_tester" {
		t.Errorf("resumed bucket's tags %v", tags)
	}
	mustRun(t, bucketStack(cfg), "destroy", "--yes")
	if got := buckets(t, c); !slices.Equal(got, []string{"s3test-unclaimed"}) {
		t.Fatalf("buckets after destroy: %v", got)
	}

	// A generated name: the row need not be claimed (the TypeScript
	// tool's rows are not), the name proves it.
	row := interruptedRow("AWS.S3.Bucket", "Bucket", map[string]any{}, false)
	generated := alchemy.PhysicalName("s3test", "Bucket", testStage, row.InstanceID, 63, true)
	createBucketDirect(t, c, generated, nil)
	putRow(t, "s3test", row)
	cfg.name = ""
	r = mustRun(t, bucketStack(cfg), "deploy", "--yes")
	wantContains(t, r, "bucket "+generated+" already exists with the name this resource generated: taking it over")
	if tags := bucketTags(t, c, generated); tags["alchemy::id"] != "Bucket" {
		t.Errorf("generated bucket's tags %v", tags)
	}
	mustRun(t, bucketStack(cfg), "destroy", "--yes")
	if got := buckets(t, c); !slices.Equal(got, []string{"s3test-unclaimed"}) {
		t.Fatalf("buckets after destroy: %v", got)
	}
}
