"""The web page's API function (lambda_src/web_api) on items the real labellers wrote into moto:
each route, bad input answered 4xx with its reason, paging, boxes, segments, presigned URLs that
work against moto's S3, and no Scan."""

from __future__ import annotations

import base64
import importlib
import json
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from moto import mock_aws

from cli_film_harness import film
from cli_harness import BUCKET, TABLE, make_pipeline, sample
from test_cli_search import fill
from test_search_paging import photo

CLAIMS = {"sub": "user-1", "client_id": "client"}


@pytest.fixture(scope="module")
def api():
    with pytest.MonkeyPatch.context() as monkeypatch, mock_aws():
        pipeline = fill(make_pipeline(monkeypatch))
        for number in range(60):
            pipeline.put(f"photos/{number:02}.png", photo(number))
        pipeline.put("films/street.mp4", film(("Cat", 2_000, 5_000, 91.0), ("Person", 4_000, 9_000, 95.0)))
        monkeypatch.setenv("BUCKET_NAME", BUCKET)
        monkeypatch.setenv("TABLE_NAME", TABLE)
        import web_api.handler as handler

        handler = importlib.reload(handler)
        operations = []
        handler.DYNAMODB.meta.events.register("before-call.dynamodb", lambda model, **kw: operations.append(model.name))
        pipeline.api, pipeline.api_operations = handler, operations
        yield pipeline
        assert "Scan" not in operations


def call(api, route: str, *, query: dict | list | None = None, body=None, claims=CLAIMS, raw_body: str | None = None):
    event = {"version": "2.0", "routeKey": route, "rawQueryString": urlencode(query or {}, doseq=True),
             "isBase64Encoded": False, "requestContext": {"authorizer": {"jwt": {"claims": claims}}} if claims else {}}
    if body is not None or raw_body is not None:
        event["body"] = raw_body if raw_body is not None else json.dumps(body)
    response = api.api.handle(event, None)
    return response["statusCode"], json.loads(response["body"])


def search(api, *labels, **options):
    return call(api, "GET /api/search", query=[("label", name) for name in labels] + list(options.items()))


def test_every_route_without_jwt_claims_is_401(api):
    for route in ("GET /api/search", "GET /api/item", "GET /api/labels", "POST /api/uploads"):
        assert call(api, route, query={"label": "cat"}, claims=None) == (401, {"message": "Unauthorized"})


def test_paging_gives_every_hit_once_in_order(api):
    seen, cursor, sizes = [], None, []
    while True:
        status, answer = search(api, "Photo", limit=24, **({"cursor": cursor} if cursor else {}))
        assert status == 200, answer
        sizes.append(len(answer["hits"]))
        seen += [hit["key"] for hit in answer["hits"]]
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    assert sizes == [24, 24, 12]
    assert seen == [f"photos/{number:02}.png" for number in range(60)]


def test_an_image_hit_carries_the_boxes_of_the_searched_labels_and_a_url_of_its_version(api):
    status, answer = search(api, "cat")
    assert status == 200
    chelsea = next(hit for hit in answer["hits"] if hit["key"] == "pets/chelsea.png")
    assert chelsea["media"] == "image" and chelsea["labels"] == {"Cat": 97.8}
    assert chelsea["boxes"] == [{"label": "Cat", "confidence": 97.8, "left": 0.1, "top": 0.1, "width": 0.5, "height": 0.5}]
    version = api.s3.head_object(Bucket=BUCKET, Key="pets/chelsea.png")["VersionId"]
    assert parse_qs(urlsplit(chelsea["url"]).query)["versionId"] == [version]
    got = requests.get(chelsea["url"], timeout=10)
    assert got.status_code == 200 and got.content == sample("cat-chelsea.png")
    # Animal has no Instances in the stub; Cat's box is not Animal's.
    assert [hit["boxes"] for hit in search(api, "animal")[1]["hits"] if hit["key"] == "pets/chelsea.png"] == [[]]


def test_a_film_hit_carries_the_seconds_both_labels_are_on_screen(api):
    status, answer = search(api, "cat", "person")
    assert status == 200
    assert [(hit["key"], hit["media"], hit.get("segments")) for hit in answer["hits"]] == [
        ("films/street.mp4", "video", [{"start_ms": 4_000, "end_ms": 5_000}])]


def test_an_unknown_label_is_answered_with_suggestions(api):
    assert search(api, "cats") == (200, {"labels": ["cats"], "hits": [], "next_cursor": None, "unknown": {"cats": ["Cat"]}})


@pytest.mark.parametrize("query, message", [
    ({"label": "cat", "limit": "1000"}, "limit must be a whole number from 1 to 100"),
    ({"label": "cat", "limit": "x"}, "limit must be a whole number from 1 to 100"),
    ({"label": "cat", "min_confidence": "101"}, "min_confidence must be a number from 0 to 100"),
    ({"label": "cat", "cursor": "not-a-cursor"}, "cursor is not one this API gave"),
    ({}, "give 1 to 10 labels (label=Cat&label=Cup)"),
    ({"label": "x" * 101}, "each label must be 1 to 100 characters"),
])
def test_bad_search_input_is_400_with_its_reason(api, query, message):
    assert call(api, "GET /api/search", query=query) == (400, {"message": message})


def test_a_cursor_for_other_labels_is_refused(api):
    cursor = search(api, "Photo", limit=2)[1]["next_cursor"]
    assert search(api, "Photo", limit=2, cursor=cursor)[0] == 200
    assert search(api, "cat", limit=2, cursor=cursor) == (
        400, {"message": "cursor belongs to another search (other labels or minimum confidence)"})
    forged = base64.urlsafe_b64encode(b'{"labels": ["photo"], "min": null}').decode()
    assert search(api, "Photo", cursor=forged) == (400, {"message": "cursor is not one this API gave"})


