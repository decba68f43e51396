"""The local page gateway: one HTTP server on 127.0.0.1 per deployed CloudFront distribution, standing
for CloudFront (the site bucket through origin access control, the default root object, the response
headers policy), for the HTTP API behind `/api/*` (routes, JWT authorizer, payload 2.0 events to the
deployed function run by the local Lambda runtime) and for the user pool domain's hosted UI
(local_aws/hosted_sign_in.py).

What it serves comes from a `ServedSite` the gateway asks for on every request. What it does not do:
caching, invalidations, WAF, throttling, custom domains and certificates, HTTPS, compression.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from botocore.exceptions import ClientError

from local_aws.hosted_sign_in import HostedSignIn
from local_aws.http_api_events import (
    ApiAnswer, ApiRequest, answer_from_result, build_event, internal_server_error, match_route, not_found, unauthorized,
)
from local_aws.jwt_authorizer import JwksCache, Unauthorized, authorize, bearer_token
from local_aws.served_site import ResolveSite, ServedSite
from local_aws.site_rewrites import CONFIG_KEY, local_page_config, local_response_headers

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
# A request body larger than this is refused (API Gateway's HTTP API payload quota is 10 MB).
MAX_BODY_BYTES = 10 * 1024 * 1024
# What S3 answers a principal that may GetObject but not ListBucket (origin access control's
# grant) for a key that does not exist: CloudFront passes it on as is.
ACCESS_DENIED = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                 b'<Message>Access Denied</Message></Error>')
# CloudFront's answer to a method the behaviour does not allow (the default behaviour: GET, HEAD).
METHOD_NOT_ALLOWED = b"This distribution is not configured to allow the HTTP request method that was used for this request."
# Headers of S3's answer that CloudFront passes on to the viewer.
_S3_PASSED = {"ContentType": "Content-Type", "ETag": "ETag", "LastModified": "Last-Modified",
              "CacheControl": "Cache-Control", "ContentEncoding": "Content-Encoding",
              "ContentLanguage": "Content-Language", "ContentDisposition": "Content-Disposition"}

Invoke = Callable[[str, bytes], Any]  # (function name, payload) -> InvocationResult


class PageGateway:
    """Serves one distribution until `stop()`."""

    def __init__(self, *, distribution_id: str, resolve: ResolveSite, endpoint_url: str, account_id: str,
                 region: str, s3, cognito, invoke: Invoke, port: int = 0) -> None:
        self.distribution_id = distribution_id
        self._resolve = resolve
        self.endpoint_url = endpoint_url.rstrip("/")
        self.account_id = account_id
        self.region = region
        self._s3 = s3
        self._invoke = invoke
        self._keys = JwksCache(endpoint_url)
        self._server = ThreadingHTTPServer((LOOPBACK, port), _Handler)
        self._server.daemon_threads = True
        self._server.gateway = self
        self.url = f"http://{LOOPBACK}:{self._server.server_address[1]}/"
        self.origin = self.url.rstrip("/")
        self.sign_in = HostedSignIn(cognito=cognito, gateway_origin=self.origin)
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"page-gateway-{distribution_id}",
                                        daemon=True)

    def start(self) -> str:
        self._thread.start()
        logger.info("Distribution %s served on %s", self.distribution_id, self.url)
        return self.url

    def resolve_with(self, resolve: ResolveSite) -> None:
        self._resolve = resolve

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ---- one request ----------------------------------------------------------------------------

    def answer(self, request: ApiRequest) -> ApiAnswer:
        """The whole answer to one request, the response headers policy's headers included."""
        try:
            site = self._resolve()
        except Exception as error:  # a distribution whose resources are gone or half-made: say so
            logger.warning("Distribution %s could not be resolved: %s", self.distribution_id, error)
            return ApiAnswer(503, [("Content-Type", "text/plain; charset=utf-8")],
                             f"The local gateway could not read distribution {self.distribution_id}: {error}".encode())
        try:
            answer = self._route(site, request)
        except Exception:  # never a dropped connection: an answer, and the reason in the log
            logger.exception("Distribution %s failed answering %s %s", self.distribution_id, request.method,
                             request.raw_path)
            answer = ApiAnswer(502, [("Content-Type", "text/plain; charset=utf-8")],
                               b"The local page gateway failed to answer this request; its log says why.")
        policy = local_response_headers(dict(site.response_headers), endpoint_origin=self.endpoint_url,
                                        gateway_origin=self.origin)
        # The policy's headers override the origin's (the deployed policy sets override on each).
        overridden = {name.lower() for name in policy}
        kept = [(name, value) for name, value in answer.headers if name.lower() not in overridden]
        answer.headers = kept + list(policy.items())
        return answer

    def _route(self, site: ServedSite, request: ApiRequest) -> ApiAnswer:
        path = request.raw_path
        if path.startswith(site.api_path_prefix):
            return self._api(site, request)
        if site.sign_in is not None and path in ("/oauth2/authorize", "/login", "/oauth2/token", "/logout"):
            return self._hosted(site, request, path)
        if request.method not in ("GET", "HEAD"):
            return ApiAnswer(403, [("Content-Type", "text/plain")], METHOD_NOT_ALLOWED)
        return self._site_object(site, request)

    # ---- the site bucket, as CloudFront with origin access control serves it ---------------------------

    def _site_object(self, site: ServedSite, request: ApiRequest) -> ApiAnswer:
        key = urllib.parse.unquote(request.raw_path)[1:]
        if not key and site.default_root_object:
            key = site.default_root_object  # only for the root: CloudFront never adds it to subfolders
        if_none_match = next((value for name, value in request.headers if name.lower() == "if-none-match"), None)
        if not key:  # no default root object: S3 would list the bucket, which OAC's principal may not
            return ApiAnswer(403, [("Content-Type", "application/xml")], ACCESS_DENIED)
        try:
            # GET for HEAD too: the answer's length is that of the (possibly rewritten) body.
            stored = self._s3.get_object(Bucket=site.site_bucket, Key=key,
                                         **({"IfNoneMatch": if_none_match} if if_none_match else {}))
        except ClientError as error:
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500))
            if status == 304:
                return ApiAnswer(304, [("ETag", if_none_match)])
            if status in (403, 404):  # a missing key, or a bucket gone: S3 denies OAC's principal alike
                return ApiAnswer(403, [("Content-Type", "application/xml")], ACCESS_DENIED)
            raise
        body = stored["Body"].read()
        answer_headers = [(name, _header_text(stored[field])) for field, name in _S3_PASSED.items() if field in stored]
        if key == CONFIG_KEY:
            # The ETag stays S3's: for this gateway's origin the rewritten file changes exactly when it does.
            body = local_page_config(body, gateway_origin=self.origin)
        return ApiAnswer(200, answer_headers, body)

    # ---- /api/*: the HTTP API -----------------------------------------------------------------------------

    def _api(self, site: ServedSite, request: ApiRequest) -> ApiAnswer:
        answer = self._api_answer(site, request)
        # The deployed /api/* behaviour caches nothing; nothing between here and the page may either.
        if not any(name.lower() == "cache-control" for name, _ in answer.headers):
            answer.headers.append(("Cache-Control", "no-store"))
        return answer

    def _api_answer(self, site: ServedSite, request: ApiRequest) -> ApiAnswer:
        matched = match_route(site.api_routes, request.method, urllib.parse.unquote(request.raw_path))
        if matched is None:
            return not_found()
        authorizer = None
        if matched.route.jwt is not None:
            try:
                token = bearer_token({name.lower(): value for name, value in request.headers})
                granted = authorize(token, matched.route.jwt, self._keys,
                                    route_scopes=matched.route.authorization_scopes)
            except Unauthorized as refusal:
                return unauthorized(str(refusal))
            authorizer = {"jwt": {"claims": granted.claims, "scopes": granted.scopes}}
        event = build_event(request, matched, account_id=self.account_id, api_id=site.api_id, region=self.region,
                            authorizer=authorizer)
        try:
            result = self._invoke(matched.route.function_name, json.dumps(event).encode())
        except Exception as error:  # the function is gone, or cannot run: API Gateway answers 500
            logger.warning("Route %s: invoking %s failed: %s", matched.route_key, matched.route.function_name, error)
            return internal_server_error()
        if result.function_error:
            logger.warning("Route %s: %s answered a function error: %s", matched.route_key,
                           matched.route.function_name, result.payload[:500])
        return answer_from_result(result.payload, result.function_error)

    # ---- the hosted UI stand-in ----------------------------------------------------------------------------

    def _hosted(self, site: ServedSite, request: ApiRequest, path: str) -> ApiAnswer:
        query = dict(urllib.parse.parse_qsl(request.raw_query, keep_blank_values=True))
        form = dict(urllib.parse.parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        client = site.sign_in
        if path == "/oauth2/authorize" and request.method == "GET":
            hosted = self.sign_in.authorize(client, query)
        elif path == "/login" and request.method == "POST":
            hosted = self.sign_in.login(client, form)
        elif path == "/oauth2/token" and request.method == "POST":
            hosted = self.sign_in.token(client, form)
        elif path == "/logout" and request.method == "GET":
            hosted = self.sign_in.logout(client, query)
        else:
            allowed = "POST" if path in ("/login", "/oauth2/token") else "GET"
            return ApiAnswer(405, [("Content-Type", "text/plain"), ("Allow", allowed)], b"Method not allowed.")
        return ApiAnswer(hosted.status, list(hosted.headers), hosted.body)


def _header_text(value: Any) -> str:
    if hasattr(value, "strftime"):  # LastModified: an HTTP date
        return value.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return str(value)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LocalPageGateway"

    def _serve(self) -> None:
        gateway: PageGateway = self.server.gateway
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._write(ApiAnswer(413, [("Content-Type", "application/json")], b'{"message":"Request Entity Too Large"}'))
            return
        body = self.rfile.read(length) if length else b""
        raw_path, _, raw_query = self.path.partition("?")
        request = ApiRequest(method=self.command, raw_path=raw_path or "/", raw_query=raw_query,
                             headers=list(self.headers.items()), body=body, source_ip=self.client_address[0],
                             protocol=self.request_version)
        self._write(gateway.answer(request))

    def _write(self, answer: ApiAnswer) -> None:
        self.send_response(answer.status)
        names = {name.lower() for name, _ in answer.headers}
        for name, value in answer.headers:
            self.send_header(name, value)
        if "content-length" not in names:
            self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD" and answer.status not in (204, 304):
            self.wfile.write(answer.body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve

    def log_message(self, format: str, *args) -> None:  # one line per request drowns the launcher's log
        logger.debug("%s %s", self.address_string(), format % args)


class PageGateways:
    """The gateways LocalAws runs, by distribution id."""

    def __init__(self, make: Callable[[str, ResolveSite], PageGateway]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._running: dict[str, PageGateway] = {}

    @classmethod
    def for_local_aws(cls, aws) -> "PageGateways":
        """Gateways reading the site bucket and the user pool through the local endpoint (as CloudFront
        and the hosted UI reach them over the network), invoking the deployed functions in the local
        Lambda runtime by name, as API Gateway's integration does."""
        from moto.awslambda.utils import get_backend as get_lambda_backend

        from local_aws.clients import local_client

        s3 = local_client(aws.endpoint, "s3")
        cognito = local_client(aws.endpoint, "cognito-idp")

        def invoke(function_name: str, payload: bytes):
            function = get_lambda_backend(aws.account_id, aws.region).get_function(function_name)
            return aws.invoke_function(function, payload, wait_for_slot=True)

        return cls(lambda distribution_id, resolve: PageGateway(
            distribution_id=distribution_id, resolve=resolve, endpoint_url=aws.endpoint_url,
            account_id=aws.account_id, region=aws.region, s3=s3, cognito=cognito, invoke=invoke))

    def serve(self, distribution_id: str, resolve: ResolveSite) -> str:
        """The distribution's URL; a distribution already served keeps its port and takes the new resolver."""
        with self._lock:
            running = self._running.get(distribution_id)
            if running is not None:
                running.resolve_with(resolve)
                return running.url
            gateway = self._make(distribution_id, resolve)
            self._running[distribution_id] = gateway
        return gateway.start()

    def stop(self, distribution_id: str) -> None:
        with self._lock:
            gateway = self._running.pop(distribution_id, None)
        if gateway is not None:
            gateway.stop()

    def stop_all(self) -> None:
        with self._lock:
            ids = list(self._running)
        for distribution_id in ids:
            self.stop(distribution_id)

    def urls(self) -> dict[str, str]:
        with self._lock:
            return {distribution_id: gateway.url for distribution_id, gateway in self._running.items()}
