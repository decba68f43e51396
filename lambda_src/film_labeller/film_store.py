"""The film item and its label entries in the label table, and the transactions that change them.

Layout: label_table.layout (the same table as images):
- film item:   ImageId=<key>  Entry="IMAGE"              Media="video", Status, JobId, LabelKeys...
- label entry: ImageId=<key>  Entry="LABEL#<label key>"  Media="video", VersionId, JobId, Segments...
- counter:     ImageId="LABEL#<label key>"  Entry="COUNT"  ImageCount: one per object with the label

A film's labels do not fit one transaction (hundreds of labels, 100 parts at most), so they are
written in several, and two rules keep the table exact whatever interleaves:
- every transaction carries a ConditionCheck on the film item (a collector's writes: its job is
  still the one PROCESSING; a sweep: the film is still in the state that swept), so nothing is
  written for a film that has moved on;
- an entry exists <=> it is counted: a new entry's Put and its counter +1, an entry's Delete and
  its counter -1, are in the same transaction, each conditional on what the entry was when read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from image_labeller.label_store import WriteContention, counter_change, write_transaction
from label_table.attribute_values import plain, wire
from label_table.layout import LABEL_ENTRY_PREFIX, STATUS_PROCESSING, image_key, label_entry_key

# TransactWriteItems takes at most 100 parts; one of them is the ConditionCheck on the film item.
MAX_TRANSACTION_PARTS = 100

_CONDITION_FAILED = "ConditionalCheckFailed"


@dataclass(frozen=True, kw_only=True)
class StoredEntry:
    """What a label entry of a film was when read: enough to condition a change on it."""

    label_key: str
    label: str
    job_id: str | None
    version_id: str | None


@dataclass(frozen=True, kw_only=True)
class Condition:
    expression: str
    values: dict
    names: dict | None = None

    def fields(self) -> dict:
        fields = {"ConditionExpression": self.expression}
        if self.values:
            fields["ExpressionAttributeValues"] = self.values
        if self.names:
            fields["ExpressionAttributeNames"] = self.names
        return fields


def unchanged_since(sequencer: str | None) -> Condition:
    """The starter's write: the film item is still what it read (or still absent)."""
    if sequencer is None:
        return Condition(expression="attribute_not_exists(ImageId)", values={})
    return Condition(expression="Sequencer = :read_sequencer", values={":read_sequencer": sequencer})


def job_processing(job_id: str) -> Condition:
    """The collector's writes: its job is the film's job and still being collected."""
    return Condition(
        expression="JobId = :job AND #status = :processing",
        values={":job": job_id, ":processing": STATUS_PROCESSING},
        names={"#status": "Status"},
    )


def film_in_state(sequencer: str, status: str) -> Condition:
    """A sweep after a terminal transition: the film item is still that transition's."""
    return Condition(
        expression="Sequencer = :sequencer AND #status = :status",
        values={":sequencer": sequencer, ":status": status},
        names={"#status": "Status"},
    )


def entry_as_read(entry: StoredEntry | None) -> Condition:
    """A change to an entry: it is still the one read (absent, or written by that job)."""
    if entry is None:
        return Condition(expression="attribute_not_exists(Entry)", values={})
    if entry.job_id is None:
        return Condition(expression="attribute_exists(Entry) AND attribute_not_exists(JobId)", values={})
    return Condition(expression="JobId = :read_job", values={":read_job": entry.job_id})


def film_check(table_name: str, key: str, condition: Condition) -> dict:
    return {"ConditionCheck": {"TableName": table_name, "Key": image_key(key), **condition.fields()}}


def entry_write_parts(table_name: str, entry_item: dict, existing: StoredEntry | None) -> list[dict]:
    """Put one entry in place; a new entry is counted in the same transaction."""
    parts = [{"Put": {"TableName": table_name, "Item": entry_item, **entry_as_read(existing).fields()}}]
    if existing is None:
        parts.append(counter_change(table_name, entry_item["LabelKey"], entry_item["Label"], +1))
    return parts


def entry_delete_parts(table_name: str, key: str, entry: StoredEntry) -> list[dict]:
    return [
        {"Delete": {"TableName": table_name, "Key": label_entry_key(key, entry.label_key), **entry_as_read(entry).fields()}},
        counter_change(table_name, entry.label_key, entry.label, -1),
    ]


def chunked(groups: list[list[dict]], guard: dict) -> list[tuple[int, list[dict]]]:
    """Transactions of at most 100 parts, each the guard then whole groups (an entry and its
    counter never end up in different transactions), with how many groups each holds."""
    transactions: list[tuple[int, list[dict]]] = []
    count, current = 0, [guard]
    for group in groups:
        if len(current) + len(group) > MAX_TRANSACTION_PARTS:
            transactions.append((count, current))
            count, current = 0, [guard]
        current.extend(group)
        count += 1
    if count:
        transactions.append((count, current))
    return transactions