def test_item_and_labels(api):
    status, item = call(api, "GET /api/item", query={"key": "pets/chelsea.png"})
    assert status == 200 and item["status"] == "LABELLED" and item["labels"][0]["name"] == "Cat"
    assert parse_qs(urlsplit(item["url"]).query)["versionId"] == [item["version_id"]]
    assert call(api, "GET /api/item", query={"key": "gone.png"})[1]["url"] is None
    assert call(api, "GET /api/item", query={"key": "nowhere.png"}) == (
        404, {"message": "nothing in the library has the key 'nowhere.png'"})
    # An upload's wait: its version's item, or WAITING while the table has another version or none.
    assert call(api, "GET /api/item", query={"key": "pets/chelsea.png", "version_id": item["version_id"]}) == (200, item)
    for key in ("pets/chelsea.png", "nowhere.png"):
        assert call(api, "GET /api/item", query={"key": key, "version_id": "v2"}) == (
            200, {"key": key, "version_id": "v2", "status": "WAITING", "labels": []})
    assert call(api, "GET /api/item", query={"key": "nowhere.png", "version_id": ""})[0] == 400
    status, labels = call(api, "GET /api/labels")
    assert status == 200 and labels["labels"][0] == {"label": "Photo", "objects": 60}
    assert {"label": "Cat", "objects": 2} in labels["labels"]


@pytest.mark.parametrize("body, message", [
    ({"name": "notes.txt", "size": 10}, "only images (.jpg, .jpeg, .png) and films (.mp4, .mov) are labelled"),
    ({"name": "/abs.jpg", "size": 10}, "name must not start with '/'"),
    ({"name": "big.JPG", "size": 16 * 1024 * 1024}, "an image may be at most 15 MB (Rekognition's limit)"),
    ({"name": "huge.mov", "size": 11 * 1024**3}, "a film may be at most 10 GiB (Rekognition Video's limit)"),
    ({"name": "empty.png", "size": 0}, "size must be the file's size in bytes, more than 0"),
])
def test_bad_upload_requests_are_400_with_their_reason(api, body, message):
    assert call(api, "POST /api/uploads", body=body) == (400, {"message": message})


def test_a_body_that_is_not_json_is_400(api):
    assert call(api, "POST /api/uploads", raw_body="{nope") == (400, {"message": "the body must be a JSON object"})


@pytest.mark.parametrize(("name", "key"), [("Beach.Jpg", "Beach.jpg"), ("clip.Mov", "clip.mov"),
                                            ("CAT.PNG", "CAT.PNG"), ("cup.jpeg", "cup.jpeg")])
def test_an_upload_key_is_spelled_so_the_bucket_notifies_the_labellers(api, name, key):
    # S3's notification filters are case-sensitive (.jpg and .JPG only): "Beach.Jpg" would never be labelled.
    status, plan = call(api, "POST /api/uploads", body={"name": name, "size": 100})
    assert status == 200 and plan["key"] == key


def test_a_presigned_put_uploads_to_the_bucket(api):
    status, plan = call(api, "POST /api/uploads", body={"name": "new/dog.png", "size": 100, "type": "image/png"})
    assert status == 200 and plan["method"] == "PUT" and plan["headers"] == {"Content-Type": "image/png"}
    put = requests.put(plan["url"], data=photo(999), headers=plan["headers"], timeout=10)
    assert put.status_code == 200, put.text
    assert api.s3.get_object(Bucket=BUCKET, Key="new/dog.png")["Body"].read() == photo(999)


def test_a_multipart_upload_through_presigned_part_urls_completes(api):
    from web_api.uploads import plan_upload

    size = 11 * 1024 * 1024
    data = bytes(range(256)) * (size // 256)
    plan = plan_upload(api.api.S3, BUCKET, {"name": "films/big.mp4", "size": size}, expires_in=60,
                       single_put_bytes=1024, part_bytes=5 * 1024 * 1024)
    assert [part["number"] for part in plan["parts"]] == [1, 2, 3]
    etags = []
    for part in plan["parts"]:
        start = (part["number"] - 1) * plan["part_size"]
        put = requests.put(part["url"], data=data[start:start + plan["part_size"]], timeout=30)
        assert put.status_code == 200, put.text
        etags.append({"number": part["number"], "etag": put.headers["ETag"]})
    done = call(api, "POST /api/uploads/complete", body={"key": "films/big.mp4", "upload_id": plan["upload_id"], "parts": etags})
    stored = api.s3.get_object(Bucket=BUCKET, Key="films/big.mp4")
    assert done == (200, {"key": "films/big.mp4", "version_id": stored["VersionId"]})
    assert stored["Body"].read() == data


def test_a_large_film_is_planned_in_parts_and_can_be_aborted(api):
    status, plan = call(api, "POST /api/uploads", body={"name": "films/long.mov", "size": 200 * 1024 * 1024})
    assert status == 200 and plan["part_size"] == 64 * 1024 * 1024 and len(plan["parts"]) == 4
    assert call(api, "POST /api/uploads/abort", body={"key": "films/long.mov", "upload_id": plan["upload_id"]}) == (
        200, {"key": "films/long.mov"})
    assert api.s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert call(api, "POST /api/uploads/complete", body={"key": "films/long.mov", "upload_id": "x", "parts": []}) == (
        400, {"message": 'parts must be [{"number": 1, "etag": "..."}, ...]'})


def test_an_unexpected_failure_is_500_without_its_details(api, monkeypatch, caplog):
    monkeypatch.setattr(api.api, "TABLE", "no-such-table")
    assert call(api, "GET /api/labels") == (500, {"message": "internal error"})
    assert "ResourceNotFoundException" in caplog.text
