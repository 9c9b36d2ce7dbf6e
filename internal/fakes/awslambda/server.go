package awslambda

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Region and Account are what ARNs and URLs are built with.
const (
	Region  = "us-east-1"
	Account = "123456789012"
)

// Request is one request served, without its body.
type Request struct {
	Operation    string
	Method, Path string
	Status       int
}

// Permission is a statement added by AddPermission.
type Permission struct {
	StatementID, Action, Principal, FunctionURLAuthType string
	InvokedViaFunctionURL                               bool
}

// URLConfig is a function URL.
type URLConfig struct {
	URL, AuthType, CreationTime string
}

// Function is a copy of a function's state.
type Function struct {
	Name, Arn, Role, Handler, Runtime string
	Timeout, MemorySize               int
	Environment                       map[string]string
	Tags                              map[string]string
	Zip                               []byte
	CodeSha256                        string
	URL                               *URLConfig
	Permissions                       []Permission
	State, LastUpdateStatus           string
	RevisionID, LastModified          string
}

// Server is a running fake.
type Server struct {
	// URL is the endpoint (http://127.0.0.1:port) for AWS_ENDPOINT_URL_LAMBDA.
	URL string

	mu        sync.Mutex
	functions map[string]*Function
	requests  []Request
}

// Start serves a fake on a 127.0.0.1 port until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{functions: map[string]*Function{}}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	s.URL = ts.URL
	return s
}

// Requests returns the requests served so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Operations returns the names of the operations served so far, in order.
func (s *Server) Operations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.requests))
	for i, r := range s.requests {
		out[i] = r.Operation
	}
	return out
}

// ResetRequests forgets the requests served so far.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// Function returns a copy of the named function's state.
func (s *Server) Function(name string) (Function, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.functions[name]
	if !ok {
		return Function{}, false
	}
	return f.clone(), true
}

// FunctionNames lists the functions, sorted.
func (s *Server) FunctionNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.functions))
}

func (f *Function) clone() Function {
	c := *f
	c.Environment = maps.Clone(f.Environment)
	c.Tags = maps.Clone(f.Tags)
	c.Zip = slices.Clone(f.Zip)
	c.Permissions = slices.Clone(f.Permissions)
	if f.URL != nil {
		u := *f.URL
		c.URL = &u
	}
	return c
}

