"""The bucket people upload images to, and the bucket that receives its access logs."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.compliance import acknowledge


class ImageStore(Construct):
    """Private, encrypted, versioned image bucket with server access logs in a separate bucket.

    The log bucket never triggers the pipeline: notifications are only added to `bucket`.
    """

    def __init__(self, scope: Construct, construct_id: str, *, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, construct_id)

        # Both buckets: private, SSE-S3 (the only encryption S3 access-log delivery accepts),
        # TLS only, no ACLs.
        private = dict(
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=removal_policy,
        )
        self.access_log_bucket = s3.Bucket(self, "AccessLogs", **private)
        acknowledge(self.access_log_bucket, "AwsSolutions-S1",
            "This is the access-log bucket itself; logging it would need a third bucket and "
            "logging that one a fourth. CloudTrail data events are the control for it.",
        )

        self.bucket = s3.Bucket(
            self,
            "Images",
            **private,
            # Versioning lets the labeller read exactly the version an event announced, and keeps
            # an overwritten or deleted original recoverable.
            versioned=True,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="images/",
        )

    def grant_read_images(self, grantee: iam.Role) -> None:
        """Object reads only: what Rekognition needs when it fetches an image with the caller's rights.

        GetObjectVersion is needed because the labeller names the event's version id.
        Narrower than Bucket.grant_read, which also grants s3:GetBucket* and s3:List*.
        """
        self._grant_object_reads(grantee, "ReadUploadedImages",
            "Any object uploaded to the image bucket may be an image to label, so the read covers the "
            "bucket's objects (s3:GetObject, s3:GetObjectVersion only), not the bucket or other buckets.",
        )

    def grant_read_films(self, grantee: iam.Role) -> None:
        """The same object reads for StartLabelDetection, which reads the film with the caller's rights."""
        self._grant_object_reads(grantee, "ReadUploadedFilms",
            "Any object uploaded to the image bucket may be a film to label, so the read covers the "
            "bucket's objects (s3:GetObject, s3:GetObjectVersion only), not the bucket or other buckets.",
        )

    def grant_web_reads_and_uploads(self, grantee: iam.Role) -> None:
        """What the web page's API presigns: reads of an exact version (GetObject, GetObjectVersion)
        and uploads, single or in parts (PutObject authorises CreateMultipartUpload, UploadPart and
        CompleteMultipartUpload; AbortMultipartUpload is its own action)."""
        grantee.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PresignImageReadsAndUploads",
                actions=["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[self.bucket.arn_for_objects("*")],
            )
        )
        bucket = Stack.of(self).get_logical_id(self.bucket.node.default_child)
        acknowledge(grantee, f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/*]",
            "The page shows and uploads any object of the library, whatever its key: objects of the image "
            "bucket only, reads and uploads only (no delete, no listing).",
        )

    def grant_upload_cors(self, grantee: iam.Role) -> None:
        """PutBucketCors and DeleteBucketCors are both authorised as s3:PutBucketCORS, on the bucket."""
        grantee.add_to_principal_policy(
            iam.PolicyStatement(sid="SetUploadCors", actions=["s3:PutBucketCORS"], resources=[self.bucket.bucket_arn])
        )

    def _grant_object_reads(self, grantee: iam.Role, sid: str, reason: str) -> None:
        grantee.add_to_principal_policy(
            iam.PolicyStatement(
                sid=sid,
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[self.bucket.arn_for_objects("*")],
            )
        )
        bucket = Stack.of(self).get_logical_id(self.bucket.node.default_child)
        acknowledge(grantee, f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/*]", reason)
