"""Which route an HTTP API request takes and how a result maps back (local_aws/http_api_events.py),
by HTTP API's rules: the most specific path first (literal segments, then variables, a greedy
{proxy+} last), the exact method before ANY, $default when nothing else matches."""

from __future__ import annotations

import pytest

from local_aws.http_api_events import answer_from_result, match_route
from local_aws.served_site import ApiRoute

ROUTES = {key: ApiRoute(function_name=key) for key in (
    "GET /api/items/{id}", "GET /api/items/latest", "ANY /api/items/{id}", "GET /api/files/{path+}", "$default",
)}


@pytest.mark.parametrize("method, path, route_key, parameters", [
    ("GET", "/api/items/latest", "GET /api/items/latest", {}),
    ("GET", "/api/items/42", "GET /api/items/{id}", {"id": "42"}),
    ("DELETE", "/api/items/42", "ANY /api/items/{id}", {"id": "42"}),
    ("GET", "/api/files/a/b c.jpg", "GET /api/files/{path+}", {"path": "a/b c.jpg"}),
    ("GET", "/api/items/42/more", "$default", {}),
    ("POST", "/elsewhere", "$default", {}),
])
def test_the_most_specific_route_wins(method, path, route_key, parameters):
    matched = match_route(ROUTES, method, path)
    assert (matched.route_key, matched.path_parameters) == (route_key, parameters)


def test_without_default_an_unmatched_request_has_no_route():
    routes = {"GET /api/search": ApiRoute(function_name="f")}
    assert match_route(routes, "POST", "/api/search") is None
    assert match_route(routes, "GET", "/api/search/") is None


@pytest.mark.parametrize("payload, error, status, body", [
    (b'{"statusCode": 201, "body": "made"}', None, 201, b"made"),
    (b'{"statusCode": 200, "body": {"a": 1}}', None, 200, b'{"a": 1}'),
    (b'[1, 2]', None, 200, b"[1, 2]"),
    (b'"text"', None, 200, b'"text"'),
    (b'{"errorMessage": "boom"}', "Unhandled", 500, b'{"message":"Internal Server Error"}'),
    (b'{"statusCode": "abc"}', None, 500, b'{"message":"Internal Server Error"}'),
    (b'{"statusCode": 200, "isBase64Encoded": true, "body": "%%%"}', None, 500, b'{"message":"Internal Server Error"}'),
])
def test_results_map_as_payload_2_maps_them(payload, error, status, body):
    answer = answer_from_result(payload, error)
    assert (answer.status, answer.body) == (status, body)