class FilmChanged(Exception):
    """The film item's guard failed: another event or job owns the film now."""


class FilmStore:
    """Reads and writes films through a low-level DynamoDB client."""

    def __init__(self, client, table_name: str, *, conflict_attempts: int = 6, reread_attempts: int = 5) -> None:
        self._client = client
        self.table_name = table_name
        self._conflict_attempts = conflict_attempts
        self._reread_attempts = reread_attempts

    def film(self, key: str) -> dict | None:
        item = self._client.get_item(TableName=self.table_name, Key=wire(image_key(key)), ConsistentRead=True).get("Item")
        return plain(item) if item else None

    def put_film(self, item: dict, condition: Condition) -> bool:
        """One conditional put of the film item; False when the condition failed."""
        request = {"TableName": self.table_name, "Item": wire(item), **condition.fields()}
        if "ExpressionAttributeValues" in request:
            request["ExpressionAttributeValues"] = wire(request["ExpressionAttributeValues"])
        try:
            self._client.put_item(**request)
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def entries(self, key: str) -> dict[str, StoredEntry]:
        """Every label entry of the film, by label key: one consistent Query of its partition."""
        entries: dict[str, StoredEntry] = {}
        request = {
            "TableName": self.table_name,
            "KeyConditionExpression": "ImageId = :key AND begins_with(#entry, :prefix)",
            "ExpressionAttributeNames": {"#entry": "Entry", "#label": "Label"},
            "ExpressionAttributeValues": wire({":key": key, ":prefix": LABEL_ENTRY_PREFIX}),
            "ProjectionExpression": "#entry, LabelKey, #label, JobId, VersionId",
            "ConsistentRead": True,
        }
        while True:
            response = self._client.query(**request)
            for raw in response.get("Items") or []:
                item = plain(raw)
                label_key = item.get("LabelKey") or item["Entry"][len(LABEL_ENTRY_PREFIX):]
                entries[label_key] = StoredEntry(
                    label_key=label_key,
                    label=item.get("Label") or label_key,
                    job_id=item.get("JobId"),
                    version_id=item.get("VersionId"),
                )
            if not response.get("LastEvaluatedKey"):
                return entries
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def write_entries(self, key: str, job_id: str, entry_items: list[dict], existing: dict[str, StoredEntry]) -> None:
        """Puts the entries of `job_id` in place, in as many transactions as they need, and
        keeps `existing` (read once per invocation) up to date. FilmChanged when the job is no
        longer the film's PROCESSING one."""
        guard = film_check(self.table_name, key, job_processing(job_id))
        pending = list(entry_items)
        rereads = 0
        while pending:
            groups = [entry_write_parts(self.table_name, item, existing.get(item["LabelKey"])) for item in pending]
            count, transaction = chunked(groups, guard)[0]
            written = pending[:count]
            reasons = write_transaction(self._client, transaction, attempts=self._conflict_attempts, subject=key)
            if reasons is None:
                for item in written:
                    existing[item["LabelKey"]] = StoredEntry(
                        label_key=item["LabelKey"], label=item["Label"], job_id=job_id, version_id=item.get("VersionId")
                    )
                pending = pending[len(written):]
                continue
            if reasons[0] == _CONDITION_FAILED:
                raise FilmChanged(f"{key!r}: job {job_id} is no longer the film's job in progress")
            # An entry is not what the Query said: a duplicate delivery of this job wrote it.
            rereads += 1
            if rereads > self._reread_attempts:
                raise WriteContention(f"{key!r}: label entries kept changing under job {job_id}")
            existing.clear()
            existing.update(self.entries(key))

    def sweep(self, key: str, *, state: Condition, keep: Callable[[StoredEntry], bool]) -> bool:
        """Deletes (with their counters) the film's entries that `keep` rejects, while the film
        item meets `state`. False when it stopped meeting it (the newer state sweeps instead)."""
        guard = film_check(self.table_name, key, state)
        for _ in range(self._reread_attempts + 1):
            doomed = [entry for _, entry in sorted(self.entries(key).items()) if not keep(entry)]
            groups = [entry_delete_parts(self.table_name, key, entry) for entry in doomed]
            for _, transaction in chunked(groups, guard):
                reasons = write_transaction(self._client, transaction, attempts=self._conflict_attempts, subject=key)
                if reasons is None:
                    continue
                if reasons[0] == _CONDITION_FAILED:
                    return False
                break  # an entry changed since the Query: read again
            else:
                return True
        raise WriteContention(f"{key!r}: label entries kept changing during the sweep")
