package awslambda_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/fakes/awslambda"
	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

const role = "arn:aws:iam::123456789012:role/exec"

func client(t *testing.T, s *awslambda.Server) *lambda.Client {
	t.Helper()
	return lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: sdkaws.String(s.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
}

func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestLifecycleWithSDK(t *testing.T) {
	s := awslambda.Start(t)
	c := client(t, s)
	ctx := context.Background()
	code := zipOf(t, map[string]string{"bootstrap": "#!/bin/sh\n"})

	out, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: sdkaws.String("fn"), Role: sdkaws.String(role),
		Handler: sdkaws.String("bootstrap"), Runtime: types.RuntimeProvidedal2023, Code: &types.FunctionCode{ZipFile: code},
		Environment: &types.Environment{Variables: map[string]string{"GREETING": "hi"}},
		Timeout:     sdkaws.Int32(10), MemorySize: sdkaws.Int32(256), Tags: map[string]string{"team": "a"}})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(code)
	if out.State != types.StateActive || out.LastUpdateStatus != types.LastUpdateStatusSuccessful ||
		sdkaws.ToString(out.CodeSha256) != base64.StdEncoding.EncodeToString(sum[:]) ||
		sdkaws.ToString(out.FunctionArn) != "arn:aws:lambda:us-east-1:123456789012:function:fn" ||
		sdkaws.ToInt32(out.Timeout) != 10 || sdkaws.ToInt32(out.MemorySize) != 256 {
		t.Fatalf("CreateFunction answered %+v", out)
	}

	// The SDK's waiters accept the states at once.
	if err := lambda.NewFunctionActiveV2Waiter(c).Wait(ctx, &lambda.GetFunctionInput{FunctionName: sdkaws.String("fn")}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := lambda.NewFunctionUpdatedV2Waiter(c).Wait(ctx, &lambda.GetFunctionInput{FunctionName: sdkaws.String("fn")}, 5*time.Second); err != nil {
		t.Fatal(err)
	}

	_, err = c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: sdkaws.String("fn"), Role: sdkaws.String(role),
		Handler: sdkaws.String("bootstrap"), Runtime: types.RuntimeProvidedal2023, Code: &types.FunctionCode{ZipFile: code}})
	var rc *types.ResourceConflictException
	if !errors.As(err, &rc) || !strings.Contains(sdkaws.ToString(rc.Message), "already exist") {
		t.Fatalf("second create: %v", err)
	}
	_, err = c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: sdkaws.String("bad"), Role: sdkaws.String(role),
		Handler: sdkaws.String("bootstrap"), Runtime: types.RuntimeProvidedal2023, Code: &types.FunctionCode{ZipFile: []byte("not a zip")}})
	var ip *types.InvalidParameterValueException
	if !errors.As(err, &ip) || !strings.Contains(err.Error(), "Could not unzip") {
		t.Fatalf("create with a bad zip: %v", err)
	}

	g, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: sdkaws.String("fn")})
	if err != nil {
		t.Fatal(err)
	}
	if g.Configuration.Environment.Variables["GREETING"] != "hi" || g.Tags["team"] != "a" || sdkaws.ToString(g.Configuration.Role) != role {
		t.Fatalf("GetFunction: %+v", g)
	}
	resp, err := http.Get(sdkaws.ToString(g.Code.Location))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, code) {
		t.Errorf("code location served %d bytes, want the zip", len(got))
	}

	code2 := zipOf(t, map[string]string{"bootstrap": "#!/bin/sh\necho 2\n"})
	if _, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: g.Configuration.FunctionArn, ZipFile: code2}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: sdkaws.String("fn"),
		Environment: &types.Environment{Variables: map[string]string{"GREETING": "ho"}}}); err != nil {
		t.Fatal(err)
	}
	_, err = c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: sdkaws.String("fn"), Timeout: sdkaws.Int32(901)})
	if !errors.As(err, &ip) {
		t.Fatalf("timeout 901: %v", err)
	}
	f, _ := s.Function("fn")
	if !bytes.Equal(f.Zip, code2) || f.Environment["GREETING"] != "ho" || f.Timeout != 10 {
		t.Fatalf("after updates: %+v", f)
	}

	// Tags.
	arn := g.Configuration.FunctionArn
	if _, err := c.TagResource(ctx, &lambda.TagResourceInput{Resource: arn, Tags: map[string]string{"x": "1", "y": "2"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagResource(ctx, &lambda.UntagResourceInput{Resource: arn, TagKeys: []string{"team", "y"}}); err != nil {
		t.Fatal(err)
	}
	lt, err := c.ListTags(ctx, &lambda.ListTagsInput{Resource: arn})
	if err != nil || len(lt.Tags) != 1 || lt.Tags["x"] != "1" {
		t.Fatalf("ListTags: %v %v", lt, err)
	}

	// URL.
	var nf *types.ResourceNotFoundException
	if _, err := c.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: sdkaws.String("fn")}); !errors.As(err, &nf) {
		t.Fatalf("GetFunctionUrlConfig before create: %v", err)
	}
	u, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: sdkaws.String("fn"), AuthType: types.FunctionUrlAuthTypeNone})
	if err != nil {
		t.Fatal(err)
	}
	if url := sdkaws.ToString(u.FunctionUrl); !strings.HasPrefix(url, "https://") || !strings.HasSuffix(url, ".lambda-url.us-east-1.on.aws/") {
		t.Fatalf("function URL %q", url)
	}
	if _, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: sdkaws.String("fn"), AuthType: types.FunctionUrlAuthTypeNone}); !errors.As(err, &rc) {
		t.Fatalf("second CreateFunctionUrlConfig: %v", err)
	}
	gu, err := c.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: sdkaws.String("fn")})
	if err != nil || sdkaws.ToString(gu.FunctionUrl) != sdkaws.ToString(u.FunctionUrl) || gu.AuthType != types.FunctionUrlAuthTypeNone {
		t.Fatalf("GetFunctionUrlConfig: %+v %v", gu, err)
	}
	perm := &lambda.AddPermissionInput{FunctionName: sdkaws.String("fn"), StatementId: sdkaws.String("url"),
		Action: sdkaws.String("lambda:InvokeFunctionUrl"), Principal: sdkaws.String("*"), FunctionUrlAuthType: types.FunctionUrlAuthTypeNone}
	if _, err := c.AddPermission(ctx, perm); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddPermission(ctx, perm); !errors.As(err, &rc) {
		t.Fatalf("duplicate AddPermission: %v", err)
	}
	if f, _ := s.Function("fn"); len(f.Permissions) != 1 || f.Permissions[0].FunctionURLAuthType != "NONE" {
		t.Fatalf("permissions %+v", f.Permissions)
	}
	if _, err := c.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: sdkaws.String("fn"), StatementId: sdkaws.String("url")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteFunctionUrlConfig(ctx, &lambda.DeleteFunctionUrlConfigInput{FunctionName: sdkaws.String("fn")}); err != nil {
		t.Fatal(err)
	}

	// Delete.
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: sdkaws.String("fn")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: sdkaws.String("fn")})
	if !errors.As(err, &nf) || !strings.Contains(sdkaws.ToString(nf.Message), "Function not found") {
		t.Fatalf("GetFunction after delete: %v", err)
	}
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: sdkaws.String("fn")}); !errors.As(err, &nf) {
		t.Fatalf("second delete: %v", err)
	}

	ops := s.Operations()
	if ops[0] != "CreateFunction" || !slices.Contains(ops, "UntagResource") || ops[len(ops)-1] != "DeleteFunction" {
		t.Errorf("operations %v", ops)
	}
	for _, r := range s.Requests() {
		if r.Operation == "Unknown" {
			t.Errorf("unrouted request %+v", r)
		}
	}
}
