"""What the upload benchmarks send to: a versioned bucket (as the stack's) named by the outputs of a
placeholder CloudFormation stack, so that `imagelabels upload` finds it as it finds the real one,
without a deploy. Importing this sets fake credentials and clears AWS_ENDPOINT_URL: the
benchmarks name their endpoint themselves and must never reach a real account."""

from __future__ import annotations

import json
import os

for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "eu-west-1"}.items():
    os.environ[name] = value
os.environ.pop("AWS_ENDPOINT_URL", None)

REGION = "eu-west-1"
STACK = "ImageLabels-bench"


def bucket_behind_placeholder_stack(s3, cloudformation, bucket: str) -> None:
    """Creates `bucket` (versioned) and the stack STACK whose outputs name it."""
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    template = {"Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {"BucketName": {"Value": bucket}, "TableName": {"Value": "unused"}}}
    cloudformation.create_stack(StackName=STACK, TemplateBody=json.dumps(template))
