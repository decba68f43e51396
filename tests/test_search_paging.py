"""search_library's `after` cursor: page after page over items the real labellers wrote, every hit
exactly once and in the order of one unpaged answer, ties at one confidence included."""

from __future__ import annotations

import pytest
from moto import mock_aws

from cli_film_harness import film
from cli_harness import TABLE, make_pipeline, sample
from label_table.reads import ReadStats
from label_table.search import search_library
from test_cli_search import fill


def photo(number: int) -> bytes:
    """A PNG the Rekognition stub does not know: labelled Photo 80.0, like every other such PNG."""
    return b"\x89PNG\r\n\x1a\n" + f"photo {number}".encode() * 8


@pytest.fixture(scope="module")
def library():
    with pytest.MonkeyPatch.context() as monkeypatch, mock_aws():
        pipeline = fill(make_pipeline(monkeypatch))
        for number in range(30):
            pipeline.put(f"photos/{number:02}.png", photo(number))  # 30 ties at 80.0
        pipeline.put("films/sunny.mp4", film(("Photo", 0, 2_000, 85.0), duration_ms=5_000))
        pipeline.put("films/dusk.mp4", film(("Photo", 1_000, 3_000, 75.5), duration_ms=5_000))
        for number in range(13):
            pipeline.put(f"bulk/cat-{number:02}.png", sample("cat-chelsea.png"))  # Cat 97.8, Pet 95.1
        yield pipeline


def pages(library, labels, *, limit, **options) -> list[list]:
    found, after = [], None
    while True:
        stats = ReadStats()
        page = search_library(library.dynamodb, TABLE, labels, limit=limit, after=after, stats=stats, **options)
        assert "Scan" not in stats.operations
        found.append(page)
        if len(page) < limit:
            return found
        after = (page[-1].confidence, page[-1].key)


def test_pages_of_one_label_give_every_hit_once_in_order_across_ties(library):
    everything = search_library(library.dynamodb, TABLE, ["photo"])
    assert len(everything) == 32
    found = pages(library, ["photo"], limit=7)
    assert [len(page) for page in found] == [7, 7, 7, 7, 4]
    assert [hit.key for page in found for hit in page] == [hit.key for hit in everything]
    assert found[0][0].key == "films/sunny.mp4" and found[-1][-1].key == "films/dusk.mp4"
    assert found[-1][-1].segments == [[1_000, 3_000]]


def test_a_page_cut_inside_a_tie_continues_with_the_next_key_of_that_tie(library):
    first = search_library(library.dynamodb, TABLE, ["photo"], limit=3)
    assert [(float(hit.confidence), hit.key) for hit in first] == [
        (85.0, "films/sunny.mp4"), (80.0, "photos/00.png"), (80.0, "photos/01.png")]
    second = search_library(library.dynamodb, TABLE, ["photo"], limit=2, after=(first[-1].confidence, first[-1].key))
    assert [hit.key for hit in second] == ["photos/02.png", "photos/03.png"]


def test_pages_of_several_labels_and_a_threshold(library):
    everything = search_library(library.dynamodb, TABLE, ["pet", "cat"])
    found = pages(library, ["pet", "cat"], limit=5)
    assert [len(page) for page in found] == [5, 5, 4]
    assert [hit.key for page in found for hit in page] == [hit.key for hit in everything]

    above = search_library(library.dynamodb, TABLE, ["photo"], min_confidence=76)
    found = pages(library, ["photo"], limit=10, min_confidence=76)
    assert [hit.key for page in found for hit in page] == [hit.key for hit in above] and len(above) == 31


def test_a_cursor_past_the_last_hit_gives_an_empty_page(library):
    last = search_library(library.dynamodb, TABLE, ["photo"])[-1]
    assert search_library(library.dynamodb, TABLE, ["photo"], limit=5, after=(last.confidence, last.key)) == []
