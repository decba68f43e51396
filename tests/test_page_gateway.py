"""The local page gateway (local_aws/page_gateway.py) over HTTP, against a real local AWS: the site
bucket served as CloudFront with origin access control serves it, the deployed response headers
with the CSP made local, config.json's sign-in URLs made the gateway's own, and /api/* routed to a
real function through the JWT check and payload 2.0 events, as API Gateway's HTTP API does.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest

from adjust_fixtures import aws, client  # noqa: F401 (fixtures)
from page_gateway_fixtures import (  # noqa: F401 (page is a fixture)
    APP_JS, AUTH_ORIGIN, IMAGE_ORIGIN, INDEX_HTML, RESPONSE_HEADERS, SITE_BUCKET, access_claims, http_call, own_key,
    page, signed_token,
)
from local_aws.served_site import ApiRoute, ServedSite

pytestmark = pytest.mark.usefixtures("aws")


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_root_serves_the_default_root_object_with_the_deployed_headers(page, client):
    status, headers, body = page.call("GET", "/")
    stored = client("s3").head_object(Bucket=SITE_BUCKET, Key="index.html")
    assert (status, body) == (200, INDEX_HTML)
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["etag"] == stored["ETag"]
    assert headers["cache-control"] == "no-cache"
    for name in ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"):
        assert headers[name.lower()] == RESPONSE_HEADERS[name]


def test_the_csp_names_the_local_endpoint_and_the_gateway_instead_of_aws(page, aws):
    _, headers, _ = page.call("GET", "/app.js")
    policy = headers["content-security-policy"]
    assert IMAGE_ORIGIN not in policy and AUTH_ORIGIN not in policy
    assert f"img-src 'self' {aws.endpoint_url};" in policy
    assert f"media-src {aws.endpoint_url};" in policy
    assert f"connect-src 'self' {aws.endpoint_url} {page.origin};" in policy


def test_the_csp_allows_the_urls_the_local_api_function_presigns(page):
    _, headers, body = page.call("GET", "/api/open?presign=1")
    url = urllib.parse.urlsplit(json.loads(body)["url"])
    assert url.path == "/images-bucket/Beach.jpg"  # path-style on the local endpoint
    origin = f"{url.scheme}://{url.netloc}"
    for directive in ("img-src", "media-src", "connect-src"):
        allowed = next(part for part in headers["content-security-policy"].split(";") if part.split()[0] == directive)
        assert origin in allowed.split()


def test_moto_still_serves_the_pools_keys_on_its_one_port(page, aws):
    # The JWT check finds the keys as API Gateway does, through the issuer's discovery document;
    # moto answers it at <endpoint>/<pool id>/.well-known/... with a jwks_uri on the same endpoint.
    discovery = json.loads(urllib.request.urlopen(f"{aws.endpoint_url}/{page.pool_id}/.well-known/openid-configuration").read())
    assert discovery["issuer"] == page.issuer
    assert discovery["jwks_uri"] == f"{aws.endpoint_url}/{page.pool_id}/.well-known/jwks.json"
    keys = json.loads(urllib.request.urlopen(discovery["jwks_uri"]).read())["keys"]
    assert [(key["kid"], key["alg"]) for key in keys] == [("dummy", "RS256")]


def test_a_file_comes_with_its_stored_content_type_and_head_has_no_body(page):
    status, headers, body = page.call("GET", "/app.js")
    assert (status, headers["content-type"], body) == (200, "text/javascript; charset=utf-8", APP_JS)
    status, headers, body = page.call("HEAD", "/app.js")
    assert (status, body, headers["content-length"]) == (200, b"", str(len(APP_JS)))


def test_an_unchanged_file_is_not_sent_again(page):
    _, headers, _ = page.call("GET", "/app.js")
    status, _, body = page.call("GET", "/app.js", headers={"If-None-Match": headers["etag"]})
    assert (status, body) == (304, b"")


def test_config_json_sends_the_page_to_the_gateways_sign_in(page):
    status, headers, body = page.call("GET", "/config.json")
    config = json.loads(body)
    assert status == 200 and headers["content-type"] == "application/json"
    assert config["auth"]["authorizeUrl"] == f"{page.origin}/oauth2/authorize"
    assert config["auth"]["tokenUrl"] == f"{page.origin}/oauth2/token"
    assert config["auth"]["logoutUrl"] == f"{page.origin}/logout"
    assert (config["auth"]["clientId"], config["apiBase"]) == (page.client_id, "/api")
    assert int(headers["content-length"]) == len(body)


@pytest.mark.parametrize("path", ["/missing.js", "/nested/", "/index.html/"])
def test_a_missing_key_is_denied_as_s3_denies_origin_access_control(page, path):
    status, headers, body = page.call("GET", path)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    assert headers["x-frame-options"] == "DENY"  # the policy's headers are on errors too


def test_the_site_behaviour_refuses_writes(page):
    status, _, body = page.call("POST", "/index.html", body=b"x")
    assert status == 403 and b"not configured to allow the HTTP request method" in body


# ---- /api/*: routes and the JWT authorizer -----------------------------------------------------------


def test_an_unknown_route_is_api_gateways_not_found(page):
    for method, path in (("GET", "/api/nothing"), ("DELETE", "/api/search")):
        status, headers, body = page.call(method, path)
        assert (status, body) == (404, b'{"message":"Not Found"}')
        assert headers["cache-control"] == "no-store"


def test_no_token_is_unauthorized(page):
    status, headers, body = page.call("GET", "/api/search?q=horse")
    assert (status, body) == (401, b'{"message":"Unauthorized"}')
    assert 'error="invalid_token"' in headers["www-authenticate"]


@pytest.mark.parametrize("case", ["wrong signature", "expired", "not yet valid", "wrong audience", "wrong issuer",
                                  "not a jwt", "unsigned"])
def test_a_bad_token_is_unauthorized(page, case):
    token = {
        "wrong signature": lambda: signed_token(access_claims(page), key=own_key()),
        "expired": lambda: signed_token(access_claims(page, exp=1_000_000_000)),
        "not yet valid": lambda: signed_token(access_claims(page, nbf=4_000_000_000)),
        "wrong audience": lambda: signed_token(access_claims(page, client_id="another-client")),
        "wrong issuer": lambda: signed_token(access_claims(page, iss=page.issuer + "x")),
        "not a jwt": lambda: "not-a-token",
        "unsigned": lambda: signed_token(access_claims(page)).rsplit(".", 1)[0] + ".",
    }[case]()
    status, _, body = page.call("GET", "/api/search", headers=bearer(token))
    assert (status, body) == (401, b'{"message":"Unauthorized"}')


def test_a_token_of_our_own_making_with_the_pools_key_passes(page):
    # The control for the bad-token cases: the same claims, right, are let through.
    status, _, _ = page.call("GET", "/api/search", headers=bearer(signed_token(access_claims(page))))
    assert status == 200


def test_a_real_token_reaches_the_function_with_a_payload_2_event(page, client):
    tokens = page.password_tokens(client("cognito-idp"))
    status, headers, body = page.call("GET", "/api/search?q=horse&q=beach&limit=5", headers={
        **bearer(tokens["AccessToken"]), "User-Agent": "gateway-test", "X-Many": "a", "Cookie": "a=1; b=2"})
    assert status == 200 and headers["x-echo"] == "yes" and headers["set-cookie"] == "seen=1; Path=/"
    assert headers["cache-control"] == "no-store" and headers["x-frame-options"] == "DENY"
    event = json.loads(body)
    assert (event["version"], event["routeKey"], event["rawPath"]) == ("2.0", "GET /api/search", "/api/search")
    assert event["rawQueryString"] == "q=horse&q=beach&limit=5"
    assert event["queryStringParameters"] == {"q": "horse,beach", "limit": "5"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["headers"]["user-agent"] == "gateway-test" and event["headers"]["x-many"] == "a"
    assert "cookie" not in event["headers"]
    assert event["headers"]["host"] == "a1b2c3.execute-api.us-east-1.amazonaws.com"  # CloudFront sends the API's
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1"
    context = event["requestContext"]
    assert (context["accountId"], context["apiId"], context["stage"]) == ("123456789012", "a1b2c3", "$default")
    assert context["domainName"] == "a1b2c3.execute-api.us-east-1.amazonaws.com"
    assert context["http"] == {"method": "GET", "path": "/api/search", "protocol": "HTTP/1.1",
                               "sourceIp": "127.0.0.1", "userAgent": "gateway-test"}
    assert context["routeKey"] == "GET /api/search" and context["requestId"]
    assert isinstance(context["timeEpoch"], int) and context["time"].endswith("+0000")
    claims = context["authorizer"]["jwt"]["claims"]
    assert claims["client_id"] == page.client_id and claims["iss"] == page.issuer
    assert claims["token_use"] == "access" and claims["exp"].isdigit()  # API Gateway passes strings
    assert context["authorizer"]["jwt"]["scopes"] is None  # the route names no authorization scopes
    assert event["isBase64Encoded"] is False and "body" not in event


def test_a_json_body_arrives_as_text_and_a_binary_one_in_base64(page, client):
    token = page.password_tokens(client("cognito-idp"))["AccessToken"]
    _, _, body = page.call("POST", "/api/uploads", body=b'{"name": "Beach.jpg"}',
                           headers={**bearer(token), "Content-Type": "application/json"})
    event = json.loads(body)
    assert (event["body"], event["isBase64Encoded"]) == ('{"name": "Beach.jpg"}', False)
    _, _, body = page.call("POST", "/api/uploads", body=b"\x00\xff",
                           headers={**bearer(token), "Content-Type": "application/octet-stream"})
    event = json.loads(body)
    assert (event["body"], event["isBase64Encoded"]) == ("AP8=", True)


def test_an_id_token_for_the_client_passes_as_on_aws(page, client):
    # API Gateway checks aud (the id token's) or client_id (the access token's), never token_use.
    tokens = page.password_tokens(client("cognito-idp"))
    status, _, body = page.call("GET", "/api/search", headers=bearer(tokens["IdToken"]))
    assert status == 200 and json.loads(body)["requestContext"]["authorizer"]["jwt"]["claims"]["token_use"] == "id"


def test_results_map_as_payload_2_maps_them(page):
    status, headers, body = page.call("GET", "/api/open?plain=1")
    assert (status, headers["content-type"], json.loads(body)) == (200, "application/json", {"plain": True})
    status, _, _ = page.call("GET", "/api/open?status=418")
    assert status == 418
    status, headers, body = page.call("GET", "/api/open?binary=1")
    assert (status, headers["content-type"], body) == (200, "application/octet-stream", bytes(range(8)))
    event = json.loads(page.call("GET", "/api/open")[2])
    assert "authorizer" not in event["requestContext"]  # a route without an authorizer


@pytest.mark.parametrize("path", ["/api/open?fail=1", "/api/gone"])
def test_a_failing_or_missing_function_is_an_internal_server_error(page, path):
    status, headers, body = page.call("GET", path)
    assert (status, body) == (500, b'{"message":"Internal Server Error"}')
    assert headers["cache-control"] == "no-store"


# ---- serving: per-request resolution, one port per distribution, stopping -------------------------------


def test_the_site_is_resolved_per_request_and_a_distribution_keeps_its_port(page, aws):
    routes: dict = {}
    site = {"bucket": SITE_BUCKET}

    def resolve() -> ServedSite:
        if site["bucket"] is None:
            raise LookupError("the distribution's site bucket is gone")
        return ServedSite(site_bucket=site["bucket"], default_root_object="index.html", api_routes=dict(routes))

    url = aws.serve_distribution("E2LATER", resolve)
    try:
        assert url != page.url and aws.serve_distribution("E2LATER", resolve) == url
        origin = url.rstrip("/")
        assert http_call("GET", origin + "/api/open")[0] == 404
        routes["GET /api/open"] = ApiRoute(function_name=page.function_name)  # a deploy adds the route later
        assert http_call("GET", origin + "/api/open")[0] == 200
        assert "content-security-policy" not in http_call("GET", origin + "/")[1]  # this site has no headers
        site["bucket"] = None
        status, _, body = http_call("GET", origin + "/")
        assert status == 503 and b"the distribution's site bucket is gone" in body
    finally:
        aws.stop_serving("E2LATER")
    with pytest.raises(OSError):
        http_call("GET", url)
