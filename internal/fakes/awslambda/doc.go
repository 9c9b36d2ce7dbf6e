// Package awslambda is a stateful, in-memory fake of the AWS Lambda control
// plane, for tests only. No installable emulator of it exists
// (shared/spec/test-peers.md §2.8): LocalStack and the like need a Docker
// daemon this workplace lacks. Start serves it on a 127.0.0.1 port; point
// aws-sdk-go-v2 at it with AWS_ENDPOINT_URL_LAMBDA=Server.URL.
//
// # Operations and shapes
//
// Paths, methods, member names and success statuses are those of the Smithy
// model compiled into aws-sdk-go-v2 service/lambda v1.114.4
// (schemas/schemas.go, protocol restJson1):
//
//   - POST   /2015-03-31/functions                         CreateFunction (201)
//   - GET    /2015-03-31/functions/{name}                  GetFunction
//   - GET    /2015-03-31/functions/{name}/configuration    GetFunctionConfiguration
//   - PUT    /2015-03-31/functions/{name}/code             UpdateFunctionCode
//   - PUT    /2015-03-31/functions/{name}/configuration    UpdateFunctionConfiguration
//   - DELETE /2015-03-31/functions/{name}                  DeleteFunction (204)
//   - POST   /2015-03-31/functions/{name}/policy           AddPermission (201)
//   - DELETE /2015-03-31/functions/{name}/policy/{sid}     RemovePermission (204)
//   - GET    /2017-03-31/tags/{arn}                        ListTags
//   - POST   /2017-03-31/tags/{arn}                        TagResource (204)
//   - DELETE /2017-03-31/tags/{arn}?tagKeys=..             UntagResource (204)
//   - POST   /2021-10-31/functions/{name}/url              CreateFunctionUrlConfig (201)
//   - GET    /2021-10-31/functions/{name}/url              GetFunctionUrlConfig
//   - DELETE /2021-10-31/functions/{name}/url              DeleteFunctionUrlConfig (204)
//
// {name} may be a function name or its ARN. Only Zip packages are
// supported: Code.ZipFile (base64 in the JSON body, as the SDK sends a blob)
// must be a readable zip archive, else InvalidParameterValueException
// "Could not unzip uploaded file...", as AWS answers. CodeSha256 is the
// base64 of the SHA-256 of the zip, CodeSize its length, as on AWS. Function
// URLs look like https://<32 chars>.lambda-url.<region>.on.aws/. GetFunction's
// Code.Location points at this server (GET /_fake/code/{name} returns the
// zip) where AWS gives a presigned S3 URL.
//
// Request bodies are decoded strictly (unknown members answer
// InvalidParameterValueException), so a provider bug that sends a
// misspelled member shows up in tests.
//
// # What differs from AWS
//
// Real Lambda creates a function in State "Pending" and moves it to
// "Active" after some seconds, and an update sets LastUpdateStatus
// "InProgress" before "Successful"; a second update meanwhile fails with
// ResourceConflictException. This fake is Active / Successful at once, so the
// waiters the provider uses return on their first poll. Signatures are not
// checked, no code runs (there is no Invoke), and the role is only checked
// to look like an IAM role ARN.
//
// # Errors
//
// aws-sdk-go-v2 (smithy-go v1.28.9 transport/http/protocol/restjson1
// deserializeError) reads the error code from the X-Amzn-ErrorType header,
// else the body's "__type"/"code"; it cuts at ':' and keeps what follows
// '#', then looks the name up in the service's type registry. Errors are
// answered like Lambda's: header "X-Amzn-ErrorType: <Shape>", body
// {"Type":"User","message":"..."} with the status of the model's @httpError
// trait: ResourceNotFoundException 404, ResourceConflictException 409,
// InvalidParameterValueException 400 (decoding to the typed errors in
// service/lambda/types).
//
// # Inspection
//
// Requests lists the operations served (name, method, path, status; never
// bodies, which may hold environment secrets); Function returns a copy of a
// function's state, its zip included.
package awslambda
