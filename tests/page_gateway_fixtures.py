"""What the page gateway tests share: a site bucket holding a small page, an API function created
through the Lambda API that answers with the event it got, a moto user pool with the page's client
and users, the distribution served by the local gateway, plain HTTP calls that never follow
redirects, and JWTs made here (signed with moto's bundled pool key, or with a key of our own).
"""

from __future__ import annotations

import base64
import http.client
import json
import time
import urllib.parse
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from moto.utilities.utils import load_resource

from adjust_fixtures import create_function
from local_aws.served_site import ApiRoute, JwtRule, ServedSite, SignInClient

SITE_BUCKET = "page-gateway-site"
IMAGE_ORIGIN = "https://images-bucket.s3.us-east-1.amazonaws.com"
AUTH_ORIGIN = "https://imagelabels-dev-123456789012.auth.us-east-1.amazoncognito.com"
CSP = (f"default-src 'none'; script-src 'self'; img-src 'self' {IMAGE_ORIGIN}; media-src {IMAGE_ORIGIN}; "
       f"connect-src 'self' {IMAGE_ORIGIN} {AUTH_ORIGIN}; form-action 'self'")
RESPONSE_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
                    "Referrer-Policy": "same-origin"}
INDEX_HTML = b'<!doctype html><html lang="en"><title>Library</title><script type="module" src="app.js"></script></html>'
APP_JS = b'import "./auth.js";\n'
PAGE_CONFIG = {"region": "us-east-1", "apiBase": "/api", "auth": {
    "clientId": "(set below)", "authorizeUrl": f"{AUTH_ORIGIN}/oauth2/authorize",
    "tokenUrl": f"{AUTH_ORIGIN}/oauth2/token", "logoutUrl": f"{AUTH_ORIGIN}/logout", "scopes": ["openid", "email"]}}
USER = "ann@example.com"
PASSWORD = "Correct-Horse-9!"
NEW_USER = "ben@example.com"
TEMPORARY_PASSWORD = "Temporary-Pass-1!"

# Answers with the event it got (as its body) and echoes what the request asks for.
ECHO_FUNCTION = '''
import base64, json

def handler(event, context):
    query = event.get("queryStringParameters") or {}
    if query.get("fail"):
        raise RuntimeError("asked to fail")
    if query.get("plain"):
        return {"plain": True}
    if query.get("presign"):  # as the web API presigns its image URLs
        import boto3
        return {"url": boto3.client("s3").generate_presigned_url(
            "get_object", Params={"Bucket": "images-bucket", "Key": "Beach.jpg"}, ExpiresIn=60)}
    answer = {"statusCode": int(query.get("status", "200")), "headers": {"Content-Type": "application/json",
              "X-Echo": "yes"}, "body": json.dumps(event), "cookies": ["seen=1; Path=/"]}
    if query.get("binary"):
        answer.update(body=base64.b64encode(bytes(range(8))).decode(), isBase64Encoded=True,
                      headers={"Content-Type": "application/octet-stream"})
    return answer
'''


@dataclass(frozen=True)
class Page:
    """The served distribution and what the tests need to call it."""

    url: str
    origin: str
    pool_id: str
    client_id: str
    issuer: str
    function_name: str

    def call(self, method: str, path: str, *, headers: dict | None = None, body: bytes | None = None):
        return http_call(method, self.origin + path, headers=headers, body=body)

    def password_tokens(self, cognito, username: str = USER, password: str = PASSWORD) -> dict:
        return cognito.initiate_auth(ClientId=self.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                     AuthParameters={"USERNAME": username, "PASSWORD": password})["AuthenticationResult"]


