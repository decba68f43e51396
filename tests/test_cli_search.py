"""`search`, `show` and `labels` on items the real handler wrote: answers, order, formats, and
that they read the table through its keys and indexes only (no Scan)."""

from __future__ import annotations

import pytest
from moto import mock_aws

from cli_harness import BUCKET, REGION, make_pipeline, sample


def fill(pipeline):
    """Five images labelled by the real handler, one failed, one deleted."""
    pipeline.put("pets/chelsea.png", sample("cat-chelsea.png"))  # Cat 97.8, Animal 97.8, Pet 95.1
    pipeline.put("people/eileen.jpg", sample("astronaut-eileen-collins.jpg"))  # Person 99.1, Animal 71.0
    pipeline.put("people/cameraman.png", sample("cameraman.png"))  # Person 92.0, Tripod 94.0
    pipeline.put("launch/rocket.JPG", sample("rocket-launch.JPG"))  # Rocket 88.0, Person 72.5
    pipeline.put("kitchen/coffee cup.jpg", sample("coffee cup.jpg"))  # Cup 95.2, Beverage 90.1, Table 75.0
    pipeline.put("broken.png", b"this is not a png")
    pipeline.put("gone.png", sample("cat-chelsea.png"))
    pipeline.delete("gone.png")
    return pipeline


@pytest.fixture(scope="module")
def shared_library():
    with pytest.MonkeyPatch.context() as monkeypatch, mock_aws():
        yield fill(make_pipeline(monkeypatch))


@pytest.fixture
def library(shared_library):
    """The shared library, for tests that only read it."""
    shared_library.session_hooks.clear()
    yield shared_library
    shared_library.session_hooks.clear()


def operations_seen(pipeline):
    """Every DynamoDB operation the CLI's session sends."""
    seen = []
    pipeline.session_hooks.append(("before-call.dynamodb", lambda model, **kwargs: seen.append(model.name)))
    return seen


def test_search_lists_images_with_the_label_most_confident_first(library):
    seen = operations_seen(library)
    run = library.run("search", "person")
    assert run.code == 0, run.stderr
    assert run.stdout.splitlines() == [
        "KEY                   CONFIDENCE",
        "people/eileen.jpg     99.1",
        "people/cameraman.png  92.0",
        "launch/rocket.JPG     72.5",
    ]
    assert seen == ["Query"]


def test_search_is_case_and_space_insensitive_and_honours_limit_and_min_confidence(library):
    assert library.run("search", "  PERSON ", "--limit", "2").stdout.splitlines()[1:] == [
        "people/eileen.jpg     99.1", "people/cameraman.png  92.0"]
    assert library.run("search", "Person", "--min-confidence", "90", "--json").json() == [
        {"key": "people/eileen.jpg", "bucket": BUCKET, "media": "image", "confidence": 99.1, "labels": {"Person": 99.1}},
        {"key": "people/cameraman.png", "bucket": BUCKET, "media": "image", "confidence": 92.0, "labels": {"Person": 92.0}},
    ]


def test_several_labels_give_images_carrying_all_ranked_by_the_weakest(library):
    run = library.run("search", "animal", "person")
    assert run.stdout.splitlines() == ["KEY                CONFIDENCE  LABELS", "people/eileen.jpg  71.0        Animal 71.0, Person 99.1"]
    assert library.run("search", "person", "animal").stdout.splitlines()[1] == "people/eileen.jpg  71.0        Person 99.1, Animal 71.0"
    both = library.run("search", "person", "tripod", "--json").json()
    assert [(hit["key"], hit["confidence"]) for hit in both] == [("people/cameraman.png", 92.0)]
    assert library.run("search", "person", "animal", "--min-confidence", "80", "--json").json() == []


def test_several_labels_query_only_the_rarest_and_read_the_others_by_key(library):
    seen = []
    library.session_hooks.append(("provide-client-params.dynamodb.Query",
                                  lambda params, **kwargs: seen.append(params["ExpressionAttributeValues"][":label"]["S"])))
    run = library.run("search", "person", "tripod")  # Person: 3 images, Tripod: 1
    assert run.code == 0
    assert seen == ["tripod"]