// apiError is an error answer.
type apiError struct {
	status    int
	code, msg string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func notFound(msg string) *apiError { return &apiError{404, "ResourceNotFoundException", msg} }
func conflict(msg string) *apiError { return &apiError{409, "ResourceConflictException", msg} }
func invalid(msg string) *apiError  { return &apiError{400, "InvalidParameterValueException", msg} }
func functionNotFound(name string) *apiError {
	return notFound(fmt.Sprintf("Function not found: arn:aws:lambda:%s:%s:function:%s", Region, Account, name))
}

type route struct {
	op     string
	method string
	// pattern segments; "{}" matches one segment.
	segs    []string
	status  int
	handler func(s *Server, r *http.Request, args []string) (any, *apiError)
}

var routes = []route{
	{"CreateFunction", "POST", []string{"2015-03-31", "functions"}, 201, (*Server).createFunction},
	{"GetFunction", "GET", []string{"2015-03-31", "functions", "{}"}, 200, (*Server).getFunction},
	{"DeleteFunction", "DELETE", []string{"2015-03-31", "functions", "{}"}, 204, (*Server).deleteFunction},
	{"GetFunctionConfiguration", "GET", []string{"2015-03-31", "functions", "{}", "configuration"}, 200, (*Server).getConfiguration},
	{"UpdateFunctionConfiguration", "PUT", []string{"2015-03-31", "functions", "{}", "configuration"}, 200, (*Server).updateConfiguration},
	{"UpdateFunctionCode", "PUT", []string{"2015-03-31", "functions", "{}", "code"}, 200, (*Server).updateCode},
	{"AddPermission", "POST", []string{"2015-03-31", "functions", "{}", "policy"}, 201, (*Server).addPermission},
	{"RemovePermission", "DELETE", []string{"2015-03-31", "functions", "{}", "policy", "{}"}, 204, (*Server).removePermission},
	{"ListTags", "GET", []string{"2017-03-31", "tags", "{}"}, 200, (*Server).listTags},
	{"TagResource", "POST", []string{"2017-03-31", "tags", "{}"}, 204, (*Server).tagResource},
	{"UntagResource", "DELETE", []string{"2017-03-31", "tags", "{}"}, 204, (*Server).untagResource},
	{"CreateFunctionUrlConfig", "POST", []string{"2021-10-31", "functions", "{}", "url"}, 201, (*Server).createURL},
	{"GetFunctionUrlConfig", "GET", []string{"2021-10-31", "functions", "{}", "url"}, 200, (*Server).getURL},
	{"DeleteFunctionUrlConfig", "DELETE", []string{"2021-10-31", "functions", "{}", "url"}, 204, (*Server).deleteURL},
	{"FakeGetCode", "GET", []string{"_fake", "code", "{}"}, 200, nil},
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	segs := make([]string, len(raw))
	for i, p := range raw {
		u, err := url.PathUnescape(p)
		if err != nil {
			u = p
		}
		segs[i] = u
	}
	for _, rt := range routes {
		args, ok := match(rt.segs, segs)
		if !ok || rt.method != r.Method {
			continue
		}
		if rt.handler == nil { // the code download
			s.serveCode(w, args[0])
			return
		}
		s.mu.Lock()
		out, aerr := rt.handler(s, r, args)
		status := rt.status
		if aerr != nil {
			status = aerr.status
		}
		s.requests = append(s.requests, Request{Operation: rt.op, Method: r.Method, Path: r.URL.Path, Status: status})
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-Requestid", newID(16))
		if aerr != nil {
			w.Header().Set("X-Amzn-ErrorType", aerr.code)
			w.WriteHeader(aerr.status)
			json.NewEncoder(w).Encode(map[string]string{"Type": "User", "Message": aerr.msg})
			return
		}
		w.WriteHeader(status)
		if out != nil && status != 204 {
			json.NewEncoder(w).Encode(out)
		}
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{Operation: "Unknown", Method: r.Method, Path: r.URL.Path, Status: 404})
	s.mu.Unlock()
	w.Header().Set("X-Amzn-ErrorType", "UnknownOperationException")
	w.WriteHeader(404)
	io.WriteString(w, `{"Type":"User","Message":"Unknown operation"}`)
}

func match(pattern, segs []string) ([]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	var args []string
	for i, p := range pattern {
		switch {
		case p == "{}":
			args = append(args, segs[i])
		case p != segs[i]:
			return nil, false
		}
	}
	return args, true
}

func (s *Server) serveCode(w http.ResponseWriter, name string) {
	s.mu.Lock()
	f, ok := s.functions[name]
	var data []byte
	if ok {
		data = slices.Clone(f.Zip)
	}
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, nil)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Write(data)
}

// decode reads the JSON body strictly into v.
func decode(r *http.Request, v any) *apiError {
	d := json.NewDecoder(r.Body)
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil && err != io.EOF {
		return invalid("Could not parse request body: " + err.Error())
	}
	return nil
}

// lookup finds a function by name or ARN (a qualifier is ignored).
func (s *Server) lookup(ref string) (*Function, *apiError) {
	name := ref
	if strings.HasPrefix(ref, "arn:") {
		_, after, ok := strings.Cut(ref, ":function:")
		if !ok {
			return nil, invalid("Invalid function ARN: " + ref)
		}
		name, _, _ = strings.Cut(after, ":")
	}
	f, ok := s.functions[name]
	if !ok {
		return nil, functionNotFound(name)
	}
	return f, nil
}

var (
	nameRe   = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	roleRe   = regexp.MustCompile(`^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$`)
	envKeyRe = regexp.MustCompile(`^[a-zA-Z]([a-zA-Z0-9_])+$`)
)

type environment struct {
	Variables map[string]string `json:"Variables"`
}

// config is what CreateFunction and UpdateFunctionConfiguration share.
type config struct {
	Role        *string      `json:"Role"`
	Handler     *string      `json:"Handler"`
	Runtime     *string      `json:"Runtime"`
	Description *string      `json:"Description"`
	Timeout     *int         `json:"Timeout"`
	MemorySize  *int         `json:"MemorySize"`
	Environment *environment `json:"Environment"`
}

