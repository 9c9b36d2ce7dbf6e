//go:build ignore

// A bucket, a queue and a table at explicit names, which the test creates
// first, outside alchemy (TestAWSPeers/ExistingNeedAdopt).
package main

import (
	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/aws"
)

func main() {
	alchemy.Run("awsnamed", func(s *alchemy.Stack) {
		b := aws.NewS3Bucket(s, "Bucket", aws.S3BucketProps{BucketName: alchemy.String("e2e-named-bucket")})
		q := aws.NewSQSQueue(s, "Queue", aws.SQSQueueProps{QueueName: alchemy.String("e2e-named-queue")})
		tb := aws.NewDynamoDBTable(s, "Table", aws.DynamoDBTableProps{
			TableName:    alchemy.String("e2e-named-table"),
			PartitionKey: alchemy.String("id"),
		})
		s.Output("bucket", b.BucketName)
		s.Output("queue", q.QueueName)
		s.Output("table", tb.TableName)
	})
}
