"""What one deployed CloudFront distribution serves, as the local page gateway needs it: the site
bucket, the default root object, the response headers policy's headers, the HTTP API routes behind
the API path pattern, and the sign-in client the page uses.

The gateway asks for it afresh on every request (a callable given to `LocalAws.serve_distribution`):
one deploy creates the API's routes and publishes the page after CloudFormation created the
distribution, and a later deploy may change any of it without restarting the gateway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

# The only identity source the page's authorizer names (and the only one the gateway reads).
AUTHORIZATION_HEADER_SOURCE = "$request.header.Authorization"


@dataclass(frozen=True, kw_only=True)
class JwtRule:
    """An HTTP API JWT authorizer's configuration (AWS::ApiGatewayV2::Authorizer JwtConfiguration)."""

    issuer: str  # e.g. https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc
    audience: tuple[str, ...]  # the token's aud, or client_id when it has no aud, must be one of these
    identity_source: str = AUTHORIZATION_HEADER_SOURCE

    def __post_init__(self) -> None:
        if self.identity_source != AUTHORIZATION_HEADER_SOURCE:
            raise ValueError(f"the local gateway reads tokens from {AUTHORIZATION_HEADER_SOURCE} only, "
                             f"not {self.identity_source!r}")
        if isinstance(self.audience, str):
            raise ValueError("audience is a list of client ids, not one string")


@dataclass(frozen=True, kw_only=True)
class ApiRoute:
    """One route of the HTTP API (AWS::ApiGatewayV2::Route) and the function its AWS_PROXY
    integration (payload format 2.0) invokes."""

    function_name: str
    jwt: JwtRule | None = None  # None: AuthorizationType NONE
    authorization_scopes: tuple[str, ...] = ()  # the route's AuthorizationScopes (one must be in the token)


@dataclass(frozen=True, kw_only=True)
class SignInClient:
    """The page's user pool app client: what the hosted UI checks a sign-in request against."""

    user_pool_id: str
    client_id: str
    callback_urls: tuple[str, ...]
    logout_urls: tuple[str, ...]
    scopes: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class ServedSite:
    """What one distribution serves."""

    site_bucket: str
    default_root_object: str  # "" when the distribution has none ("/" then goes to the bucket as is)
    response_headers: Mapping[str, str] = field(default_factory=dict)  # added to every answer
    # Route key ("GET /api/search") -> route, for the paths of api_path_pattern.
    api_routes: Mapping[str, ApiRoute] = field(default_factory=dict)
    api_path_pattern: str = "/api/*"
    api_id: str = "local"  # the HTTP API's id (requestContext.apiId, and its execute-api domain name)
    sign_in: SignInClient | None = None

    def __post_init__(self) -> None:
        if not self.api_path_pattern.endswith("/*") or not self.api_path_pattern.startswith("/"):
            raise ValueError(f"the API path pattern must look like /api/*, not {self.api_path_pattern!r}")
        for route_key in self.api_routes:
            method, _, path = route_key.partition(" ")
            if not method or not path.startswith("/"):
                raise ValueError(f"a route key is 'METHOD /path', not {route_key!r}")

    @property
    def api_path_prefix(self) -> str:
        return self.api_path_pattern[:-1]  # "/api/*" -> "/api/"


ResolveSite = Callable[[], ServedSite]
