"""The bad-input corpus (tests/bad_input_corpus.py) through the deployed pipeline on the local AWS:
each key ends in its documented state, nothing reaches the failed-events queue, and no bad input
makes the function fail (Lambda would retry it: a crash loop)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from bad_input_corpus import ABSENT, DELETED, FAILED, LABELLED, Case, corpus
from local_stack import DeployedStack, assert_label_index_consistent, deployed_stack  # noqa: F401 (fixture)

CASES = corpus()
# The bucket notifies .jpg/.jpeg/.png in lower and upper case, as the stack declares.
NOTIFIED_SUFFIXES = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")


@pytest.fixture(scope="module")
def outcome(deployed_stack: DeployedStack):
    """Every case run at once (each key's steps in order), then the pipeline left to finish."""
    stack = deployed_stack
    before = stack.stats()
    invocations_before = len(stack.aws.invocations)

    def run(case: Case) -> str | None:
        version = None
        for step in case.steps:
            if step.action == "put":
                version = stack.put(case.key, step.body)
            else:
                stack.delete(case.key)
        return version

    with ThreadPoolExecutor(max_workers=8) as pool:
        versions = dict(zip((case.key for case in CASES), pool.map(run, CASES)))
    stack.wait_idle(300)
    after = stack.stats()
    return {
        "versions": versions,
        "stats": {name: after[name] - before.get(name, 0) for name in after if name not in ("queued", "in_flight")},
        "invocations": stack.aws.invocations[invocations_before:],
        "snapshot": assert_label_index_consistent(stack),
    }


@pytest.mark.parametrize("case", [pytest.param(case, id=case.name) for case in CASES])
def test_each_case_ends_in_its_documented_state(deployed_stack: DeployedStack, outcome, case: Case):
    stack = deployed_stack
    image = stack.image(case.key)
    entries = stack.label_entries(case.key)
    if case.status == ABSENT:
        assert image is None and entries == []
        return
    assert image is not None, f"{case.key!r}: no item at all (the event was lost)"
    assert image["Status"] == case.status, image.get("Error") or image
    assert image["Key"] == case.key
    if case.status == LABELLED:
        assert image["VersionId"] == outcome["versions"][case.key]
        names = {label["Name"] for label in image.get("Labels") or []}
        assert set(case.labels) <= names, names
        assert sorted(entry["LabelKey"] for entry in entries) == sorted(image.get("LabelKeys") or [])
        assert "Error" not in image
    elif case.status == FAILED:
        assert image["VersionId"] == outcome["versions"][case.key]
        assert image["Error"]["Code"] == case.error_code, image["Error"]
        assert image["Error"]["Message"]
        assert entries == [] and not image.get("Labels") and not image.get("LabelKeys")
    else:
        assert case.status == DELETED
        assert entries == [] and not image.get("Labels")
        assert image["ExpiresAt"] > 0


def test_no_event_failed_was_retried_or_captured(deployed_stack: DeployedStack, outcome):
    stats = outcome["stats"]
    # Every step of a notified key is one event: a delete in the versioned bucket always adds a
    # delete marker (even for a key that never existed) and S3 notifies ObjectRemoved:DeleteMarkerCreated.
    notified = sum(len(case.steps) for case in CASES if case.key.endswith(NOTIFIED_SUFFIXES))
    assert stats["submitted"] == notified, stats  # one event per upload or delete of a notified key
    assert stats["succeeded"] == notified and stats["retried"] == 0, stats
    assert stats["failed_to_destination"] == 0 and stats["dropped"] == 0, stats
    assert [entry for entry in outcome["invocations"] if entry["function_error"]] == []
    assert deployed_stack.queue_depth() == 0
