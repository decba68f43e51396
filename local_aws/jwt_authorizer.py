"""The bearer token check of an HTTP API JWT authorizer, as API Gateway documents it
(http-api-jwt-authorizer.html, "Authorizing API requests with a JWT authorizer"):

1. the token is in the identity source (the Authorization header, alone or after "Bearer ");
2. its kid names a key of the issuer's JWKS (found through <issuer>/.well-known/openid-configuration)
   and the RS256 signature verifies with it;
3. iss equals the authorizer's issuer; aud, or client_id when the token has no aud, is one of the
   audience entries; exp is in the future, nbf and iat are not; when the route names authorization
   scopes, the token's scope claim holds one of them.

Any failure is API Gateway's 401 {"message":"Unauthorized"} with a www-authenticate header saying
which check failed. API Gateway does not look at token_use, so neither does this: an id token with
the client as its aud passes, as it does on AWS.

The issuer is a Cognito user pool here, whose discovery document and keys moto serves on the local
endpoint at /<pool id>/.well-known/... (checked: moto's one port routes them). The issuer's host
(cognito-idp.<region>.amazonaws.com) is replaced by the local endpoint, keeping the path.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from local_aws.served_site import JwtRule

_DISCOVERY_TIMEOUT_S = 10.0


class Unauthorized(Exception):
    """The token fails one of the checks; the message is the www-authenticate error description."""


@dataclass(frozen=True)
class Authorization:
    """What a valid token gives the integration (requestContext.authorizer.jwt)."""

    claims: dict
    scopes: list[str] | None


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def bearer_token(headers: dict[str, str]) -> str:
    """The token from the Authorization header (lower-cased names): the whole value, or what follows
    "Bearer ", as API Gateway accepts both."""
    value = (headers.get("authorization") or "").strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    if not value:
        raise Unauthorized("no token in the Authorization header")
    return value


class JwksCache:
    """The issuers' signing keys, fetched once per issuer and again when a token names a kid the
    cached set lacks (a rotated key), as API Gateway caches them."""

    def __init__(self, endpoint_url: str) -> None:
        self._endpoint_url = endpoint_url.rstrip("/")
        self._lock = threading.Lock()
        self._keys: dict[str, dict[str, rsa.RSAPublicKey]] = {}

    def local_url(self, issuer: str, suffix: str) -> str:
        """The issuer's URL on the local endpoint: moto routes <endpoint>/<pool id>/.well-known/..."""
        path = urllib.parse.urlsplit(issuer).path.rstrip("/")
        return f"{self._endpoint_url}{path}{suffix}"

    def key(self, issuer: str, kid: str) -> rsa.RSAPublicKey:
        with self._lock:
            known = self._keys.get(issuer)
        if known is None or kid not in known:
            known = self._fetch(issuer)
            with self._lock:
                self._keys[issuer] = known
        if kid not in known:
            raise Unauthorized(f"no key {kid!r} in the issuer's JWKS")
        return known[kid]

    def _fetch(self, issuer: str) -> dict[str, rsa.RSAPublicKey]:
        try:
            discovery = _read_json(self.local_url(issuer, "/.well-known/openid-configuration"))
            jwks = _read_json(discovery["jwks_uri"])
        except Exception as error:  # an issuer we cannot reach authorizes nothing
            raise Unauthorized(f"the issuer's keys could not be read: {error}") from None
        keys = {}
        for entry in jwks.get("keys", []):
            if entry.get("kty") == "RSA" and entry.get("kid"):
                numbers = rsa.RSAPublicNumbers(int.from_bytes(b64url_decode(entry["e"]), "big"),
                                               int.from_bytes(b64url_decode(entry["n"]), "big"))
                keys[entry["kid"]] = numbers.public_key()
        return keys


def _read_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=_DISCOVERY_TIMEOUT_S) as answer:
        return json.loads(answer.read())


def decode_token(token: str) -> tuple[dict, dict, bytes, bytes]:
    """(header, claims, signed part, signature) of a compact JWS; Unauthorized if it is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        raise Unauthorized("the token is not a JWT")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except ValueError:
        raise Unauthorized("the token is not a JWT") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise Unauthorized("the token is not a JWT")
    return header, claims, f"{parts[0]}.{parts[1]}".encode(), signature


def authorize(token: str, rule: JwtRule, keys: JwksCache, *, route_scopes: tuple[str, ...] = (),
              now: float | None = None) -> Authorization:
    header, claims, signed, signature = decode_token(token)
    if header.get("alg") != "RS256":  # Cognito signs RS256; "none" and HMAC must never pass
        raise Unauthorized(f"the token's algorithm {header.get('alg')!r} is not RS256")
    key = keys.key(rule.issuer, str(header.get("kid", "")))
    try:
        key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise Unauthorized("the token's signature is not valid") from None
    if claims.get("iss") != rule.issuer:
        raise Unauthorized("the token does not have a valid issuer")
    audience = claims["aud"] if "aud" in claims else claims.get("client_id")
    audiences = audience if isinstance(audience, list) else [audience]
    if not any(one in rule.audience for one in audiences):
        raise Unauthorized("the token does not have a valid audience")
    now = time.time() if now is None else now
    if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= now:
        raise Unauthorized("the token has expired")
    for name in ("nbf", "iat"):
        if name in claims and (not isinstance(claims[name], (int, float)) or claims[name] > now):
            raise Unauthorized(f"the token is not valid yet ({name})")
    token_scopes = str(claims.get("scope", "")).split()
    if route_scopes and not set(route_scopes) & set(token_scopes):
        raise Unauthorized("the token does not have a valid scope")
    # Measured on AWS: jwt.scopes is null for a route without authorization scopes.
    return Authorization(claims=event_claims(claims), scopes=token_scopes if route_scopes else None)


def event_claims(claims: dict) -> dict[str, str]:
    """The claims as API Gateway hands them to the integration: every value a string (numbers and
    booleans written out), a list as "[a b]", an object as its JSON, a null claim left out."""
    rendered = {}
    for name, value in claims.items():
        if value is None:
            continue
        if isinstance(value, bool):
            rendered[name] = "true" if value else "false"
        elif isinstance(value, list):
            rendered[name] = "[" + " ".join(str(item) for item in value) + "]"
        elif isinstance(value, dict):
            rendered[name] = json.dumps(value, separators=(",", ":"))
        else:
            rendered[name] = str(value)
    return rendered


def www_authenticate(description: str) -> str:
    return f'Bearer scope="" error="invalid_token" error_description="{description}"'
