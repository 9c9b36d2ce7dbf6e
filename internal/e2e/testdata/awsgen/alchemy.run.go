//go:build ignore

// A bucket, a queue and a table at generated names, deployed and SIGKILLed
// at many points (TestAWSPeers/KillLoop).
package main

import (
	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/aws"
)

func main() {
	alchemy.Run("awsgen", func(s *alchemy.Stack) {
		b := aws.NewS3Bucket(s, "Bucket", aws.S3BucketProps{})
		q := aws.NewSQSQueue(s, "Queue", aws.SQSQueueProps{})
		tb := aws.NewDynamoDBTable(s, "Table", aws.DynamoDBTableProps{PartitionKey: alchemy.String("id")})
		s.Output("bucket", b.BucketName)
		s.Output("queue", q.QueueName)
		s.Output("table", tb.TableName)
	})
}