def test_an_unknown_label_finds_nothing_and_says_so(library):
    run = library.run("search", "unicorn")
    assert (run.code, run.stdout) == (0, "")
    assert run.stderr.strip() == "no image is labelled 'unicorn'"
    assert library.run("search", "cats").stderr.strip() == "no image is labelled 'cats' (did you mean Cat?)"
    # Of several labels, only the unknown one is named: the known one is not why nothing matched.
    assert library.run("search", "cat", "tripods").stderr.strip() == "no image is labelled 'tripods' (did you mean Tripod?)"
    assert (library.run("search", "cats", "unicorn").stderr.strip()
            == "no image is labelled 'cats' (did you mean Cat?); no image is labelled 'unicorn'")
    # Both labels exist, just never on the same image: no suggestion.
    assert library.run("search", "cup", "tripod").stderr.strip() == "no image carries 'cup' and 'tripod'"
    # The label exists, but not this confident.
    assert library.run("search", "cat", "--min-confidence", "99.5").stderr.strip() == "no image carries 'cat' at 99.5 % or more"
    # An unknown label is named even with a confidence asked for: no confidence would find it.
    assert library.run("search", "unicorn", "--min-confidence", "50").stderr.strip() == "no image is labelled 'unicorn'"
    assert library.run("search", "unicorn", "cat", "--json").json() == []


def test_show_prints_the_labels_of_one_image(library):
    run = library.run("show", "pets/chelsea.png")
    assert run.code == 0
    lines = run.stdout.splitlines()
    assert lines[0].startswith("pets/chelsea.png  LABELLED  (")
    assert lines[1:] == [
        "LABEL   CONFIDENCE  PARENTS      BOXES",
        "Cat     97.8        Animal, Pet  1",
        "Animal  97.8                     0",
        "Pet     95.1        Animal       0",
    ]


def test_show_json_carries_every_detail_of_the_item(library):
    shown = library.run("show", "pets/chelsea.png", "--json").json()
    assert shown["status"] == "LABELLED" and shown["bucket"] == BUCKET and shown["key"] == "pets/chelsea.png"
    assert shown["version_id"] and shown["etag"] and shown["size"] == len(sample("cat-chelsea.png"))
    assert shown["labels"][0] == {
        "name": "Cat", "confidence": 97.8, "parents": ["Animal", "Pet"], "categories": [], "aliases": [],
        "instances": [{"BoundingBox": {"Width": 0.5, "Height": 0.5, "Left": 0.1, "Top": 0.1}, "Confidence": 97.8}],
    }
    assert "error" not in shown


def test_show_gives_the_reason_an_image_could_not_be_labelled(library):
    run = library.run("show", "broken.png")
    assert run.code == 0
    assert run.stdout.splitlines()[1] == "could not be labelled: InvalidImageFormatException: Request has unsupported image format"
    assert library.run("show", "broken.png", "--json").json()["error"] == {
        "code": "InvalidImageFormatException", "message": "Request has unsupported image format"}


def test_show_of_a_deleted_image(library):
    run = library.run("show", "gone.png")
    assert run.stdout.splitlines()[1] == "deleted from the bucket: no labels"


def test_labels_lists_every_label_with_its_image_count_from_the_counters(library):
    seen = operations_seen(library)
    run = library.run("labels")
    assert run.code == 0
    assert run.stdout.splitlines() == [
        "LABEL     OBJECTS",
        "Person    3",
        "Animal    2",
        "Beverage  1",
        "Cat       1",  # gone.png was deleted: its Cat no longer counts
        "Cup       1",
        "Pet       1",
        "Rocket    1",
        "Table     1",
        "Tripod    1",
    ]
    assert "Scan" not in seen and "Query" in seen
    assert library.run("labels", "--json").json()[:2] == [{"label": "Person", "objects": 3}, {"label": "Animal", "objects": 2}]


def test_region_without_the_stack_says_where_it_looked(library):
    stdout = library.run("--region", "us-west-2", "labels")
    assert stdout.code == 1
    assert stdout.stderr.strip() == (
        "imagelabels: stack 'ImageLabels-test' not found in AWS, Region us-west-2: deploy it (make deploy), "
        "or pass --stack / --stage / --region"
    )
    assert REGION != "us-west-2"
