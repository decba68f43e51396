"""HTTP API (API Gateway v2) AWS_PROXY integrations with payload format 2.0: which route a request
takes, the event the function gets, and how its result becomes the HTTP answer
(http-api-develop-integrations-lambda.html)."""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Mapping

from local_aws.jwt_authorizer import www_authenticate
from local_aws.served_site import ApiRoute

# API Gateway's own answers, byte for byte what clients see from it.
NOT_FOUND = b'{"message":"Not Found"}'
UNAUTHORIZED = b'{"message":"Unauthorized"}'
INTERNAL_SERVER_ERROR = b'{"message":"Internal Server Error"}'

# Request bodies of these types reach the function as text; any other is base64 (isBase64Encoded).
_TEXT_TYPES = re.compile(r"^(text/|application/(json|javascript|xml|x-www-form-urlencoded)|[^;]*\+(json|xml))", re.I)


@dataclass(frozen=True)
class MatchedRoute:
    route_key: str
    route: ApiRoute
    path_parameters: dict[str, str]


@dataclass(frozen=True)
class ApiRequest:
    """One request as the HTTP API received it."""

    method: str
    raw_path: str  # as sent, still percent-encoded
    raw_query: str
    headers: list[tuple[str, str]]  # in order, as sent (a name may repeat)
    body: bytes
    source_ip: str
    protocol: str = "HTTP/1.1"


@dataclass
class ApiAnswer:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def _template_pattern(template: str) -> tuple[re.Pattern, int, bool]:
    """A route path as a regular expression, its literal segment count and whether it is greedy."""
    pieces, literals, greedy = [], 0, False
    for segment in template.strip("/").split("/") if template != "/" else []:
        variable = re.fullmatch(r"\{([A-Za-z0-9._-]+)(\+?)\}", segment)
        if variable and variable.group(2):
            pieces.append(f"(?P<{_group(variable.group(1))}>.+)")
            greedy = True
        elif variable:
            pieces.append(f"(?P<{_group(variable.group(1))}>[^/]+)")
        else:
            pieces.append(re.escape(segment))
            literals += 1
    return re.compile("^/" + "/".join(pieces) + "$"), literals, greedy


def _group(name: str) -> str:
    return "p_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


def match_route(routes: Mapping[str, ApiRoute], method: str, path: str) -> MatchedRoute | None:
    """The route HTTP API picks: the most specific path (literal segments before variables, a greedy
    {proxy+} last), the exact method before ANY, and $default when nothing else matches."""
    best, best_rank = None, None
    for route_key, route in routes.items():
        if route_key == "$default":
            continue
        route_method, _, template = route_key.partition(" ")
        if route_method not in (method, "ANY"):
            continue
        pattern, literals, greedy = _template_pattern(template)
        found = pattern.match(path)
        if not found:
            continue
        names = re.findall(r"\{([A-Za-z0-9._-]+)\+?\}", template)
        parameters = {name: urllib.parse.unquote(found.group(_group(name))) for name in names}
        rank = (not greedy, literals, route_method == method)
        if best_rank is None or rank > best_rank:
            best, best_rank = MatchedRoute(route_key, route, parameters), rank
    if best is None and "$default" in routes:
        best = MatchedRoute("$default", routes["$default"], {})
    return best


def lower_cased_headers(headers: list[tuple[str, str]]) -> dict[str, str]:
    """Header names lower-cased, a repeated header's values joined with commas (cookies apart)."""
    joined: dict[str, str] = {}
    for name, value in headers:
        name = name.lower()
        if name == "cookie":
            continue
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def request_cookies(headers: list[tuple[str, str]]) -> list[str]:
    return [part.strip() for name, value in headers if name.lower() == "cookie"
            for part in value.split(";") if part.strip()]


def query_parameters(raw_query: str) -> dict[str, str]:
    """Repeated parameters joined with commas, as payload 2.0 does."""
    joined: dict[str, str] = {}
    for name, value in urllib.parse.parse_qsl(raw_query, keep_blank_values=True):
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def build_event(request: ApiRequest, matched: MatchedRoute, *, account_id: str, api_id: str, region: str,
                authorizer: dict | None) -> dict:
    now = time.time()
    domain_name = f"{api_id}.execute-api.{region}.amazonaws.com"
    headers = lower_cased_headers(request.headers)
    # CloudFront sends the API's own Host (the /api/* behaviour forwards every viewer header but Host),
    # and API Gateway adds the forwarded-for headers (here for this plain-HTTP hop).
    port = headers.get("host", "").rpartition(":")[2]
    headers.update({"host": domain_name, "x-forwarded-for": request.source_ip, "x-forwarded-proto": "http",
                    "x-forwarded-port": port if port.isdigit() else "80"})
    event = {
        "version": "2.0",
        "routeKey": matched.route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": account_id,
            "apiId": api_id,
            "domainName": domain_name,
            "domainPrefix": api_id,
            "http": {
                "method": request.method,
                "path": urllib.parse.unquote(request.raw_path),
                "protocol": request.protocol,
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            # API Gateway's ids are short base64 texts; any unique text serves.
            "requestId": base64.urlsafe_b64encode(uuid.uuid4().bytes[:12]).decode().rstrip("="),
            "routeKey": matched.route_key,
            "stage": "$default",
            "time": datetime.fromtimestamp(now, timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    cookies = request_cookies(request.headers)
    if cookies:
        event["cookies"] = cookies
    if request.raw_query:
        event["queryStringParameters"] = query_parameters(request.raw_query)
    if matched.path_parameters:
        event["pathParameters"] = matched.path_parameters
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    if request.body:
        if _TEXT_TYPES.match(headers.get("content-type", "")):
            try:
                event["body"] = request.body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"], event["isBase64Encoded"] = base64.b64encode(request.body).decode(), True
        else:
            event["body"], event["isBase64Encoded"] = base64.b64encode(request.body).decode(), True
    return event


def answer_from_result(payload: bytes, function_error: str | None) -> ApiAnswer:
    """The function's result as payload 2.0 maps it: a dict with statusCode gives the status, its
    headers, its cookies (one Set-Cookie each) and its body (base64-decoded when isBase64Encoded);
    any other JSON is a 200 application/json of that JSON. A function error, a result that is not
    JSON or a malformed one is API Gateway's 500 Internal Server Error."""
    if function_error:
        return internal_server_error()
    try:
        result = json.loads(payload or b"null")
    except ValueError:
        return internal_server_error()
    if not isinstance(result, dict) or "statusCode" not in result:
        return ApiAnswer(200, [("Content-Type", "application/json")], payload)
    try:
        status = int(result["statusCode"])
        headers = [(str(name), str(value)) for name, value in (result.get("headers") or {}).items()]
        headers += [("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or []]
        body = result.get("body")
        if body is None:
            data = b""
        elif result.get("isBase64Encoded"):
            data = base64.b64decode(str(body), validate=True)
        else:
            data = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
    except (TypeError, ValueError, AttributeError):
        return internal_server_error()
    if not 100 <= status <= 599:
        return internal_server_error()
    return ApiAnswer(status, headers, data)


def internal_server_error() -> ApiAnswer:
    return ApiAnswer(500, [("Content-Type", "application/json")], INTERNAL_SERVER_ERROR)


def not_found() -> ApiAnswer:
    return ApiAnswer(404, [("Content-Type", "application/json")], NOT_FOUND)


def unauthorized(description: str) -> ApiAnswer:
    return ApiAnswer(401, [("Content-Type", "application/json"), ("www-authenticate", www_authenticate(description))],
                     UNAUTHORIZED)
