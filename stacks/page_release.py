"""Publishing the page: one function (lambda_src/page_release) behind two custom resources, the page's
files and config.json in the site bucket (Custom::PagePublication) and the image bucket's upload CORS
(Custom::UploadCors). Not CDK's BucketDeployment: its handler runs the AWS CLI from a layer the local
Lambda runtime cannot run (web-design.md, "AWS shape")."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CustomResource, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from stacks.compliance import acknowledge
from stacks.logged_function import add_logged_function

HANDLER = "page_release.handler.handle"
WEB_SOURCE = Path(__file__).resolve().parent.parent / "web"


class PageRelease(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        site_bucket_name: str,
        distribution_id: str,
        config: dict,
        image_bucket_name: str,
        page_origins: list[str],
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)

        # web/ as it is (no build step), zipped by CDK into the bootstrap asset bucket.
        self.page_asset = s3_assets.Asset(self, "Page", path=str(WEB_SOURCE))

        parts = add_logged_function(
            self,
            handler=HANDLER,
            description="Publishes the web page to its bucket and sets the image bucket's upload CORS (deploy time).",
            role_description="Publishes the web page: reads its asset, writes the site bucket, sets upload CORS.",
            memory_size=256,
            # A page is a few hundred kilobytes; the time is CloudFormation round trips, not copying.
            timeout=Duration.minutes(2),
            environment={},
            log_retention=log_retention,
            removal_policy=removal_policy,
        )
        self.function = parts.function
        self.role = parts.role
        acknowledge(self.function, "Serverless-LambdaDLQ",
            "Invoked by CloudFormation for its custom resources only, and every outcome is answered on the "
            "request's ResponseURL (a failure fails the stack operation with the reason).",
        )
        acknowledge(self.function, "Serverless-LambdaTracing",
            "Runs a few times per deployment; its JSON logs carry each request. X-Ray would add "
            "xray:Put* on Resource * to the role.",
        )
        # The asset's own object: its key is the content hash, known at synth time.
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="ReadPageAsset", actions=["s3:GetObject"],
            resources=[self.page_asset.bucket.arn_for_objects(self.page_asset.s3_object_key)],
        ))

        self.publication = CustomResource(
            self,
            "Publication",
            service_token=self.function.function_arn,
            resource_type="Custom::PagePublication",
            properties={
                "SiteBucket": site_bucket_name,
                "SourceBucket": self.page_asset.s3_bucket_name,
                "SourceKey": self.page_asset.s3_object_key,
                "Config": config,
                "DistributionId": distribution_id,
            },
        )
        self.upload_cors = CustomResource(
            self,
            "UploadCors",
            service_token=self.function.function_arn,
            resource_type="Custom::UploadCors",
            properties={"Bucket": image_bucket_name, "AllowedOrigins": page_origins},
        )
        # The role's statements must exist before CloudFormation invokes the function.
        for resource in (self.publication, self.upload_cors):
            resource.node.add_dependency(self.role)
