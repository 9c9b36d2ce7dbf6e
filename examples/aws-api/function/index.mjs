// GET /<key>: counts the visit in DynamoDB and returns the S3 object <key>.
import { S3Client, GetObjectCommand } from "@aws-sdk/client-s3";
import { DynamoDBClient, UpdateItemCommand } from "@aws-sdk/client-dynamodb";

const s3 = new S3Client({});
const ddb = new DynamoDBClient({});

export const handler = async (event) => {
  const key = (event.rawPath || "/").slice(1) || "index.html";
  const counted = await ddb.send(new UpdateItemCommand({
    TableName: process.env.TABLE,
    Key: { path: { S: key } },
    UpdateExpression: "ADD visits :one",
    ExpressionAttributeValues: { ":one": { N: "1" } },
    ReturnValues: "UPDATED_NEW",
  }));
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: process.env.BUCKET, Key: key }));
    return { statusCode: 200, headers: { "x-visits": counted.Attributes.visits.N }, body: await object.Body.transformToString() };
  } catch (e) {
    return { statusCode: 404, body: `no ${key} in ${process.env.BUCKET}\n` };
  }
};
