"""A backlog of films on the local AWS: Rekognition runs only two label-detection jobs at once here
(LocalAws(video_job_limit=2), the account's 20 on AWS), ten films are uploaded at once, so the
starter meets LimitExceededException and delays the refused starts on the queue (videoRetrySeconds
1: 1 s, 2 s, 4 s... instead of 60 s, 120 s...). Every film must still end LABELLED, once, with
nothing in either dead-letter queue and the counters exact."""

from __future__ import annotations

import pytest

import film_factory
from film_factory import CAMERAMAN, CAT, CUP, Shot
from film_stack import deploy_film_stack, retried_messages, upload_films_and_wait
from local_stack import DeployedStack, assert_label_index_consistent

JOB_LIMIT = 2
PAIRS = [(CAT, CUP), (CUP, CAT), (CAT, CAMERAMAN), (CAMERAMAN, CUP), (CUP, CUP),
         (CAT, CAT), (CAMERAMAN, CAT), (CUP, CAMERAMAN), ((CAT, CUP), CAT), (CAMERAMAN, CAMERAMAN)]
FILMS = {f"backlog/film-{number:02d}.mp4": [Shot.of(first, 1), Shot.of(second, 1)]
         for number, (first, second) in enumerate(PAIRS)}
# The label each photo surely gives (tests/test_films_local.py checks where it is in the film).
SURE_LABEL = {CAT: "cat", CUP: "cup", CAMERAMAN: "person"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with deploy_film_stack(tmp_path_factory, video_job_limit=JOB_LIMIT) as deployed:
        yield deployed


@pytest.fixture(scope="module")
def backlog(stack: DeployedStack):
    return upload_films_and_wait(stack, {key: film_factory.film(shots) for key, shots in FILMS.items()},
                                 timeout_s=300, threads=len(FILMS))


def shown(shots: list[Shot]) -> set[str]:
    return {SURE_LABEL[photo] for shot in shots for photo in shot.photos}


def test_every_film_of_the_backlog_ends_labelled_with_its_version_and_labels(stack: DeployedStack, backlog):
    seconds = {}
    for key, shots in FILMS.items():
        item = stack.image(key)
        assert item["Status"] == "LABELLED", (key, item.get("Status"), item.get("Error"))
        assert item["VersionId"] == backlog.versions[key]
        assert shown(shots) == set(item["LabelKeys"]) & set(SURE_LABEL.values()), (key, item["LabelKeys"])
        seconds[key] = round(backlog.seconds_to(item), 1)
    snapshot = assert_label_index_consistent(stack)
    for label in SURE_LABEL.values():
        assert snapshot.counters[label] == sum(label in shown(shots) for shots in FILMS.values()), label
    print("\nseconds from upload to LABELLED:", seconds)


def test_the_starter_met_the_job_limit_and_delayed_the_refused_starts(stack: DeployedStack, backlog):
    refused = retried_messages(stack, stack.starter_name)
    assert refused, "no start was refused: the backlog was never built"
    # botocore's modelled exception of Rekognition's answer, and nothing else was retried.
    assert {record.get("errorType") for record in refused} == {"LimitExceededException"}
    assert {record["retry_in_seconds"] for record in refused} >= {1}  # the first delay, videoRetrySeconds
    print(f"\nstarts refused: {len(refused)}, longest delay {max(r['retry_in_seconds'] for r in refused)} s")


def test_nothing_was_lost_or_left_in_a_dead_letter_queue(stack: DeployedStack, backlog):
    stats = backlog.poller
    # One S3 event and one job completion a film, each deleted once it was processed.
    assert stats["messages_deleted"] == 2 * len(FILMS), stats
    assert stack.film_dead_letter_depths() == {"FilmEventFailures": 0, "FilmCompletionFailures": 0}
    assert retried_messages(stack, stack.collector_name) == []  # every completion collected the first time
