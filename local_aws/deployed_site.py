"""What a deployed CloudFront distribution serves, read from what the local CloudFormation deployed,
for the local page gateway (local_aws/page_gateway.py): the distribution's default behaviour's S3
origin (the site bucket) and default root object, its response headers policy as the headers
CloudFront adds, the HTTP API behind its API behaviour (every route, the function its integration
invokes, its JWT authorizer) and the user pool client that authorizer accepts.

Nothing here is configured by hand: a change to the stack shows on the next request.
"""

from __future__ import annotations

import re
from typing import Any

from moto.apigatewayv2 import models as apigatewayv2_models
from moto.cognitoidp import models as cognitoidp_models

from local_aws.adjust.cloudfront import deployed_distribution_config, response_headers_policy_config
from local_aws.adjust.registry import template_boolean
from local_aws.served_site import AUTHORIZATION_HEADER_SOURCE, ApiRoute, JwtRule, ServedSite, SignInClient
from local_aws.site_rewrites import S3_BUCKET_DOMAIN

# An S3 origin's domain: the bucket's regional (or global) domain name.
_S3_ORIGIN_DOMAIN = re.compile(S3_BUCKET_DOMAIN)
# An HTTP API's default endpoint domain: <api id>.execute-api.<region>.<URL suffix>.
_API_ORIGIN_DOMAIN = re.compile(r"(?P<api>[a-z0-9]+)\.execute-api\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?")
# A Lambda proxy integration names the function's ARN, or API Gateway's invocation URI around it.
_FUNCTION_ARN = re.compile(r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:(?P<name>[A-Za-z0-9_-]+)(?::[^/]+)?")
_COGNITO_ISSUER = re.compile(r"https://cognito-idp\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<pool>[\w-]+)")


class UnservableDistribution(LookupError):
    """The distribution does not describe a page the local gateway can serve; says why."""


def served_site_of(distribution_id: str, *, account_id: str) -> ServedSite:
    """The ServedSite of `distribution_id` as deployed now (raises UnservableDistribution saying why not)."""
    config = deployed_distribution_config(distribution_id)
    origins = {origin["Id"]: origin for origin in config.get("Origins", [])}
    default = config.get("DefaultCacheBehavior") or {}
    site_bucket = _site_bucket(origins.get(default.get("TargetOriginId"), {}), distribution_id)
    policy_id = default.get("ResponseHeadersPolicyId")
    headers = response_headers(response_headers_policy_config(policy_id)) if policy_id else {}

    api_behaviours = [(behaviour, match) for behaviour in config.get("CacheBehaviors", [])
                      if (match := _API_ORIGIN_DOMAIN.fullmatch(origins.get(behaviour.get("TargetOriginId"), {})
                                                                .get("DomainName", "")))]
    if len(api_behaviours) > 1:
        raise UnservableDistribution(
            f"distribution {distribution_id} sends {len(api_behaviours)} path patterns to HTTP APIs; "
            "the local gateway serves one")
    if not api_behaviours:
        return ServedSite(site_bucket=site_bucket, default_root_object=config.get("DefaultRootObject", ""),
                          response_headers=headers)
    behaviour, match = api_behaviours[0]
    backend = apigatewayv2_models.apigatewayv2_backends[account_id][match["region"]]
    api_id = match["api"]
    routes = {route.route_key: _api_route(backend, api_id, route) for route in backend.get_routes(api_id)}
    rules = [route.jwt for route in routes.values() if route.jwt is not None]
    return ServedSite(
        site_bucket=site_bucket,
        default_root_object=config.get("DefaultRootObject", ""),
        response_headers=headers,
        api_routes=routes,
        api_path_pattern=behaviour["PathPattern"],
        api_id=api_id,
        sign_in=_sign_in_client(rules[0], account_id=account_id) if rules else None,
    )


def _site_bucket(origin: dict, distribution_id: str) -> str:
    match = _S3_ORIGIN_DOMAIN.fullmatch(origin.get("DomainName", ""))
    if match is None or "S3OriginConfig" not in origin:
        raise UnservableDistribution(
            f"distribution {distribution_id}'s default behaviour does not go to an S3 bucket origin "
            f"({origin.get('DomainName', 'no origin')!r}); the local gateway serves site buckets only")
    return match["bucket"]


def _api_route(backend: Any, api_id: str, route: Any) -> ApiRoute:
    target = route.target or ""
    if not target.startswith("integrations/"):
        raise UnservableDistribution(f"route {route.route_key!r} of API {api_id} has no integration target")
    integration = backend.get_integration(api_id, target.split("/", 1)[1])
    function = _FUNCTION_ARN.search(integration.integration_uri or "")
    if integration.integration_type != "AWS_PROXY" or function is None:
        raise UnservableDistribution(
            f"route {route.route_key!r} of API {api_id} does not invoke a Lambda function "
            f"({integration.integration_type} {integration.integration_uri}); the local gateway runs Lambda proxies only")
    jwt = None
    if route.authorization_type == "JWT":
        authorizer = backend.get_authorizer(api_id, route.authorizer_id)
        configuration = authorizer.jwt_config or {}  # camelCase, as the API stores it
        sources = authorizer.identity_source or [AUTHORIZATION_HEADER_SOURCE]
        jwt = JwtRule(issuer=configuration.get("issuer", ""), audience=tuple(configuration.get("audience") or ()),
                      identity_source=sources if isinstance(sources, str) else sources[0])
    elif route.authorization_type not in (None, "", "NONE"):
        raise UnservableDistribution(
            f"route {route.route_key!r} uses a {route.authorization_type} authorizer; the local gateway checks JWTs only")
    return ApiRoute(function_name=function["name"], jwt=jwt, authorization_scopes=tuple(route.authorization_scopes or ()))


def _sign_in_client(rule: JwtRule, *, account_id: str) -> SignInClient | None:
    """The app client the page signs in with: the first audience of the routes' authorizer, in the
    user pool its issuer names. None when the issuer is not a Cognito user pool."""
    issuer = _COGNITO_ISSUER.fullmatch(rule.issuer)
    if issuer is None or not rule.audience:
        return None
    backend = cognitoidp_models.cognitoidp_backends[account_id][issuer["region"]]
    client = backend.describe_user_pool_client(issuer["pool"], rule.audience[0])
    settings = client.extended_config
    return SignInClient(
        user_pool_id=issuer["pool"],
        client_id=client.id,
        callback_urls=tuple(settings.get("CallbackURLs") or ()),
        logout_urls=tuple(settings.get("LogoutURLs") or ()),
        scopes=tuple(settings.get("AllowedOAuthScopes") or ()),
    )


def response_headers(policy: dict) -> dict[str, str]:
    """The headers CloudFront adds for a response headers policy (its security and custom headers).
    Its CORS, remove-headers and Server-Timing settings are not applied locally (said in NOT_ENFORCED)."""
    security = policy.get("SecurityHeadersConfig") or {}
    headers: dict[str, str] = {}
    if "ContentSecurityPolicy" in security:
        headers["Content-Security-Policy"] = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    if "StrictTransportSecurity" in security:
        hsts = security["StrictTransportSecurity"]
        value = f"max-age={int(hsts['AccessControlMaxAgeSec'])}"
        if template_boolean(hsts.get("IncludeSubdomains")):
            value += "; includeSubDomains"
        if template_boolean(hsts.get("Preload")):
            value += "; preload"
        headers["Strict-Transport-Security"] = value
    if "ContentTypeOptions" in security:
        headers["X-Content-Type-Options"] = "nosniff"
    if "FrameOptions" in security:
        headers["X-Frame-Options"] = security["FrameOptions"]["FrameOption"]
    if "ReferrerPolicy" in security:
        headers["Referrer-Policy"] = security["ReferrerPolicy"]["ReferrerPolicy"]
    if "XSSProtection" in security:
        xss = security["XSSProtection"]
        value = "1" if template_boolean(xss.get("Protection")) else "0"
        if template_boolean(xss.get("ModeBlock")):
            value += "; mode=block"
        elif xss.get("ReportUri"):
            value += f"; report={xss['ReportUri']}"
        headers["X-XSS-Protection"] = value
    for custom in (policy.get("CustomHeadersConfig") or {}).get("Items", []):
        headers[custom["Header"]] = custom["Value"]
    return headers
