"""DynamoDB: what the local AWS changes about transactions under concurrent requests.

moto's DynamoDB backend has no lock and rolls a cancelled transaction back by restoring whole
tables; here item reads and writes are serialised and a cancelled transaction restores only the
items it touched.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models.table import Table as DynamoDBTable

from local_aws.adjust.registry import ORIGINALS, keep_original, locked_by


# moto's threaded server answers requests concurrently; one lock serialises its DynamoDB backend
# (re-entrant: a transaction calls put_item/update_item/get_item itself).
_dynamodb_lock = threading.RLock()
_dynamodb_transaction = threading.local()

# The backend methods that read or write items (KeyError at apply time if moto renamed one).
_DYNAMODB_LOCKED_METHODS = (
    "put_item", "update_item", "delete_item", "get_item", "query", "scan", "describe_table",
    "batch_get_item", "batch_write_item", "transact_get_items",
)


class _CopyKeepingLiveTables:
    """Stands in for the `copy` module inside moto's DynamoDB models.

    Within an adjusted transaction a Table is "copied" as itself, so moto's whole-table backup
    costs nothing (the adjustment keeps its own backup of the touched items instead); every other
    copy (update_item copies the one item it updates) is a real deep copy.
    """

    @staticmethod
    def deepcopy(value: Any, memo: dict | None = None) -> Any:
        if isinstance(value, DynamoDBTable) and getattr(_dynamodb_transaction, "active", False):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def make_dynamodb_transactions_safe_for_concurrent_writers() -> None:
    """TransactWriteItems is atomic and isolated, and never undoes another request's writes.

    moto's server answers requests from several threads at once, but its DynamoDB backend has no
    lock, and `transact_write_items` (a) deep-copies every table it touches before each
    transaction (0.6 s for a 6,000-item table: a load of 1,000 uploads, each labelled in one
    transaction, becomes quadratic), (b) copies while other threads write, which fails as HTTP 500
    "dictionary changed size during iteration", and (c) rolls a cancelled transaction back by
    putting that whole copy back, erasing what other requests wrote meanwhile. The labeller's
    transactions are cancelled on purpose (its conditions reject stale or duplicate events), so
    under concurrent uploads (`make demo`, the load test) labels and counters would silently go
    missing, which is exactly what the pipeline must never do.

    Instead one lock serialises the backend's item reads and writes (DynamoDB gives each request
    that isolation), the whole-table backup is skipped, and a cancelled transaction restores only
    the items it touched, from copies taken before it ran.
    """
    backend_class = dynamodb_models.DynamoDBBackend
    for name in _DYNAMODB_LOCKED_METHODS + ("transact_write_items",):
        keep_original(f"DynamoDBBackend.{name}", backend_class.__dict__[name])
    keep_original("dynamodb models copy", dynamodb_models.copy)
    original_transact = ORIGINALS["DynamoDBBackend.transact_write_items"]

    def transact_write_items(self, transact_items):
        with _dynamodb_lock:
            touched = _dynamodb_items_before(self, transact_items)
            _dynamodb_transaction.active = True
            try:
                return original_transact(self, transact_items)
            except Exception:
                for table, hash_value, range_value, before in touched:
                    _restore_dynamodb_item(table, hash_value, range_value, before)
                raise
            finally:
                _dynamodb_transaction.active = False

    for name in _DYNAMODB_LOCKED_METHODS:
        setattr(backend_class, name, locked_by(_dynamodb_lock, ORIGINALS[f"DynamoDBBackend.{name}"]))
    backend_class.transact_write_items = transact_write_items
    dynamodb_models.copy = _CopyKeepingLiveTables()


def _dynamodb_items_before(backend, transact_items: list[dict]) -> list[tuple]:
    """(table, hash key, range key, deep copy of the item or None) for each item a transaction names."""
    touched = []
    for entry in transact_items:
        try:
            operation = next(iter(entry.values()))
            table = backend.tables.get(operation.get("TableName"))
            if table is None:
                continue
            if "Item" in operation:
                attributes = operation["Item"]
                key = {table.hash_key_attr: attributes[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attributes[table.range_key_attr]
            else:
                key = operation["Key"]
            hash_value, range_value = backend.get_keys_value(table, key)
            touched.append((table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))))
        except Exception:  # a malformed request: moto's own validation answers it
            continue
    return touched


def _restore_dynamodb_item(table, hash_value, range_value, before) -> None:
    if table.range_key_attr is not None:
        if before is None:
            table.items.get(hash_value, {}).pop(range_value, None)
        else:
            table.items[hash_value][range_value] = before
    elif before is None:
        table.items.pop(hash_value, None)
    else:
        table.items[hash_value] = before
