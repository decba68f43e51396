"""The web page's AWS shape as synthesized (web-design.md, "AWS shape"): CloudFront with origin access
control and the page's headers, the HTTP API behind a JWT authorizer, the user pool and its client,
the release custom resources, and the exact rights of the two web functions. Plus the web settings."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App
from aws_cdk.assertions import Match

from conftest import cdk_json_context
from stack_synth import synth_template
from stacks.settings import PipelineSettings, SettingsError

WEB_ROUTES = {
    "GET /api/search", "GET /api/item", "GET /api/labels",
    "POST /api/uploads", "POST /api/uploads/complete", "POST /api/uploads/abort",
}


@pytest.fixture(scope="module")
def template():
    return synth_template(webUrlSeconds=600, webUploadUrlSeconds=1800, webThrottleRate=5,
                          webThrottleBurst=10)


@pytest.fixture(scope="module")
def resources(template):
    return template.to_json()["Resources"]


def only(template, resource_type: str, props: dict | None = None) -> tuple[str, dict]:
    found = template.find_resources(resource_type, {"Properties": props} if props else None)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


def logical_id(template, resource_type: str, props: dict | None = None) -> str:
    return only(template, resource_type, props)[0]


def image_bucket(template) -> str:
    return logical_id(template, "AWS::S3::Bucket", {"VersioningConfiguration": Match.any_value()})


def site_bucket(template) -> str:
    return template.to_json()["Outputs"]["SiteBucketName"]["Value"]["Ref"]


def function_statements(template, handler: str) -> list[dict]:
    _, function = only(template, "AWS::Lambda::Function", {"Handler": handler})
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    (policy,) = [
        p for p in template.find_resources("AWS::IAM::Policy").values() if {"Ref": role} in p["Properties"]["Roles"]
    ]
    return [{k: v for k, v in s.items() if k != "Effect"} for s in policy["Properties"]["PolicyDocument"]["Statement"]]


def arn(logical: str) -> dict:
    return {"Fn::GetAtt": [logical, "Arn"]}


def objects_of(logical: str) -> dict:
    return {"Fn::Join": ["", [arn(logical), "/*"]]}


def joined(value) -> str:
    """A Fn::Join of literals and references, as a readable string (references as <Logical.Attr>)."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        return "".join(joined(part) for part in value["Fn::Join"][1])
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    raise AssertionError(f"unexpected intrinsic {value}")


