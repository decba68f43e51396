"""The web page's hosting: a private site bucket served by CloudFront through origin access control,
with the page's security headers, access logs, and /api/* passed to the HTTP API (same origin, no CORS)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.compliance import acknowledge

INDEX = "index.html"


def content_security_policy(*, image_origin: str, auth_origin: str) -> str:
    """The page loads only its own files; images and films come from presigned URLs of the image
    bucket, uploads go there, and the token exchange goes to the Cognito domain."""
    return "; ".join((
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src 'self' {image_origin}",
        f"media-src {image_origin}",
        f"connect-src 'self' {image_origin} {auth_origin}",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ))


class WebSite(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api_domain_name: str,
        image_bucket_domain_name: str,
        auth_domain_name: str,
        domain_name: str | None,
        certificate_arn: str | None,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)

        # Both buckets: private, SSE-S3 (what S3 and CloudFront log delivery accept), TLS only.
        private = dict(
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            removal_policy=removal_policy,
        )
        # CloudFront's standard logs are written with ACLs, hence OBJECT_WRITER on this bucket only.
        self.log_bucket = s3.Bucket(self, "Logs", **private, object_ownership=s3.ObjectOwnership.OBJECT_WRITER)
        acknowledge(self.log_bucket, "AwsSolutions-S1",
            "This is the page's log bucket itself (CloudFront and site-bucket access logs); logging it would "
            "need another bucket. CloudTrail data events are the control for it.",
        )

        self.bucket = s3.Bucket(
            self,
            "Site",
            **private,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="site/",
        )

        self.headers_policy = cloudfront.ResponseHeadersPolicy(
            self,
            "Headers",
            comment="image-labels page: CSP, HSTS, nosniff, no framing, same-origin referrer",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy(
                        image_origin=f"https://{image_bucket_domain_name}",
                        auth_origin=f"https://{auth_domain_name}",
                    ),
                    override=True,
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365), include_subdomains=True, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.SAME_ORIGIN, override=True
                ),
            ),
        )

        api_behaviour = cloudfront.BehaviorOptions(
            origin=origins.HttpOrigin(api_domain_name, protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY),
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            # CloudFront refuses Authorization in an allow-list of headers; this policy passes it (and
            # every other viewer header but Host, which must be the API's own).
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            response_headers_policy=self.headers_policy,
        )
        certificate = (
            acm.Certificate.from_certificate_arn(self, "Certificate", certificate_arn) if certificate_arn else None
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="image-labels web page",
            default_root_object=INDEX,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self.headers_policy,
            ),
            additional_behaviors={"/api/*": api_behaviour},
            domain_names=[domain_name] if domain_name else None,
            certificate=certificate,
            # Only with a certificate of our own: the default certificate's policy is fixed (TLSv1).
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if certificate else None,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            enable_logging=True,
            log_bucket=self.log_bucket,
            log_file_prefix="cloudfront/",
        )
        for rule, reason in (
            ("AwsSolutions-CFR1", "The library is open to its signed-in users wherever they are; no country is excluded."),
            ("AwsSolutions-CFR2", "The page is static and every API route needs a Cognito token; API Gateway "
                                  "throttles the API. WAF (billed per rule and request) can be added per stage."),
        ):
            acknowledge(self.distribution, rule, reason)
        if domain_name is None:
            acknowledge(self.distribution, "AwsSolutions-CFR4",
                "No custom domain is configured (webDomainName/webCertificateArn), so CloudFront serves its "
                "default *.cloudfront.net certificate, whose security policy CloudFront fixes (TLSv1 and up; "
                "browsers negotiate TLS 1.2+). Setting a custom domain and certificate pins TLSv1.2_2021.",
            )

        self.distribution_domain_name = self.distribution.distribution_domain_name
        # The origins the page is served from: what the sign-in callback and the upload CORS allow.
        self.page_origins = [f"https://{self.distribution_domain_name}"]
        if domain_name:
            self.page_origins.append(f"https://{domain_name}")
        self.page_url = f"https://{domain_name or self.distribution_domain_name}/"

    def grant_publication(self, grantee: iam.IGrantable) -> None:
        """What a release does: list the previous release's files, put the new ones, delete the stale
        ones, and invalidate the distribution's cache."""
        policy = grantee.grant_principal
        policy.add_to_principal_policy(iam.PolicyStatement(
            sid="ListSiteFiles", actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn]))
        policy.add_to_principal_policy(iam.PolicyStatement(
            sid="PublishSiteFiles", actions=["s3:PutObject", "s3:DeleteObject"],
            resources=[self.bucket.arn_for_objects("*")]))
        policy.add_to_principal_policy(iam.PolicyStatement(
            sid="InvalidatePage", actions=["cloudfront:CreateInvalidation"],
            resources=[self.distribution.distribution_arn]))
        bucket = Stack.of(self).get_logical_id(self.bucket.node.default_child)
        acknowledge(grantee.grant_principal, f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/*]",
            "A release writes the page's files and removes the previous release's, whatever their names: "
            "objects of the site bucket only (s3:PutObject, s3:DeleteObject).",
        )