func (c *config) validate() *apiError {
	if c.Role != nil && !roleRe.MatchString(*c.Role) {
		return invalid(fmt.Sprintf("1 validation error detected: Value '%s' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+", *c.Role))
	}
	if c.Timeout != nil && (*c.Timeout < 1 || *c.Timeout > 900) {
		return invalid(fmt.Sprintf("1 validation error detected: Value '%d' at 'timeout' failed to satisfy constraint: Member must have value between 1 and 900", *c.Timeout))
	}
	if c.MemorySize != nil && (*c.MemorySize < 128 || *c.MemorySize > 10240) {
		return invalid(fmt.Sprintf("1 validation error detected: Value '%d' at 'memorySize' failed to satisfy constraint: Member must have value between 128 and 10240", *c.MemorySize))
	}
	if c.Environment != nil {
		for k := range c.Environment.Variables {
			if !envKeyRe.MatchString(k) {
				return invalid(fmt.Sprintf("Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys or keys that are not valid: [%s]", k))
			}
		}
	}
	return nil
}

func (c *config) apply(f *Function) {
	if c.Role != nil {
		f.Role = *c.Role
	}
	if c.Handler != nil {
		f.Handler = *c.Handler
	}
	if c.Runtime != nil {
		f.Runtime = *c.Runtime
	}
	if c.Timeout != nil {
		f.Timeout = *c.Timeout
	}
	if c.MemorySize != nil {
		f.MemorySize = *c.MemorySize
	}
	if c.Environment != nil {
		f.Environment = maps.Clone(c.Environment.Variables)
	}
}

func checkZip(data []byte) *apiError {
	if len(data) == 0 {
		return invalid("Please provide a source for function code.")
	}
	if _, err := zip.NewReader(bytes.NewReader(data), int64(len(data))); err != nil {
		return invalid("Could not unzip uploaded file. Please check your file, then try to upload again.")
	}
	return nil
}

func (f *Function) setCode(data []byte) {
	f.Zip = slices.Clone(data)
	sum := sha256.Sum256(data)
	f.CodeSha256 = base64.StdEncoding.EncodeToString(sum[:])
}

// touch records a successful change (AWS: LastUpdateStatus goes through
// InProgress first).
func (f *Function) touch() {
	f.LastModified = time.Now().UTC().Format("2006-01-02T15:04:05.000+0000")
	f.RevisionID = newUUID()
	f.State, f.LastUpdateStatus = "Active", "Successful"
}

