//go:build ignore

// An HTTP API on AWS Lambda (a public function URL) that reads an S3 bucket
// and a DynamoDB table, with an IAM role allowing exactly that.
//
//	alchemy deploy ./examples/aws-api
package main

import (
	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/aws"
)

const trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

func main() {
	alchemy.Run("aws-api", func(s *alchemy.Stack) {
		files := aws.NewS3Bucket(s, "Files", aws.S3BucketProps{BlockPublicAccess: alchemy.Bool(true)})
		visits := aws.NewDynamoDBTable(s, "Visits", aws.DynamoDBTableProps{PartitionKey: alchemy.String("path")})
		role := aws.NewIAMRole(s, "ApiRole", aws.IAMRoleProps{
			AssumeRolePolicy:  alchemy.String(trust),
			ManagedPolicyArns: alchemy.V([]string{"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}),
			InlinePolicies: alchemy.StringMap(map[string]alchemy.Output[string]{
				"data": alchemy.Sprintf(`{"Version":"2012-10-17","Statement":[`+
					`{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"%s/*"},`+
					`{"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:UpdateItem"],"Resource":"%s"}]}`,
					files.ARN, visits.TableArn),
			}),
		})
		api := aws.NewLambdaFunction(s, "Api", aws.LambdaFunctionProps{
			SourceDir: alchemy.String("function"),
			Runtime:   alchemy.String("nodejs20.x"),
			Handler:   alchemy.String("index.handler"),
			RoleArn:   role.Arn,
			Environment: alchemy.StringMap(map[string]alchemy.Output[string]{
				"BUCKET": files.BucketName,
				"TABLE":  visits.TableName,
			}),
			FunctionURL: alchemy.Bool(true),
		})
		s.Output("url", api.URL)
		s.Output("bucket", files.BucketName)
		s.Output("table", visits.TableName)
	})
}
