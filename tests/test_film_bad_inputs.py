"""The film bad-input corpus (tests/film_bad_input_corpus.py) through the deployed film pipeline on
the local AWS: each film ends in its documented state, nothing reaches either dead-letter queue,
and no film makes the starter or the collector fail (its message would come back again and again
until the DLQ: a retry loop for something no retry can fix)."""

from __future__ import annotations

import pytest

from film_bad_input_corpus import FAILED, LABELLED, FilmCase, corpus
from film_stack import deploy_film_stack, upload_films_and_wait
from local_stack import DeployedStack, assert_label_index_consistent

CASES = corpus()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with deploy_film_stack(tmp_path_factory) as deployed:
        yield deployed


@pytest.fixture(scope="module")
def outcome(stack: DeployedStack):
    """Every case uploaded at once, then the pipeline left to finish; the table checked."""
    uploads = upload_films_and_wait(stack, {case.key: case.body() for case in CASES})
    assert_label_index_consistent(stack)
    return uploads


@pytest.mark.parametrize("case", [pytest.param(case, id=case.name) for case in CASES])
def test_each_film_ends_in_its_documented_state(stack: DeployedStack, outcome, case: FilmCase):
    item = stack.image(case.key)
    assert item is not None, f"{case.key!r}: no item at all (the event was lost)"
    assert (item["Status"], item["Media"]) == (case.status, "video"), item.get("Error") or item
    assert item["VersionId"] == outcome.versions[case.key] and item["JobId"]
    entries = stack.label_entries(case.key)
    if case.status == FAILED:
        assert item["Error"] == {"Code": case.error_code, "Message": case.status_message}
        assert entries == [] and not item.get("LabelKeys")
    else:
        assert case.status == LABELLED and "Error" not in item
        assert item["DurationMillis"] == case.duration_ms
        found = {entry["Label"]: [(int(start), int(end)) for start, end in entry["Segments"]] for entry in entries}
        assert {label: found.get(label) for label in case.segments} == case.segments, found
        assert len(found) <= case.max_labels and item["LabelCount"] == len(found), found
        assert item["LabelKeys"] == sorted(entry["LabelKey"] for entry in entries)


def test_nothing_was_retried_or_left_in_a_dead_letter_queue(stack: DeployedStack, outcome):
    stats = outcome.poller
    # One S3 event a film for the starter, one job completion a film for the collector: each
    # processed once, first time, and deleted.
    assert stats["failed"] == 0 and stats["partially_failed"] == 0, stats
    assert stats["messages_deleted"] == 2 * len(CASES), stats
    assert stack.film_dead_letter_depths() == {"FilmEventFailures": 0, "FilmCompletionFailures": 0}
    invoked = [entry for entry in stack.aws.invocations if entry["function"] in (stack.starter_name, stack.collector_name)]
    assert [entry for entry in invoked if entry["function_error"]] == []
    for function_name in (stack.starter_name, stack.collector_name):
        assert [record for record in stack.log_records(function_name) if record.get("level") == "ERROR"] == []
    print("\nseconds from upload to the final state:",
          {case.key: round(outcome.seconds_to(stack.image(case.key)), 1) for case in CASES})