func (s *Server) createFunction(r *http.Request, _ []string) (any, *apiError) {
	var in struct {
		config
		FunctionName *string `json:"FunctionName"`
		Code         *struct {
			ZipFile         []byte  `json:"ZipFile"`
			S3Bucket        *string `json:"S3Bucket"`
			S3Key           *string `json:"S3Key"`
			S3ObjectVersion *string `json:"S3ObjectVersion"`
			ImageUri        *string `json:"ImageUri"`
		} `json:"Code"`
		Tags          map[string]string `json:"Tags"`
		Publish       *bool             `json:"Publish"`
		PackageType   *string           `json:"PackageType"`
		Architectures []string          `json:"Architectures"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	if in.FunctionName == nil || !nameRe.MatchString(*in.FunctionName) {
		return nil, invalid("1 validation error detected: Value at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+ and have length between 1 and 64")
	}
	if in.PackageType != nil && *in.PackageType != "Zip" {
		return nil, invalid("this fake supports only PackageType Zip")
	}
	if in.Role == nil {
		return nil, invalid("1 validation error detected: Value null at 'role' failed to satisfy constraint: Member must not be null")
	}
	if in.Runtime == nil || in.Handler == nil {
		return nil, invalid("Runtime and Handler are mandatory parameters for functions created with deployment packages.")
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	if in.Code == nil {
		return nil, invalid("1 validation error detected: Value null at 'code' failed to satisfy constraint: Member must not be null")
	}
	if in.Code.S3Bucket != nil || in.Code.ImageUri != nil {
		return nil, invalid("this fake supports only Code.ZipFile")
	}
	if err := checkZip(in.Code.ZipFile); err != nil {
		return nil, err
	}
	name := *in.FunctionName
	if _, exists := s.functions[name]; exists {
		return nil, conflict("Function already exist: " + name)
	}
	f := &Function{Name: name, Arn: fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", Region, Account, name),
		Timeout: 3, MemorySize: 128, Tags: maps.Clone(in.Tags)}
	if f.Tags == nil {
		f.Tags = map[string]string{}
	}
	in.apply(f)
	f.setCode(in.Code.ZipFile)
	f.touch()
	s.functions[name] = f
	return f.configuration(), nil
}

// configuration is the FunctionConfiguration shape.
func (f *Function) configuration() map[string]any {
	c := map[string]any{
		"FunctionName": f.Name, "FunctionArn": f.Arn, "Runtime": f.Runtime, "Role": f.Role,
		"Handler": f.Handler, "CodeSize": len(f.Zip), "Description": "", "Timeout": f.Timeout,
		"MemorySize": f.MemorySize, "LastModified": f.LastModified, "CodeSha256": f.CodeSha256,
		"Version": "$LATEST", "RevisionId": f.RevisionID, "PackageType": "Zip",
		"Architectures": []string{"x86_64"}, "State": f.State, "LastUpdateStatus": f.LastUpdateStatus,
		"EphemeralStorage": map[string]any{"Size": 512},
		"TracingConfig":    map[string]any{"Mode": "PassThrough"},
	}
	if f.Environment != nil {
		c["Environment"] = map[string]any{"Variables": f.Environment}
	}
	return c
}

func (s *Server) getFunction(r *http.Request, args []string) (any, *apiError) {
	f, err := s.lookup(args[0])
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"Configuration": f.configuration(),
		"Code":          map[string]any{"RepositoryType": "S3", "Location": "http://" + r.Host + "/_fake/code/" + url.PathEscape(f.Name)},
		"Tags":          f.Tags,
	}, nil
}

func (s *Server) getConfiguration(_ *http.Request, args []string) (any, *apiError) {
	f, err := s.lookup(args[0])
	if err != nil {
		return nil, err
	}
	return f.configuration(), nil
}

func (s *Server) deleteFunction(_ *http.Request, args []string) (any, *apiError) {
	f, err := s.lookup(args[0])
	if err != nil {
		return nil, err
	}
	delete(s.functions, f.Name)
	return nil, nil
}

func checkRevision(f *Function, rev *string) *apiError {
	if rev != nil && *rev != f.RevisionID {
		return &apiError{412, "PreconditionFailedException", "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id"}
	}
	return nil
}

func (s *Server) updateConfiguration(r *http.Request, args []string) (any, *apiError) {
	var in struct {
		config
		RevisionId *string `json:"RevisionId"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	f, err := s.lookup(args[0])
	if err != nil {
		return nil, err
	}
	if err := checkRevision(f, in.RevisionId); err != nil {
		return nil, err
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	in.apply(f)
	f.touch()
	return f.configuration(), nil
}

func (s *Server) updateCode(r *http.Request, args []string) (any, *apiError) {
	var in struct {
		ZipFile       []byte   `json:"ZipFile"`
		Publish       *bool    `json:"Publish"`
		DryRun        *bool    `json:"DryRun"`
		RevisionId    *string  `json:"RevisionId"`
		Architectures []string `json:"Architectures"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	f, err := s.lookup(args[0])
	if err != nil {
		return nil, err
	}
	if err := checkRevision(f, in.RevisionId); err != nil {
		return nil, err
	}
	if err := checkZip(in.ZipFile); err != nil {
		return nil, err
	}
	if in.DryRun == nil || !*in.DryRun {
		f.setCode(in.ZipFile)
		f.touch()
	}
	return f.configuration(), nil
}

func (s *Server) addPermission(r *http.Request, args []string) (any, *apiError) {
	var in struct {
		StatementId           *string `json:"StatementId"`
		Action                *string `json:"Action"`
		Principal             *string `json:"Principal"`
		FunctionUrlAuthType   *string `json:"FunctionUrlAuthType"`
		InvokedViaFunctionUrl *bool   `json:"InvokedViaFunctionUrl"`
		SourceArn             *string `json:"SourceArn"`
		SourceAccount         *string `json:"SourceAccount"`
		RevisionId            *string `json:"RevisionId"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	f, err := s.lookup(args[0])
	if err != nil {
		return nil, err
	}
	if in.StatementId == nil || in.Action == nil || in.Principal == nil {
		return nil, invalid("StatementId, Action and Principal are required")
	}
	for _, p := range f.Permissions {
		if p.StatementID == *in.StatementId {
			return nil, conflict(fmt.Sprintf("The statement id (%s) provided already exists. Please provide a new statement id, or remove the existing statement.", p.StatementID))
		}
	}
	p := Permission{StatementID: *in.StatementId, Action: *in.Action, Principal: *in.Principal}
	if in.FunctionUrlAuthType != nil {
		p.FunctionURLAuthType = *in.FunctionUrlAuthType
	}
	if in.InvokedViaFunctionUrl != nil {
		p.InvokedViaFunctionURL = *in.InvokedViaFunctionUrl
	}
	f.Permissions = append(f.Permissions, p)
	stmt, _ := json.Marshal(map[string]any{"Sid": p.StatementID, "Effect": "Allow",
		"Principal": p.Principal, "Action": p.Action, "Resource": f.Arn})
	return map[string]any{"Statement": string(stmt)}, nil
}

func (s *Server) removePermission(_ *http.Request, args []string) (any, *apiError) {
	f, err := s.lookup(args[0])
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(f.Permissions, func(p Permission) bool { return p.StatementID == args[1] })
	if i < 0 {
		return nil, notFound("Statement " + args[1] + " is not found in resource policy.")
	}
	f.Permissions = slices.Delete(f.Permissions, i, i+1)
	return nil, nil
}

// byArn finds a function by its ARN (tag operations take ARNs only).
func (s *Server) byArn(arn string) (*Function, *apiError) {
	if !strings.HasPrefix(arn, "arn:") {
		return nil, invalid("1 validation error detected: Value '" + arn + "' at 'resource' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:...")
	}
	return s.lookup(arn)
}

func (s *Server) listTags(_ *http.Request, args []string) (any, *apiError) {
	f, err := s.byArn(args[0])
	if err != nil {
		return nil, err
	}
	return map[string]any{"Tags": f.Tags}, nil
}

func (s *Server) tagResource(r *http.Request, args []string) (any, *apiError) {
	var in struct {
		Tags map[string]string `json:"Tags"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	f, err := s.byArn(args[0])
	if err != nil {
		return nil, err
	}
	for k, v := range in.Tags {
		f.Tags[k] = v
	}
	return nil, nil
}

func (s *Server) untagResource(r *http.Request, args []string) (any, *apiError) {
	f, err := s.byArn(args[0])
	if err != nil {
		return nil, err
	}
	for _, k := range r.URL.Query()["tagKeys"] {
		delete(f.Tags, k)
	}
	return nil, nil
}

func (f *Function) urlConfig() map[string]any {
	return map[string]any{"FunctionUrl": f.URL.URL, "FunctionArn": f.Arn, "AuthType": f.URL.AuthType,
		"CreationTime": f.URL.CreationTime, "LastModifiedTime": f.URL.CreationTime, "InvokeMode": "BUFFERED"}
}

func (s *Server) createURL(r *http.Request, args []string) (any, *apiError) {
	var in struct {
		AuthType   *string         `json:"AuthType"`
		Cors       json.RawMessage `json:"Cors"`
		InvokeMode *string         `json:"InvokeMode"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	f, err := s.lookup(args[0])
	if err != nil {
		return nil, err
	}
	if in.AuthType == nil || (*in.AuthType != "NONE" && *in.AuthType != "AWS_IAM") {
		return nil, invalid("1 validation error detected: Value at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]")
	}
	if q := r.URL.Query().Get("Qualifier"); q != "" && q != "$LATEST" {
		return nil, notFound("Function not found: " + f.Arn + ":" + q)
	}
	if f.URL != nil {
		return nil, conflict(fmt.Sprintf("Failed to create function url config for [functionArn = %s]. Error message:  FunctionUrlConfig exists for this Lambda function", f.Arn))
	}
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")
	f.URL = &URLConfig{URL: fmt.Sprintf("https://%s.lambda-url.%s.on.aws/", newID(32), Region), AuthType: *in.AuthType, CreationTime: now}
	out := f.urlConfig()
	delete(out, "LastModifiedTime")
	return out, nil
}

func (s *Server) getURL(_ *http.Request, args []string) (any, *apiError) {
	f, err := s.lookup(args[0])
	if err != nil {
		return nil, err
	}
	if f.URL == nil {
		return nil, notFound("The resource you requested does not exist.")
	}
	return f.urlConfig(), nil
}

func (s *Server) deleteURL(_ *http.Request, args []string) (any, *apiError) {
	f, err := s.lookup(args[0])
	if err != nil {
		return nil, err
	}
	if f.URL == nil {
		return nil, notFound("The resource you requested does not exist.")
	}
	f.URL = nil
	return nil, nil
}

// newID is n random lowercase letters and digits.
func newID(n int) string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return string(b)
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
