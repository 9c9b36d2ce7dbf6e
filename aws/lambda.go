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
	// SourceDir is a local directory, relative to the stack file's
	// directory, zipped at deploy (sorted paths, fixed modification times,
	// so the same files make the same zip). The zip's
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
// Removing it from the stack deletes the function and its URL. A relative
// SourceDir is relative to the stack file's directory; one known at
// declaration that cannot be zipped fails the plan, naming the function.
func NewLambdaFunction(s *alchemy.Stack, id string, props LambdaFunctionProps, opts ...alchemy.Option) *LambdaFunction {
	decl := functionDecl{FunctionName: props.FunctionName, SourceDir: props.SourceDir, Handler: props.Handler,
		Runtime: props.Runtime, RoleArn: props.RoleArn, Environment: props.Environment, Timeout: props.Timeout,
		MemorySize: props.MemorySize, FunctionURL: props.FunctionURL, Tags: props.Tags}
	if dir, ok := alchemy.Known(props.SourceDir); ok {
		// A directory known now (a literal) is hashed now, so that an
		// unreadable one fails the plan with its reason.
		if dir != "" {
			h, err := hashSourceDir(s.Path(dir))
			if err != nil {
				s.Fail(id, err)
			}
			decl.SourceHash = alchemy.String(h)
		}
	} else if d, ok := props.SourceDir.(alchemy.Output[string]); ok {
		// A directory only known once another resource is deployed is
		// hashed then; one that cannot be zipped hashes as "unreadable"
		// and fails that deploy, zipping it, with the reason.
		decl.SourceHash = alchemy.Map(d, func(dir string) string {
			h, err := hashSourceDir(s.Path(dir))
			if err != nil {
				return "unreadable"
			}
			return h
		})
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

// hashSourceDir is "sha256:<hex>" of dir's zip.
func hashSourceDir(dir string) (string, error) {
	data, err := zipDir(dir)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// codeSha256 is Lambda's CodeSha256 of a zip: base64 of its SHA-256.
func codeSha256(data []byte) string {
	sum := sha256.Sum256(data)
	return base64.StdEncoding.EncodeToString(sum[:])
}

type functionRequest = alchemy.Request[LambdaFunctionArgs, LambdaFunctionAttrs]

type functionProvider struct{}

func (functionProvider) Type() string        { return "AWS.Lambda.Function" }
func (functionProvider) ReportsWrites() bool { return true } // writes no local file (alchemy.WriteReporter)
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
	cfg, err := sdkConfig(ctx, r.Credentials, r.Refresh)
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

func (functionProvider) Name(r *functionRequest) string { return functionName(r, r.Props) }

// Identity is the function's ARN (its name for attributes without one).
func (functionProvider) Identity(a LambdaFunctionAttrs) string {
	if a.Arn != "" {
		return a.Arn
	}
	return a.FunctionName
}

// Read finds the function by name (GetFunction, tags included) and its URL.
// The code cannot be read back as a directory: SourceDir is r.Props', and
// SourceHash is the deployed zip's (Lambda's CodeSha256 is the same SHA-256).
func (p functionProvider) Read(ctx context.Context, r *functionRequest) (*alchemy.Found[LambdaFunctionArgs, LambdaFunctionAttrs], error) {
	c, err := p.client(ctx, r)
	if err != nil {
		return nil, err
	}
	name := r.OldAttrs.FunctionName
	if name == "" {
		name = functionName(r, r.Props)
	}
	g, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &name})
	if functionGone(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking up function %s: %w", name, err)
	}
	url := ""
	u, err := c.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: &name})
	switch {
	case err == nil:
		url = sdkaws.ToString(u.FunctionUrl)
	case !functionGone(err):
		return nil, fmt.Errorf("reading URL of function %s: %w", name, err)
	}
	cfg := g.Configuration
	live := liveFunction(r.Props, cfg)
	live.FunctionURL, live.Tags = url != "", userTags(g.Tags)
	return &alchemy.Found[LambdaFunctionArgs, LambdaFunctionAttrs]{
		Attrs:     functionAttrs(cfg, url),
		Props:     &live,
		Name:      "function " + name,
		Generated: r.Props.FunctionName == "" && name == r.PhysicalName(64, false),
		Stamp:     alchemy.StampFromTags(g.Tags),
	}, nil
}

// liveFunction is a function's configuration in the form of declared (a
// default declared as unset stays unset).
func liveFunction(declared LambdaFunctionArgs, cfg *types.FunctionConfiguration) LambdaFunctionArgs {
	live := declared
	if sum, err := base64.StdEncoding.DecodeString(sdkaws.ToString(cfg.CodeSha256)); err == nil && len(sum) == sha256.Size {
		live.SourceHash = "sha256:" + hex.EncodeToString(sum)
	}
	live.RoleArn = sdkaws.ToString(cfg.Role)
	live.Runtime, live.Handler = string(cfg.Runtime), sdkaws.ToString(cfg.Handler)
	live.Timeout, live.MemorySize = int(sdkaws.ToInt32(cfg.Timeout)), int(sdkaws.ToInt32(cfg.MemorySize))
	live.Environment = nil
	if cfg.Environment != nil && len(cfg.Environment.Variables) > 0 {
		live.Environment = cfg.Environment.Variables
	}
	// Defaults the declaration leaves unset stay unset.
	def := functionConfig(LambdaFunctionArgs{Runtime: declared.Runtime})
	if declared.Runtime == "" && live.Runtime == def.runtime {
		live.Runtime = ""
	}
	if declared.Handler == "" && live.Handler == functionConfig(LambdaFunctionArgs{Runtime: live.Runtime}).handler {
		live.Handler = ""
	}
	if declared.Timeout == 0 && live.Timeout == def.timeout {
		live.Timeout = 0
	}
	if declared.MemorySize == 0 && live.MemorySize == def.memory {
		live.MemorySize = 0
	}
	return live
}