def http_call(method: str, url: str, *, headers: dict | None = None, body: bytes | None = None):
    """(status, headers with lower-cased names, body); redirects are answers like any other."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target or "/", body=body, headers=headers or {})
        response = connection.getresponse()
        answer_headers: dict[str, str] = {}
        for name, value in response.getheaders():
            name = name.lower()
            answer_headers[name] = f"{answer_headers[name]}\n{value}" if name in answer_headers else value
        return response.status, answer_headers, response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def page(aws, client):
    s3 = client("s3")
    s3.create_bucket(Bucket=SITE_BUCKET)
    cognito = client("cognito-idp")
    pool_id = cognito.create_user_pool(PoolName="page-users", UsernameAttributes=["email"])["UserPool"]["Id"]
    # The page's client as deployed: code grant only. moto lets USER_PASSWORD_AUTH through anyway,
    # which the hosted UI stand-in relies on (the flow tests fail if a moto upgrade stops that).
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="page", GenerateSecret=False, ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH"],
        AllowedOAuthFlows=["code"], AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthScopes=["openid", "email", "profile"],
        CallbackURLs=["https://d111.cloudfront.net/"], LogoutURLs=["https://d111.cloudfront.net/"],
        SupportedIdentityProviders=["COGNITO"], PreventUserExistenceErrors="ENABLED",
    )["UserPoolClient"]["ClientId"]
    for username, password, permanent in ((USER, PASSWORD, True), (NEW_USER, TEMPORARY_PASSWORD, False)):
        cognito.admin_create_user(UserPoolId=pool_id, Username=username, TemporaryPassword=TEMPORARY_PASSWORD,
                                  UserAttributes=[{"Name": "email", "Value": username}], MessageAction="SUPPRESS")
        if permanent:
            cognito.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password, Permanent=True)
    config = {**PAGE_CONFIG, "auth": {**PAGE_CONFIG["auth"], "clientId": client_id}}
    for key, body, content_type in (("index.html", INDEX_HTML, "text/html; charset=utf-8"),
                                    ("app.js", APP_JS, "text/javascript; charset=utf-8"),
                                    ("config.json", json.dumps(config).encode(), "application/json")):
        s3.put_object(Bucket=SITE_BUCKET, Key=key, Body=body, ContentType=content_type, CacheControl="no-cache")
    function_name = "page-gateway-echo"
    create_function(client, function_name, ECHO_FUNCTION)
    issuer = f"https://cognito-idp.{aws.region}.amazonaws.com/{pool_id}"
    rule = JwtRule(issuer=issuer, audience=(client_id,))
    routes = {"GET /api/search": ApiRoute(function_name=function_name, jwt=rule),
              "POST /api/uploads": ApiRoute(function_name=function_name, jwt=rule),
              "GET /api/open": ApiRoute(function_name=function_name),
              "GET /api/gone": ApiRoute(function_name="no-such-function")}
    def resolve() -> ServedSite:
        return ServedSite(site_bucket=SITE_BUCKET, default_root_object="index.html",
                          response_headers=RESPONSE_HEADERS, api_routes=routes, api_id="a1b2c3",
                          sign_in=SignInClient(user_pool_id=pool_id, client_id=client_id,
                                               callback_urls=("https://d111.cloudfront.net/",),
                                               logout_urls=("https://d111.cloudfront.net/",),
                                               scopes=("openid", "email", "profile")))

    url = aws.serve_distribution("E1PAGE", resolve)
    yield Page(url=url, origin=url.rstrip("/"), pool_id=pool_id, client_id=client_id, issuer=issuer,
               function_name=function_name)
    aws.stop_serving("E1PAGE")


# ---- tokens made here ---------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _int(text: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")


def moto_pool_key() -> rsa.RSAPrivateKey:
    """The private key moto signs every user pool's tokens with (its bundled jwks-private.json)."""
    jwk = load_resource("cognitoidp/resources/jwks-private.json")
    n, e, d = _int(jwk["n"]), _int(jwk["e"]), _int(jwk["d"])
    p, q = rsa.rsa_recover_prime_factors(n, e, d)  # the file has n, e and d only
    return rsa.RSAPrivateNumbers(p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q),
                                 rsa.RSAPublicNumbers(e, n)).private_key()


def signed_token(claims: dict, *, key: rsa.RSAPrivateKey | None = None, kid: str = "dummy") -> str:
    """A JWT with moto's pool key (kid "dummy", as moto's JWKS names it) unless another key is given."""
    header = _b64url(json.dumps({"alg": "RS256", "kid": kid}).encode())
    payload = _b64url(json.dumps(claims).encode())
    signature = (key or moto_pool_key()).sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{_b64url(signature)}"


def access_claims(page: Page, **changes) -> dict:
    now = int(time.time())
    claims = {"iss": page.issuer, "sub": "11111111-2222-3333-4444-555555555555", "client_id": page.client_id,
              "token_use": "access", "scope": "openid email", "iat": now, "auth_time": now, "exp": now + 3600,
              "jti": "made-here", "username": "ann"}
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def own_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)