def test_the_page_is_served_from_a_private_bucket_through_origin_access_control(template, resources):
    _, distribution = only(template, "AWS::CloudFront::Distribution")
    config = distribution["Properties"]["DistributionConfig"]
    assert config["DefaultRootObject"] == "index.html"
    site_origin = next(o for o in config["Origins"] if "S3OriginConfig" in o)
    assert site_origin["DomainName"] == {"Fn::GetAtt": [site_bucket(template), "RegionalDomainName"]}
    assert site_origin["OriginAccessControlId"] == {
        "Fn::GetAtt": [logical_id(template, "AWS::CloudFront::OriginAccessControl"), "Id"]
    }
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    site = resources[site_bucket(template)]["Properties"]
    assert site["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }
    assert site["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    # Only CloudFront (the distribution's own ARN) may read the site's objects; plain HTTP is refused.
    (policy,) = [p for p in template.find_resources("AWS::S3::BucketPolicy").values()
                 if p["Properties"]["Bucket"] == {"Ref": site_bucket(template)}]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    reads = [s for s in statements if s["Effect"] == "Allow" and s["Principal"] == {"Service": "cloudfront.amazonaws.com"}]
    assert [s["Action"] for s in reads] == ["s3:GetObject"]
    assert "WebSiteDistribution" in json.dumps(reads[0]["Condition"])
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements)


def test_cloudfront_logs_to_an_object_writer_bucket(template, resources):
    _, distribution = only(template, "AWS::CloudFront::Distribution")
    logging = distribution["Properties"]["DistributionConfig"]["Logging"]
    log_bucket = logging["Bucket"]["Fn::GetAtt"][0]
    assert resources[log_bucket]["Properties"]["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
    assert resources[site_bucket(template)]["Properties"]["LoggingConfiguration"]["DestinationBucketName"] == {
        "Ref": log_bucket
    }


def test_every_response_carries_the_pages_security_headers(template):
    headers_id, headers = only(template, "AWS::CloudFront::ResponseHeadersPolicy")
    security = headers["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    images = f"https://<{image_bucket(template)}.RegionalDomainName>"
    cognito = "https://imagelabels-dev-<AWS::AccountId>.auth.<AWS::Region>.amazoncognito.com"
    assert joined(security["ContentSecurityPolicy"]["ContentSecurityPolicy"]) == (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' {images}; media-src {images}; connect-src 'self' {images} {cognito}; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    )
    assert security["StrictTransportSecurity"] == {
        "AccessControlMaxAgeSec": 31536000, "IncludeSubdomains": True, "Override": True,
    }
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
    assert security["ReferrerPolicy"] == {"ReferrerPolicy": "same-origin", "Override": True}
    _, distribution = only(template, "AWS::CloudFront::Distribution")
    config = distribution["Properties"]["DistributionConfig"]
    for behaviour in (config["DefaultCacheBehavior"], *config["CacheBehaviors"]):
        assert behaviour["ResponseHeadersPolicyId"] == {"Ref": headers_id}


def test_api_paths_go_uncached_to_the_http_api_with_the_viewers_authorization(template):
    _, distribution = only(template, "AWS::CloudFront::Distribution")
    config = distribution["Properties"]["DistributionConfig"]
    (api,) = config["CacheBehaviors"]
    assert api["PathPattern"] == "/api/*"
    assert api["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # Managed-CachingDisabled
    assert api["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # AllViewerExceptHostHeader
    assert {"GET", "POST"} <= set(api["AllowedMethods"])
    origin = next(o for o in config["Origins"] if o["Id"] == api["TargetOriginId"])
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert joined(origin["DomainName"]) == (
        f"<{logical_id(template, 'AWS::ApiGatewayV2::Api')}>.execute-api.<AWS::Region>.<AWS::URLSuffix>"
    )


def test_every_route_of_the_contract_needs_a_token_of_the_pages_client(template):
    authorizer_id, authorizer = only(template, "AWS::ApiGatewayV2::Authorizer")
    props = authorizer["Properties"]
    assert props["AuthorizerType"] == "JWT"
    assert props["IdentitySource"] == ["$request.header.Authorization"]
    pool = logical_id(template, "AWS::Cognito::UserPool")
    client = logical_id(template, "AWS::Cognito::UserPoolClient")
    assert joined(props["JwtConfiguration"]["Issuer"]) == f"https://cognito-idp.<AWS::Region>.amazonaws.com/<{pool}>"
    assert props["JwtConfiguration"]["Audience"] == [{"Ref": client}]

    routes = template.find_resources("AWS::ApiGatewayV2::Route")
    assert {r["Properties"]["RouteKey"] for r in routes.values()} == WEB_ROUTES
    for route in routes.values():
        assert route["Properties"]["AuthorizationType"] == "JWT"
        assert route["Properties"]["AuthorizerId"] == {"Ref": authorizer_id}
    # ONE function answers them all.
    function = logical_id(template, "AWS::Lambda::Function", {"Handler": "web_api.handler.handle"})
    integrations = template.find_resources("AWS::ApiGatewayV2::Integration")
    assert {json.dumps(i["Properties"]["IntegrationUri"]) for i in integrations.values()} == {
        json.dumps(arn(function))
    }
    assert {i["Properties"]["PayloadFormatVersion"] for i in integrations.values()} == {"2.0"}


def test_the_api_stage_logs_every_request_and_throttles_as_configured(template):
    _, stage = only(template, "AWS::ApiGatewayV2::Stage")
    props = stage["Properties"]
    assert props["StageName"] == "$default" and props["AutoDeploy"] is True
    assert props["DefaultRouteSettings"] == {"ThrottlingRateLimit": 5, "ThrottlingBurstLimit": 10}
    log_group = props["AccessLogSettings"]["DestinationArn"]["Fn::GetAtt"][0]
    assert template.to_json()["Resources"][log_group]["Type"] == "AWS::Logs::LogGroup"
    fields = json.loads(props["AccessLogSettings"]["Format"])
    assert {"requestId", "routeKey", "status", "authorizerError"} <= set(fields)


def test_the_api_function_gets_its_table_bucket_and_url_lifetimes(template):
    _, function = only(template, "AWS::Lambda::Function", {"Handler": "web_api.handler.handle"})
    assert function["Properties"]["Environment"]["Variables"] == {
        "TABLE_NAME": {"Ref": logical_id(template, "AWS::DynamoDB::Table")},
        "BUCKET_NAME": {"Ref": image_bucket(template)},
        "URL_SECONDS": "600",
        "UPLOAD_URL_SECONDS": "1800",
    }


def test_the_api_function_may_read_the_library_and_presign_uploads_and_nothing_else(template):
    table = logical_id(template, "AWS::DynamoDB::Table")
    logs = only(template, "AWS::Lambda::Function", {"Handler": "web_api.handler.handle"})[1]["Properties"][
        "LoggingConfig"]["LogGroup"]["Ref"]
    index = lambda name: {"Fn::Join": ["", [arn(table), f"/index/{name}"]]}  # noqa: E731
    assert function_statements(template, "web_api.handler.handle") == [
        {"Sid": "WriteOwnLogs", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": arn(logs)},
        {"Sid": "QueryLabels", "Action": "dynamodb:Query",
         "Resource": [arn(table), index("ByLabel"), index("LabelCatalog")]},
        {"Sid": "ReadLabelItems", "Action": ["dynamodb:BatchGetItem", "dynamodb:GetItem"], "Resource": arn(table)},
        {"Sid": "PresignImageReadsAndUploads",
         "Action": ["s3:AbortMultipartUpload", "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
         "Resource": objects_of(image_bucket(template))},
    ]


def test_users_are_created_by_an_administrator_with_a_strong_password_and_optional_totp(template):
    _, pool = only(template, "AWS::Cognito::UserPool")
    props = pool["Properties"]
    assert props["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
    assert props["Policies"]["PasswordPolicy"] == {
        "MinimumLength": 12, "RequireLowercase": True, "RequireUppercase": True, "RequireNumbers": True,
        "RequireSymbols": True, "TemporaryPasswordValidityDays": 3,
    }
    assert props["MfaConfiguration"] == "OPTIONAL"
    assert props["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    _, domain = only(template, "AWS::Cognito::UserPoolDomain")
    assert joined(domain["Properties"]["Domain"]) == "imagelabels-dev-<AWS::AccountId>"


def test_the_page_client_signs_in_with_the_code_grant_only_and_returns_to_the_page(template):
    _, client = only(template, "AWS::Cognito::UserPoolClient")
    props = client["Properties"]
    assert props["AllowedOAuthFlows"] == ["code"]
    assert props["GenerateSecret"] is False
    assert props["AllowedOAuthScopes"] == ["openid", "email", "profile"]
    assert props["ExplicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH"]
    distribution = logical_id(template, "AWS::CloudFront::Distribution")
    page = f"https://<{distribution}.DomainName>/"
    assert [joined(url) for url in props["CallbackURLs"]] == [page]
    assert [joined(url) for url in props["LogoutURLs"]] == [page]


def test_the_release_publishes_the_web_asset_with_the_pages_config(template):
    _, publication = only(template, "Custom::PagePublication")
    props = publication["Properties"]
    assert props["SiteBucket"] == {"Ref": site_bucket(template)}
    assert props["SourceKey"].endswith(".zip")
    assert props["DistributionId"] == {"Ref": logical_id(template, "AWS::CloudFront::Distribution")}
    config = props["Config"]
    cognito = "https://imagelabels-dev-<AWS::AccountId>.auth.<AWS::Region>.amazoncognito.com"
    assert config["region"] == {"Ref": "AWS::Region"}
    assert config["apiBase"] == "/api"
    assert config["auth"]["clientId"] == {"Ref": logical_id(template, "AWS::Cognito::UserPoolClient")}
    assert {k: joined(config["auth"][k]) for k in ("authorizeUrl", "tokenUrl", "logoutUrl")} == {
        "authorizeUrl": f"{cognito}/oauth2/authorize", "tokenUrl": f"{cognito}/oauth2/token",
        "logoutUrl": f"{cognito}/logout",
    }
    assert config["auth"]["scopes"] == ["openid", "email", "profile"]


def test_uploads_are_allowed_from_the_page_origin_only(template):
    _, cors = only(template, "Custom::UploadCors")
    props = cors["Properties"]
    assert props["Bucket"] == {"Ref": image_bucket(template)}
    distribution = logical_id(template, "AWS::CloudFront::Distribution")
    assert [joined(origin) for origin in props["AllowedOrigins"]] == [f"https://<{distribution}.DomainName>"]


def test_the_release_function_may_do_exactly_what_a_release_does(template):
    _, publication = only(template, "Custom::PagePublication")
    asset_object = {"Fn::Join": ["", [
        "arn:", {"Ref": "AWS::Partition"}, ":s3:::", publication["Properties"]["SourceBucket"],
        "/" + publication["Properties"]["SourceKey"],
    ]]}
    release = logical_id(template, "AWS::Lambda::Function", {"Handler": "page_release.handler.handle"})
    logs = template.to_json()["Resources"][release]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    distribution = logical_id(template, "AWS::CloudFront::Distribution")
    assert function_statements(template, "page_release.handler.handle") == [
        {"Sid": "WriteOwnLogs", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": arn(logs)},
        {"Sid": "ReadPageAsset", "Action": "s3:GetObject", "Resource": asset_object},
        {"Sid": "ListSiteFiles", "Action": "s3:ListBucket", "Resource": arn(site_bucket(template))},
        {"Sid": "PublishSiteFiles", "Action": ["s3:DeleteObject", "s3:PutObject"],
         "Resource": objects_of(site_bucket(template))},
        {"Sid": "InvalidatePage", "Action": "cloudfront:CreateInvalidation", "Resource": {"Fn::Join": ["", [
            "arn:", {"Ref": "AWS::Partition"}, ":cloudfront::", {"Ref": "AWS::AccountId"},
            ":distribution/", {"Ref": distribution}]]}},
        {"Sid": "SetUploadCors", "Action": "s3:PutBucketCORS", "Resource": arn(image_bucket(template))},
    ]
    # CloudFormation invokes the function only once its role may do all that.
    policy = logical_id(template, "AWS::IAM::Policy", {"PolicyName": Match.string_like_regexp("PageRelease")})
    for kind in ("Custom::PagePublication", "Custom::UploadCors"):
        assert policy in only(template, kind)[1]["DependsOn"]


def test_the_outputs_name_the_page_and_what_operators_and_the_local_aws_need(template):
    outputs = template.to_json()["Outputs"]
    distribution = logical_id(template, "AWS::CloudFront::Distribution")
    assert joined(outputs["PageUrl"]["Value"]) == f"https://<{distribution}.DomainName>/"
    assert outputs["DistributionId"]["Value"] == {"Ref": distribution}
    assert outputs["SiteBucketName"]["Value"] == {"Ref": site_bucket(template)}
    assert outputs["UserPoolId"]["Value"] == {"Ref": logical_id(template, "AWS::Cognito::UserPool")}
    assert outputs["UserPoolClientId"]["Value"] == {"Ref": logical_id(template, "AWS::Cognito::UserPoolClient")}
    assert outputs["WebApiFunctionName"]["Value"] == {
        "Ref": logical_id(template, "AWS::Lambda::Function", {"Handler": "web_api.handler.handle"})
    }


def web_settings(**context):
    return PipelineSettings.from_context(App(context=cdk_json_context(**context)).node).web


def test_web_settings_have_safe_defaults():
    web = web_settings()
    assert (web.auth_domain_prefix, web.domain_name, web.certificate_arn) == (None, None, None)
    assert (web.url_seconds, web.upload_url_seconds) == (900, 3600)
    assert web.throttle_rate > 0 and web.throttle_burst >= 1


def test_a_stack_name_cognito_refuses_needs_a_prefix_of_its_own():
    assert web_settings(web=True, stackNamePrefix="ImageLabelsAws", webAuthDomainPrefix="media-labels") \
        .auth_domain_prefix == "media-labels"


def test_a_custom_domain_comes_with_its_certificate():
    certificate = "arn:aws:acm:us-east-1:123456789012:certificate/0f8c4a7e-1b2c-4d5e-9f00-123456789abc"
    web = web_settings(webDomainName="labels.example.com", webCertificateArn=certificate,
                       webAuthDomainPrefix="media-co-labels")
    assert (web.domain_name, web.certificate_arn, web.auth_domain_prefix) == (
        "labels.example.com", certificate, "media-co-labels",
    )


@pytest.mark.parametrize(
    "context, message",
    [
        ({"webDomainName": "labels.example.com"}, "'webDomainName' and 'webCertificateArn' go together"),
        ({"webCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc"}, "go together"),
        ({"webDomainName": "labels.example.com",
          "webCertificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc"}, "in us-east-1"),
        ({"webDomainName": "Labels Example", "webCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc"},
         "'webDomainName' must be a lower-case DNS name"),
        ({"webAuthDomainPrefix": "My-Pool"}, "'webAuthDomainPrefix' must be 1-63 lower-case"),
        ({"webAuthDomainPrefix": "aws-labels"}, "without the words aws, amazon, cognito"),
        ({"webUrlSeconds": 30}, "'webUrlSeconds' must be between 60 and 604800"),
        ({"webUploadUrlSeconds": "604801"}, "'webUploadUrlSeconds' must be between 60 and 604800"),
        ({"webUrlSeconds": "soon"}, "'webUrlSeconds' must be a number"),
        ({"webThrottleRate": 0}, "'webThrottleRate' must be above 0"),
        ({"webThrottleBurst": 0}, "'webThrottleBurst' at least 1"),
        ({"web": "maybe"}, "'web' must be true or false"),
        ({"web": True, "stackNamePrefix": "ImageLabelsAws"},
         "the stack name 'ImageLabelsAws-dev' cannot make Cognito's sign-in domain prefix"),
        ({"web": True, "stackNamePrefix": "I" + "a" * 50}, "set context 'webAuthDomainPrefix'"),
    ],
)
def test_bad_web_settings_are_refused_with_the_key_named(context, message):
    with pytest.raises(SettingsError) as refused:
        web_settings(**context)
    assert message in str(refused.value)
