"""`search`, `show` and `labels` in situations that change the library: many pages, objects the
table does not describe, a deleted table, an empty library, a film labelled again."""

from __future__ import annotations

import pytest
from moto import mock_aws

from cli_film_harness import film
from cli_harness import TABLE, make_pipeline, sample
from label_table.reads import ReadStats
from label_table.search import search_library
from test_cli_search import fill


@pytest.fixture
def own_library(monkeypatch):
    with mock_aws():
        yield fill(make_pipeline(monkeypatch))


def test_search_pages_through_the_index_beyond_one_page(own_library):
    for n in range(14):
        own_library.put(f"bulk/cat-{n:02}.png", sample("cat-chelsea.png"))
    stats = ReadStats()
    hits = search_library(own_library.dynamodb, TABLE, ["cat"], page_size=4, stats=stats)
    assert len(hits) == 15 and len({hit.key for hit in hits}) == 15
    assert stats.query_pages == 4 and stats.operations == ["Query"]

    stats = ReadStats()
    both = search_library(own_library.dynamodb, TABLE, ["pet", "cat"], page_size=4, limit=5, stats=stats)
    assert len(both) == 5
    assert "Scan" not in stats.operations


def test_show_of_an_unknown_key_says_whether_the_object_exists(own_library):
    library = own_library
    run = library.run("show", "nowhere.png")
    assert run.code == 1
    assert run.stderr.strip() == "imagelabels: no image 'nowhere.png': not in the bucket and not in the label table (keys are case-sensitive)"

    library.put("old/before-the-stack.png", sample("cat-chelsea.png"), notify="off")
    run = library.run("show", "old/before-the-stack.png")
    assert run.code == 1
    assert "is in the bucket but not labelled yet" in run.stderr and "imagelabels backfill 'old/before-the-stack.png'" in run.stderr


def test_labels_of_an_empty_library(monkeypatch):
    with mock_aws():
        pipeline = make_pipeline(monkeypatch)
        run = pipeline.run("labels")
        assert (run.code, run.stdout, run.stderr.strip()) == (0, "", "nothing labelled yet")
        assert pipeline.run("labels", "--json").json() == []


def test_a_table_that_no_longer_exists_is_one_clear_line(own_library):
    library = own_library
    library.dynamodb.delete_table(TableName=TABLE)
    run = library.run("search", "cat")
    assert run.code == 1
    assert run.stderr.startswith("imagelabels: Query failed: ResourceNotFoundException")
    assert len(run.stderr.strip().splitlines()) == 1


@pytest.fixture
def pipeline(monkeypatch):
    with mock_aws():
        yield make_pipeline(monkeypatch)


def test_a_reupload_being_labelled_hides_the_old_versions_labels_until_it_is_done(pipeline):
    pipeline.put("films/scene.mp4", film(("Car", 0, 5_000, 96.0)))
    assert [hit["key"] for hit in pipeline.run("search", "car", "--json").json()] == ["films/scene.mp4"]

    pipeline.films.auto = False
    pipeline.put("films/scene.mp4", film(("Horse", 1_000, 2_000, 88.0)))  # a new version: its job is running
    pipeline.films.drain(completions=False)

    assert pipeline.run("search", "car", "--json").json() == []  # v1's entries are still in the table
    run = pipeline.run("show", "films/scene.mp4")
    assert run.stdout.splitlines()[0].startswith("films/scene.mp4  PROCESSING  (")
    assert run.stdout.splitlines()[1].startswith("being labelled (Rekognition Video job job-2)")
    assert pipeline.run("show", "films/scene.mp4", "--json").json()["labels"] == []

    pipeline.films.drain()

    assert pipeline.run("search", "car", "--json").json() == []
    [horse] = pipeline.run("search", "horse", "--json").json()
    assert (horse["key"], horse["segments"]) == ("films/scene.mp4", [{"start_ms": 1_000, "end_ms": 2_000}])
