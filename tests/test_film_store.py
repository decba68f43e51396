"""The film store's transactions against moto's DynamoDB: chunks of at most 100 parts, each
guarded by the film item; an entry exists exactly when it is counted, whatever interleaves."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from film_table import assert_table_invariants, counts, entries, entry_item, film, seed_labelled
from label_table_in_moto import TABLE_NAME, create_label_table

KEY, BUCKET, SEQ = "films/store.mp4", "bucket", "0066AED6DCD900000020"


@pytest.fixture
def store():
    with mock_aws():
        create_label_table(boto3.resource("dynamodb"))
        from film_labeller.film_store import FilmStore

        yield FilmStore(boto3.client("dynamodb"), TABLE_NAME)


@pytest.fixture
def table(store):
    return boto3.resource("dynamodb").Table(TABLE_NAME)


def processing(store, job_id="job-2", previous_sequencer=None, sequencer=SEQ):
    from film_labeller.film_store import unchanged_since

    item = {"ImageId": KEY, "Entry": "IMAGE", "Media": "video", "Bucket": BUCKET, "Key": KEY, "Status": "PROCESSING",
            "VersionId": "v2", "Sequencer": sequencer, "JobId": job_id}
    assert store.put_film(item, unchanged_since(previous_sequencer))


def items(job_id, *names):
    return [entry_item(KEY, BUCKET, "v2", job_id, name) for name in names]


def test_transactions_hold_at_most_100_parts_the_guard_first_and_each_entry_with_its_counter():
    from film_labeller.film_store import chunked

    groups = [[{"Put": n}, {"Update": n}] if n % 3 else [{"Put": n}] for n in range(250)]
    transactions = chunked(groups, {"ConditionCheck": "film"})
    assert all(len(parts) <= 100 and parts[0] == {"ConditionCheck": "film"} for _, parts in transactions)
    assert sum(count for count, _ in transactions) == 250
    flat = [part for _, parts in transactions for part in parts[1:]]
    assert flat == [part for group in groups for part in group]  # no group split across transactions
    assert chunked([], {"ConditionCheck": "film"}) == []


def test_writes_for_a_job_that_is_no_longer_the_films_change_nothing(store, table):
    from film_labeller.film_store import FilmChanged

    processing(store, job_id="job-3")
    with pytest.raises(FilmChanged):
        store.write_entries(KEY, "job-2", items("job-2", "Car", "Dog"), {})
    assert entries(table, KEY) == {} and counts(table) == {}


def test_a_duplicate_collector_that_wrote_first_is_overwritten_not_counted_twice(store, table):
    processing(store)
    store.write_entries(KEY, "job-2", items("job-2", "Car"), store.entries(KEY))

    stale_view = {}  # this collector's Query ran before the other one wrote
    store.write_entries(KEY, "job-2", items("job-2", "Car", "Dog"), stale_view)

    assert set(entries(table, KEY)) == {"car", "dog"} and counts(table) == {"car": 1, "dog": 1}
    assert {key: entry.job_id for key, entry in stale_view.items()} == {"car": "job-2", "dog": "job-2"}


class ConflictingOnce:
    """A DynamoDB client whose first transaction meets another on the same label counter."""

    def __init__(self, client):
        self._client, self.attempts = client, 0

    def transact_write_items(self, **request):
        self.attempts += 1
        if self.attempts == 1:
            raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                               "CancellationReasons": [{"Code": "None"}, {"Code": "None"},
                                                       {"Code": "TransactionConflict"}]}, "TransactWriteItems")
        return self._client.transact_write_items(**request)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_a_transaction_conflict_is_retried_and_written_once(store, table):
    from film_labeller.film_store import FilmStore

    processing(store)
    client = ConflictingOnce(boto3.client("dynamodb"))
    FilmStore(client, TABLE_NAME).write_entries(KEY, "job-2", items("job-2", "Car"), {})
    assert client.attempts == 2 and counts(table) == {"car": 1}


def test_the_sweep_keeps_this_jobs_entries_and_uncounts_the_rest(store, table):
    from film_labeller.film_store import film_in_state, job_processing

    seed_labelled(store, key=KEY, bucket=BUCKET, version_id="v1", job_id="job-1", sequencer="01",
                  labels=["Car", "Road", "Sky"])
    processing(store, previous_sequencer="01")
    store.write_entries(KEY, "job-2", items("job-2", "Car", "Tree"), store.entries(KEY))
    labelled = {**film(table, KEY), "Status": "LABELLED", "LabelKeys": ["car", "tree"], "LabelCount": 2}
    assert store.put_film(labelled, job_processing("job-2"))

    assert store.sweep(KEY, state=film_in_state(SEQ, "LABELLED"), keep=lambda entry: entry.job_id == "job-2")

    assert set(entries(table, KEY)) == {"car", "tree"}
    assert counts(table) == {"car": 1, "road": 0, "sky": 0, "tree": 1}
    assert_table_invariants(table)


def test_a_sweep_for_a_state_the_film_has_left_deletes_nothing(store, table):
    from film_labeller.film_store import film_in_state

    seed_labelled(store, key=KEY, bucket=BUCKET, version_id="v1", job_id="job-1", sequencer="01", labels=["Car"])
    # A delete was recorded at sequencer 02, but a newer upload (03) took over before the sweep.
    processing(store, job_id="job-3", previous_sequencer="01", sequencer="03")

    assert store.sweep(KEY, state=film_in_state("02", "DELETED"), keep=lambda entry: False) is False
    assert set(entries(table, KEY)) == {"car"} and counts(table) == {"car": 1}
