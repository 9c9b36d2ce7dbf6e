package aws

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/alchemy-go/alchemy"
	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

func init() {
	alchemy.Register[LambdaFunctionArgs, LambdaFunctionAttrs](functionProvider{})
}

// LambdaFunctionProps declares a Lambda function deployed from a local
// directory (a Zip package).
type LambdaFunctionProps struct {
	// FunctionName is the function's name (1 to 64 characters). Default: a
	// physical name unique to the stack, id, stage and generation (at most
	// 64 characters). Changing it replaces the function.
	FunctionName alchemy.Input[string] `json:"functionName"`
	// SourceDir is a local directory zipped at deploy (sorted paths, fixed
	// modification times, so the same files make the same zip). The zip's
	// SHA-256 is part of the props: editing a file redeploys the code.
	// Required.
	SourceDir alchemy.Input[string] `json:"sourceDir"`
	// Handler is the function's entry point. Default "bootstrap" for the
	// provided.* runtimes; required for the others.
	Handler alchemy.Input[string] `json:"handler"`
	// Runtime identifier. Default "provided.al2023".
	Runtime alchemy.Input[string] `json:"runtime"`
	// RoleArn is the execution role's ARN, e.g. an IAM role's output.
	// Required.
	RoleArn alchemy.Input[string] `json:"roleArn"`
	// Environment variables.
	Environment alchemy.Input[map[string]string] `json:"environment"`
	// Timeout in seconds (1 to 900); Lambda default 3.
	Timeout alchemy.Input[int] `json:"timeout"`
	// MemorySize in MB (128 to 10240); Lambda default 128.
	MemorySize alchemy.Input[int] `json:"memorySize"`
	// FunctionURL gives the function a public HTTPS URL (AuthType NONE,
	// with the resource-policy statements that let anyone invoke it).
	FunctionURL alchemy.Input[bool] `json:"functionUrl"`
	// Tags are added to the ownership tags (alchemy::stack, alchemy::stage,
	// alchemy::id). Keys starting with alchemy:: are refused.
	Tags alchemy.Input[map[string]string] `json:"tags"`
}

// functionDecl is what Declare sees: the props plus the source zip's hash.
type functionDecl struct {
	FunctionName alchemy.Input[string]            `json:"functionName"`
	SourceDir    alchemy.Input[string]            `json:"sourceDir"`
	SourceHash   alchemy.Input[string]            `json:"sourceHash"`
	Handler      alchemy.Input[string]            `json:"handler"`
	Runtime      alchemy.Input[string]            `json:"runtime"`
	RoleArn      alchemy.Input[string]            `json:"roleArn"`
	Environment  alchemy.Input[map[string]string] `json:"environment"`
	Timeout      alchemy.Input[int]               `json:"timeout"`
	MemorySize   alchemy.Input[int]               `json:"memorySize"`
	FunctionURL  alchemy.Input[bool]              `json:"functionUrl"`
	Tags         alchemy.Input[map[string]string] `json:"tags"`
}

