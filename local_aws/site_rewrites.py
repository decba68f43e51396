"""What the local page gateway changes in what the deployed site serves, each for its reason: the
page must talk to the local AWS and the gateway, not to the AWS hosts its deployment names."""

from __future__ import annotations

import json
import re

# An S3 bucket's virtual-hosted domain, regional or not (<bucket>.s3.<region>.amazonaws.com).
S3_BUCKET_DOMAIN = r"(?P<bucket>[a-z0-9][a-z0-9.-]*)\.s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?"
_S3_ORIGIN = re.compile(rf"https://{S3_BUCKET_DOMAIN}(?![\w.-])")
# A Cognito prefix domain's origin (https://<prefix>.auth.<region>.amazoncognito.com).
_COGNITO_DOMAIN_ORIGIN = re.compile(r"https://[a-z0-9-]+\.auth\.[a-z0-9-]+\.amazoncognito\.com(?![\w.-])")

# config.json's auth entries and the gateway paths that stand in for the Cognito domain's.
AUTH_URL_PATHS = {"authorizeUrl": "/oauth2/authorize", "tokenUrl": "/oauth2/token", "logoutUrl": "/logout"}
CONFIG_KEY = "config.json"


def local_content_security_policy(policy: str, *, endpoint_origin: str, gateway_origin: str) -> str:
    """The deployed CSP allows images, films and uploads from the image bucket's S3 origin and the
    token exchange with the Cognito domain. Locally the API function presigns its URLs with
    AWS_ENDPOINT_URL set, so they are path-style URLs on the local endpoint
    (http://127.0.0.1:<port>/<bucket>/<key>?...): the browser would refuse every image and upload.
    The endpoint's origin replaces the S3 origins, and the gateway's own origin (where the hosted
    UI stand-in answers) replaces the Cognito domain's."""
    policy = _S3_ORIGIN.sub(endpoint_origin, policy)
    return _COGNITO_DOMAIN_ORIGIN.sub(gateway_origin, policy)


def local_response_headers(headers: dict[str, str], *, endpoint_origin: str, gateway_origin: str) -> dict[str, str]:
    """The response headers policy's headers with the CSP made local (the others are kept as deployed)."""
    return {
        name: (local_content_security_policy(value, endpoint_origin=endpoint_origin, gateway_origin=gateway_origin)
               if name.lower() == "content-security-policy" else value)
        for name, value in headers.items()
    }


def local_page_config(body: bytes, *, gateway_origin: str) -> bytes:
    """config.json names the Cognito domain's /oauth2/authorize, /oauth2/token and /logout, which
    do not exist offline: they become the gateway's own paths, where the hosted UI stand-in signs
    users in against the local user pool. Anything else in the file is kept as published; a file
    that is not a JSON object with an auth object is served unchanged (the page then says what
    is wrong with it, as it would on AWS)."""
    try:
        config = json.loads(body)
    except ValueError:
        return body
    auth = config.get("auth") if isinstance(config, dict) else None
    if not isinstance(auth, dict):
        return body
    for name, path in AUTH_URL_PATHS.items():
        if name in auth:
            auth[name] = gateway_origin + path
    return json.dumps(config, indent=2, sort_keys=True).encode()
