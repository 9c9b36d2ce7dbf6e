package testpeers

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// TestDynalite pins the peer's behaviour the AWS.DynamoDB.Table tests rely
// on, quirks included: if one of these changes, update the Dynalite doc.
func TestDynalite(t *testing.T) {
	isolatedAWSEnv(t)
	started := time.Now()
	p := Dynalite(t)
	t.Logf("dynalite ready at %s in %v", p.URL, time.Since(started).Round(time.Millisecond))
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", p.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	c := dynamodb.NewFromConfig(sdkConfig(t, "any", "any"))
	name := aws.String("peer-check")
	out, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: name,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
		Tags:                 []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}})
	if err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	if s := out.TableDescription.TableStatus; s != types.TableStatusCreating {
		t.Errorf("status after CreateTable = %s, want CREATING", s)
	}
	arn := out.TableDescription.TableArn
	if want := "arn:aws:dynamodb:us-east-1:000000000000:table/peer-check"; aws.ToString(arn) != want {
		t.Errorf("TableArn = %q, want %q", aws.ToString(arn), want)
	}
	waitStart := time.Now()
	if err := dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 20*time.Millisecond, time.Second
	}).Wait(ctx, &dynamodb.DescribeTableInput{TableName: name}, 10*time.Second); err != nil {
		t.Fatalf("TableExistsWaiter: %v", err)
	}
	t.Logf("ACTIVE after %v", time.Since(waitStart).Round(time.Millisecond))

	// Quirk: the CreateTable tags are gone; TagResource works.
	tags, err := c.ListTagsOfResource(ctx, &dynamodb.ListTagsOfResourceInput{ResourceArn: arn})
	if err != nil {
		t.Fatalf("ListTagsOfResource: %v", err)
	}
	if len(tags.Tags) != 0 {
		t.Logf("dynalite now keeps CreateTable tags (update the Dynalite doc): %v", tags.Tags)
	}
	if _, err := c.TagResource(ctx, &dynamodb.TagResourceInput{ResourceArn: arn,
		Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	if tags, err = c.ListTagsOfResource(ctx, &dynamodb.ListTagsOfResourceInput{ResourceArn: arn}); err != nil ||
		len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "a" {
		t.Fatalf("ListTagsOfResource after TagResource: %v %v", tags, err)
	}

	// Quirk: UpdateTimeToLive is not implemented; DescribeTimeToLive is.
	_, err = c.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: name,
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String("exp"), Enabled: aws.Bool(true)}})
	var ae smithy.APIError
	if err == nil || !errors.As(err, &ae) || ae.ErrorCode() != "UnknownOperationException" {
		t.Errorf("UpdateTimeToLive: %v, want UnknownOperationException", err)
	}
	if _, err := c.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: name}); err != nil {
		t.Errorf("DescribeTimeToLive: %v", err)
	}

	if _, err := c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: name}); err != nil {
		t.Fatalf("DeleteTable: %v", err)
	}
	if err := dynamodb.NewTableNotExistsWaiter(c, func(o *dynamodb.TableNotExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 20*time.Millisecond, time.Second
	}).Wait(ctx, &dynamodb.DescribeTableInput{TableName: name}, 10*time.Second); err != nil {
		t.Fatalf("TableNotExistsWaiter: %v", err)
	}
	var nf *types.ResourceNotFoundException
	if _, err := c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: name}); !errors.As(err, &nf) {
		t.Errorf("DeleteTable of a deleted table: %v, want ResourceNotFoundException", err)
	}
}