// LambdaFunctionArgs are a function's resolved props.
type LambdaFunctionArgs struct {
	FunctionName string `json:"functionName,omitempty"`
	SourceDir    string `json:"sourceDir,omitempty"`
	// SourceHash is "sha256:<hex>" of the deterministic zip of SourceDir.
	SourceHash  string            `json:"sourceHash,omitempty"`
	Handler     string            `json:"handler,omitempty"`
	Runtime     string            `json:"runtime,omitempty"`
	RoleArn     string            `json:"roleArn,omitempty"`
	Environment map[string]string `json:"environment,omitempty"`
	Timeout     int               `json:"timeout,omitempty"`
	MemorySize  int               `json:"memorySize,omitempty"`
	FunctionURL bool              `json:"functionUrl,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// LambdaFunctionAttrs are what a deployed function publishes.
type LambdaFunctionAttrs struct {
	FunctionName string `json:"functionName"`
	Arn          string `json:"arn"`
	// FunctionURL is the public URL, empty without one.
	FunctionURL string `json:"functionUrl"`
	// CodeSha256 is Lambda's base64 SHA-256 of the deployed zip.
	CodeSha256 string `json:"codeSha256"`
}

// LambdaFunction is a declared function.
type LambdaFunction struct {
	*alchemy.Resource
	FunctionName alchemy.Output[string]
	Arn          alchemy.Output[string]
	// URL is the function URL, "" when FunctionURL is off.
	URL alchemy.Output[string]
}

// NewLambdaFunction declares a Lambda function (type AWS.Lambda.Function).
// Removing it from the stack deletes the function and its URL.
func NewLambdaFunction(s *alchemy.Stack, id string, props LambdaFunctionProps, opts ...alchemy.Option) *LambdaFunction {
	decl := functionDecl{FunctionName: props.FunctionName, SourceDir: props.SourceDir, Handler: props.Handler,
		Runtime: props.Runtime, RoleArn: props.RoleArn, Environment: props.Environment, Timeout: props.Timeout,
		MemorySize: props.MemorySize, FunctionURL: props.FunctionURL, Tags: props.Tags}
	if d, ok := props.SourceDir.(alchemy.Output[string]); ok {
		decl.SourceHash = alchemy.Map(d, hashSourceDir)
	}
	r := alchemy.Declare[LambdaFunctionArgs, LambdaFunctionAttrs](s, functionProvider{}, id, decl, opts...)
	return &LambdaFunction{Resource: r,
		FunctionName: alchemy.Attr[string](r, "functionName"),
		Arn:          alchemy.Attr[string](r, "arn"),
		URL:          alchemy.Attr[string](r, "functionUrl")}
}

// zipEpoch is the modification time of every zip entry.
var zipEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// zipDir zips the regular files under dir (symbolic links followed) in
// path order with fixed times: the same files give the same bytes.
// Executable files keep mode 0755 (a provided.* runtime's bootstrap must
// be), others get 0644.
func zipDir(dir string) ([]byte, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("sourceDir: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("sourceDir %s is not a directory", dir)
	}
	var paths []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading sourceDir %s: %w", dir, err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	type entry struct{ name, path string }
	var entries []entry
	for _, p := range paths {
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return nil, err
		}
		entries = append(entries, entry{filepath.ToSlash(rel), p})
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	for _, e := range entries {
		st, err := os.Stat(e.path)
		if err != nil {
			return nil, fmt.Errorf("sourceDir: %w", err)
		}
		if !st.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(e.path)
		if err != nil {
			return nil, fmt.Errorf("sourceDir: %w", err)
		}
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: zipEpoch}
		mode := fs.FileMode(0o644)
		if st.Mode()&0o111 != 0 {
			mode = 0o755
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(data); err != nil {
			return nil, err
		}
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("sourceDir %s holds no files", dir)
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// hashSourceDir is "sha256:<hex>" of dir's zip, or "unreadable" (the
// deploy then fails zipping it, with the reason).
func hashSourceDir(dir string) string {
	data, err := zipDir(dir)
	if err != nil {
		return "unreadable"
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// codeSha256 is Lambda's CodeSha256 of a zip: base64 of its SHA-256.
func codeSha256(data []byte) string {
	sum := sha256.Sum256(data)
	return base64.StdEncoding.EncodeToString(sum[:])
}

type functionRequest = alchemy.Request[LambdaFunctionArgs, LambdaFunctionAttrs]

type functionProvider struct{}

func (functionProvider) Type() string        { return "AWS.Lambda.Function" }
func (functionProvider) Auth() string        { return authName }
func (functionProvider) ReplaceOn() []string { return []string{"functionName"} }

// How long function state transitions may take, and how often they are
// polled.
const (
	functionWaitMax      = 10 * time.Minute
	functionWaitMinDelay = 250 * time.Millisecond
	functionWaitMaxDelay = 10 * time.Second
)

// Statement ids of the function URL's resource-policy statements. Since
// October 2025 a public function URL needs both lambda:InvokeFunctionUrl
// and lambda:InvokeFunction (the latter limited to calls via the URL).
const (
	urlStatementID       = "FunctionURLAllowPublicAccess"
	urlInvokeStatementID = "FunctionURLInvokeAllowPublicAccess"
)

func functionName(r *functionRequest, p LambdaFunctionArgs) string {
	if p.FunctionName != "" {
		return p.FunctionName
	}
	return r.PhysicalName(64, false)
}

// desired is a function's configuration with defaults applied.
type desired struct {
	role, handler, runtime string
	timeout, memory        int
	env                    map[string]string
}

func functionConfig(p LambdaFunctionArgs) desired {
	d := desired{role: p.RoleArn, handler: p.Handler, runtime: p.Runtime, timeout: p.Timeout, memory: p.MemorySize, env: p.Environment}
	if d.runtime == "" {
		d.runtime = "provided.al2023"
	}
	if d.handler == "" && strings.HasPrefix(d.runtime, "provided") {
		d.handler = "bootstrap"
	}
	if d.timeout == 0 {
		d.timeout = 3
	}
	if d.memory == 0 {
		d.memory = 128
	}
	return d
}

func validateFunction(p LambdaFunctionArgs) error {
	if err := checkUserTags(p.Tags); err != nil {
		return err
	}
	if n := p.FunctionName; n != "" && len(n) > 64 {
		return fmt.Errorf("functionName %q: at most 64 characters", n)
	}
	if p.SourceDir == "" {
		return fmt.Errorf("sourceDir is required")
	}
	if p.RoleArn == "" {
		return fmt.Errorf("roleArn is required")
	}
	d := functionConfig(p)
	if d.handler == "" {
		return fmt.Errorf("handler is required for runtime %s", d.runtime)
	}
	if d.timeout < 1 || d.timeout > 900 {
		return fmt.Errorf("timeout %d: must be 1 to 900 seconds", d.timeout)
	}
	if d.memory < 128 || d.memory > 10240 {
		return fmt.Errorf("memorySize %d: must be 128 to 10240 MB", d.memory)
	}
	return nil
}

func (d desired) matches(c *types.FunctionConfiguration) bool {
	var env map[string]string
	if c.Environment != nil {
		env = c.Environment.Variables
	}
	return sdkaws.ToString(c.Role) == d.role && sdkaws.ToString(c.Handler) == d.handler &&
		string(c.Runtime) == d.runtime && int(sdkaws.ToInt32(c.Timeout)) == d.timeout &&
		int(sdkaws.ToInt32(c.MemorySize)) == d.memory && maps.Equal(env, d.env)
}

func (d desired) environment() *types.Environment {
	env := d.env
	if env == nil {
		env = map[string]string{}
	}
	return &types.Environment{Variables: env}
}

func (functionProvider) client(ctx context.Context, r *functionRequest) (*lambda.Client, error) {
	cfg, err := sdkConfig(ctx, r.Credentials)
	if err != nil {
		return nil, err
	}
	return lambda.NewFromConfig(cfg), nil
}

func functionGone(err error) bool {
	return errorAs[*types.ResourceNotFoundException](err) || hasCode(err, "ResourceNotFoundException")
}

func functionConflict(err error) bool {
	return errorAs[*types.ResourceConflictException](err) || hasCode(err, "ResourceConflictException")
}

// waitUpdated waits until the function is Active and its last update
// Successful (real Lambda starts at Pending / InProgress).
func waitUpdated(ctx context.Context, c *lambda.Client, name string) (*lambda.GetFunctionOutput, error) {
	in := &lambda.GetFunctionInput{FunctionName: &name}
	if _, err := lambda.NewFunctionActiveV2Waiter(c, func(o *lambda.FunctionActiveV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = functionWaitMinDelay, functionWaitMaxDelay
	}).WaitForOutput(ctx, in, functionWaitMax); err != nil {
		return nil, fmt.Errorf("waiting for function %s to be Active: %w", name, err)
	}
	out, err := lambda.NewFunctionUpdatedV2Waiter(c, func(o *lambda.FunctionUpdatedV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = functionWaitMinDelay, functionWaitMaxDelay
	}).WaitForOutput(ctx, in, functionWaitMax)
	if err != nil {
		return nil, fmt.Errorf("waiting for the update of function %s to finish: %w", name, err)
	}
	return out, nil
}

func owns(r *functionRequest, tags map[string]string) bool {
	return tags[TagStack] == r.Stack && tags[TagStage] == r.Stage && tags[TagID] == r.LogicalID
}

func (p functionProvider) Create(ctx context.Context, r *functionRequest) (LambdaFunctionAttrs, error) {
	if err := validateFunction(r.Props); err != nil {
		return LambdaFunctionAttrs{}, err
	}
	code, err := zipDir(r.Props.SourceDir)
	if err != nil {
		return LambdaFunctionAttrs{}, err
	}
	c, err := p.client(ctx, r)
	if err != nil {
		return LambdaFunctionAttrs{}, err
	}
	name := functionName(r, r.Props)
	d := functionConfig(r.Props)
	r.Note(fmt.Sprintf("Creating function %s (%d KB)...", name, (len(code)+1023)/1024))
	_, err = c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: &name, Role: &d.role, Handler: &d.handler,
		Runtime: types.Runtime(d.runtime), Code: &types.FunctionCode{ZipFile: code}, PackageType: types.PackageTypeZip,
		Timeout: sdkaws.Int32(int32(d.timeout)), MemorySize: sdkaws.Int32(int32(d.memory)),
		Environment: d.environment(), Tags: ownershipTags(r.Props.Tags, r.Stack, r.Stage, r.LogicalID)})
	switch {
	case err == nil:
		out, err := waitUpdated(ctx, c, name)
		if err != nil {
			return LambdaFunctionAttrs{}, err
		}
		url, err := p.setURL(ctx, c, r, name, "", false)
		if err != nil {
			return LambdaFunctionAttrs{}, err
		}
		return functionAttrs(out.Configuration, url), nil
	case functionConflict(err):
		// A function of that name exists: ours if it carries our
		// ownership tags (an interrupted create being resumed), anyone
		// else's only with --adopt.
		g, gerr := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &name})
		if gerr != nil {
			return LambdaFunctionAttrs{}, fmt.Errorf("reading existing function %s: %w", name, gerr)
		}
		if aerr := r.MayAdopt("AWS.Lambda.Function", "function "+name, owns(r, g.Tags)); aerr != nil {
			return LambdaFunctionAttrs{}, aerr
		}
		r.Note("Function " + name + " already exists: adopting it")
		return p.converge(ctx, c, r, name, code, true)
	default:
		return LambdaFunctionAttrs{}, fmt.Errorf("creating function %s: %w", name, err)
	}
}

func (p functionProvider) Update(ctx context.Context, r *functionRequest) (LambdaFunctionAttrs, error) {
	if err := validateFunction(r.Props); err != nil {
		return LambdaFunctionAttrs{}, err
	}
	code, err := zipDir(r.Props.SourceDir)
	if err != nil {
		return LambdaFunctionAttrs{}, err
	}
	c, err := p.client(ctx, r)
	if err != nil {
		return LambdaFunctionAttrs{}, err
	}
	name := r.OldAttrs.FunctionName
	if name == "" {
		name = functionName(r, r.Props)
	}
	return p.converge(ctx, c, r, name, code, false)
}

// converge brings the existing function name to r.Props: what differs from
// the function as it is (not as state remembers it) is changed, so nothing
// is written when nothing differs.
func (p functionProvider) converge(ctx context.Context, c *lambda.Client, r *functionRequest, name string, code []byte, adopting bool) (LambdaFunctionAttrs, error) {
	cur, err := waitUpdated(ctx, c, name)
	if err != nil {
		return LambdaFunctionAttrs{}, err
	}
	cfg := cur.Configuration
	if sdkaws.ToString(cfg.CodeSha256) != codeSha256(code) {
		r.Note(fmt.Sprintf("Updating code of function %s (%d KB)...", name, (len(code)+1023)/1024))
		if _, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: &name, ZipFile: code}); err != nil {
			return LambdaFunctionAttrs{}, fmt.Errorf("updating code of function %s: %w", name, err)
		}
		if cur, err = waitUpdated(ctx, c, name); err != nil {
			return LambdaFunctionAttrs{}, err
		}
		cfg = cur.Configuration
	}
	if d := functionConfig(r.Props); !d.matches(cfg) {
		r.Note("Updating configuration of function " + name + "...")
		if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: &name,
			Role: &d.role, Handler: &d.handler, Runtime: types.Runtime(d.runtime), Timeout: sdkaws.Int32(int32(d.timeout)),
			MemorySize: sdkaws.Int32(int32(d.memory)), Environment: d.environment()}); err != nil {
			return LambdaFunctionAttrs{}, fmt.Errorf("updating configuration of function %s: %w", name, err)
		}
		if cur, err = waitUpdated(ctx, c, name); err != nil {
			return LambdaFunctionAttrs{}, err
		}
		cfg = cur.Configuration
	}
	if err := p.setTags(ctx, c, r, sdkaws.ToString(cfg.FunctionArn), name, cur.Tags); err != nil {
		return LambdaFunctionAttrs{}, err
	}
	u, err := c.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: &name})
	existing := ""
	switch {
	case err == nil:
		existing = sdkaws.ToString(u.FunctionUrl)
	case !functionGone(err):
		return LambdaFunctionAttrs{}, fmt.Errorf("reading URL of function %s: %w", name, err)
	}
	url, err := p.setURL(ctx, c, r, name, existing, adopting)
	if err != nil {
		return LambdaFunctionAttrs{}, err
	}
	return functionAttrs(cfg, url), nil
}

// setTags makes the function's tags r.Props' plus the ownership tags; cur
// are its current tags.
func (functionProvider) setTags(ctx context.Context, c *lambda.Client, r *functionRequest, arn, name string, cur map[string]string) error {
	want := ownershipTags(r.Props.Tags, r.Stack, r.Stage, r.LogicalID)
	var gone []string
	for _, k := range slices.Sorted(maps.Keys(cur)) {
		if _, keep := want[k]; !keep {
			gone = append(gone, k)
		}
	}
	set := map[string]string{}
	for k, v := range want {
		if old, ok := cur[k]; !ok || old != v {
			set[k] = v
		}
	}
	if len(gone) > 0 {
		if _, err := c.UntagResource(ctx, &lambda.UntagResourceInput{Resource: &arn, TagKeys: gone}); err != nil {
			return fmt.Errorf("removing tags of function %s: %w", name, err)
		}
	}
	if len(set) > 0 {
		if _, err := c.TagResource(ctx, &lambda.TagResourceInput{Resource: &arn, Tags: set}); err != nil {
			return fmt.Errorf("tagging function %s: %w", name, err)
		}
	}
	return nil
}

// setURL creates or deletes the function URL (and its resource-policy
// statements) as r.Props.FunctionURL asks; url is the existing one ("" for
// none). The statements of an existing URL are added again only when
// adopting (a function made elsewhere may lack them).
func (functionProvider) setURL(ctx context.Context, c *lambda.Client, r *functionRequest, name, url string, adopting bool) (string, error) {
	has := url != ""
	switch {
	case r.Props.FunctionURL && has && !adopting:
		return url, nil
	case r.Props.FunctionURL && !has:
		r.Note("Creating URL of function " + name + "...")
		out, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: &name, AuthType: types.FunctionUrlAuthTypeNone})
		if err != nil {
			return "", fmt.Errorf("creating URL of function %s: %w", name, err)
		}
		url = sdkaws.ToString(out.FunctionUrl)
		fallthrough
	case r.Props.FunctionURL:
		// The statements may exist already (an existing URL, an adopted
		// function): AddPermission then answers a conflict.
		for _, in := range []*lambda.AddPermissionInput{
			{FunctionName: &name, StatementId: sdkaws.String(urlStatementID), Action: sdkaws.String("lambda:InvokeFunctionUrl"),
				Principal: sdkaws.String("*"), FunctionUrlAuthType: types.FunctionUrlAuthTypeNone},
			{FunctionName: &name, StatementId: sdkaws.String(urlInvokeStatementID), Action: sdkaws.String("lambda:InvokeFunction"),
				Principal: sdkaws.String("*"), InvokedViaFunctionUrl: sdkaws.Bool(true)},
		} {
			_, err := c.AddPermission(ctx, in)
			if err != nil && !functionConflict(err) {
				return "", fmt.Errorf("allowing public access to the URL of function %s: %w", name, err)
			}
		}
		return url, nil
	case has:
		r.Note("Deleting URL of function " + name + "...")
		if _, err := c.DeleteFunctionUrlConfig(ctx, &lambda.DeleteFunctionUrlConfigInput{FunctionName: &name}); err != nil && !functionGone(err) {
			return "", fmt.Errorf("deleting URL of function %s: %w", name, err)
		}
		for _, sid := range []string{urlStatementID, urlInvokeStatementID} {
			if _, err := c.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: &name, StatementId: sdkaws.String(sid)}); err != nil && !functionGone(err) {
				return "", fmt.Errorf("removing public access of function %s: %w", name, err)
			}
		}
	}
	return "", nil
}

func functionAttrs(c *types.FunctionConfiguration, url string) LambdaFunctionAttrs {
	return LambdaFunctionAttrs{FunctionName: sdkaws.ToString(c.FunctionName), Arn: sdkaws.ToString(c.FunctionArn),
		FunctionURL: url, CodeSha256: sdkaws.ToString(c.CodeSha256)}
}

func (p functionProvider) Delete(ctx context.Context, r *functionRequest) error {
	c, err := p.client(ctx, r)
	if err != nil {
		return err
	}
	name := r.OldAttrs.FunctionName
	if name == "" {
		// An interrupted (or refused) create has no attributes yet: delete
		// the function of that name only if it carries our ownership tags.
		name = functionName(r, r.OldProps)
		g, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &name})
		if functionGone(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading function %s: %w", name, err)
		}
		if !owns(r, g.Tags) {
			r.Note("Function " + name + " was not created by this resource: not deleting it")
			return nil
		}
	}
	r.Note("Deleting function " + name + "...")
	// The URL config and the resource policy go with the function.
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: &name}); err != nil && !functionGone(err) {
		return fmt.Errorf("deleting function %s: %w", name, err)
	}
	return nil
}