// Create makes the function (and its URL); it never takes over an existing
// one.
func (p functionProvider) Create(ctx context.Context, r *functionRequest) (LambdaFunctionAttrs, error) {
	if err := validateFunction(r.Props); err != nil {
		return LambdaFunctionAttrs{}, err
	}
	code, err := zipDir(r.Path(r.Props.SourceDir))
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
	in := &lambda.CreateFunctionInput{FunctionName: &name, Role: &d.role, Handler: &d.handler,
		Runtime: types.Runtime(d.runtime), Code: &types.FunctionCode{ZipFile: code}, PackageType: types.PackageTypeZip,
		Timeout: sdkaws.Int32(int32(d.timeout)), MemorySize: sdkaws.Int32(int32(d.memory)),
		Environment: d.environment(), Tags: ownershipTags(r.Props.Tags, r.Stamp())}
	_, err = createCall(ctx, func() (*lambda.CreateFunctionOutput, error) {
		return c.CreateFunction(ctx, in, func(o *lambda.Options) { o.Retryer = noRetry })
	}, functionConflict)
	switch {
	case err == nil:
	case functionConflict(err):
		return LambdaFunctionAttrs{}, fmt.Errorf("function %s already exists: %w: %w", name, alchemy.ErrAlreadyExists, err)
	default:
		return LambdaFunctionAttrs{}, fmt.Errorf("creating function %s: %w", name, err)
	}
	out, err := waitUpdated(ctx, c, name)
	if err != nil {
		return LambdaFunctionAttrs{}, err
	}
	url, err := p.setURL(ctx, c, r, name, "", false)
	if err != nil {
		return LambdaFunctionAttrs{}, err
	}
	return functionAttrs(out.Configuration, url), nil
}

// Update brings the function to r.Props from what it is now (the function
// as GetFunction shows it, not as state remembers it), so it converges a
// function being taken over as well.
func (p functionProvider) Update(ctx context.Context, r *functionRequest) (LambdaFunctionAttrs, error) {
	if err := validateFunction(r.Props); err != nil {
		return LambdaFunctionAttrs{}, err
	}
	code, err := zipDir(r.Path(r.Props.SourceDir))
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
	return p.converge(ctx, c, r, name, code)
}

// converge brings the existing function name to r.Props: what differs from
// the function as it is (not as state remembers it) is changed, so nothing
// is written when nothing differs.
func (p functionProvider) converge(ctx context.Context, c *lambda.Client, r *functionRequest, name string, code []byte) (LambdaFunctionAttrs, error) {
	cur, err := waitUpdated(ctx, c, name)
	if err != nil {
		return LambdaFunctionAttrs{}, err
	}
	// A function without this resource's ownership tags is being taken
	// over: its URL may lack the public-access statements.
	adopting := !stampedBy(cur.Tags, r.Stamp())
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
	want := ownershipTags(r.Props.Tags, r.Stamp())
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
// none). The statements go first, so that an interrupted create never
// leaves a URL without them; those of an existing URL are added again only
// when adopting (a function made elsewhere may lack them).
func (functionProvider) setURL(ctx context.Context, c *lambda.Client, r *functionRequest, name, url string, adopting bool) (string, error) {
	has := url != ""
	switch {
	case r.Props.FunctionURL && has && !adopting:
		return url, nil
	case r.Props.FunctionURL:
		// The statements may exist already (an existing URL, an adopted
		// function, an interrupted create): AddPermission then answers a
		// conflict.
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
		if has {
			return url, nil
		}
		r.Note("Creating URL of function " + name + "...")
		out, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: &name, AuthType: types.FunctionUrlAuthTypeNone})
		if err != nil {
			return "", fmt.Errorf("creating URL of function %s: %w", name, err)
		}
		return sdkaws.ToString(out.FunctionUrl), nil
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

// Delete deletes the function (its URL and resource policy go with it).
// Ownership is the engine's to prove before it calls Delete; a function
// already gone is success.
func (p functionProvider) Delete(ctx context.Context, r *functionRequest) error {
	c, err := p.client(ctx, r)
	if err != nil {
		return err
	}
	name := r.OldAttrs.FunctionName
	if name == "" {
		// The engine passes the attributes Read found for a row that has
		// none; derive the name otherwise.
		name = functionName(r, r.OldProps)
	}
	r.Note("Deleting function " + name + "...")
	// The URL config and the resource policy go with the function.
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: &name}); err != nil && !functionGone(err) {
		return fmt.Errorf("deleting function %s: %w", name, err)
	}
	return nil
}
