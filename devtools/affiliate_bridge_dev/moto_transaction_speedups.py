"""One narrow patch to moto: a DynamoDB transaction backs up the items it writes, not
the tables they are in.

The cause (moto 5.2.x, ``DynamoDBBackend.transact_write_items`` in
``moto/dynamodb/models/__init__.py``): before it writes anything, a
``TransactWriteItems`` takes ``copy.deepcopy`` of the whole table for each of its
operations, so that a cancelled transaction can put the tables back. One transaction
therefore costs O(items in the table), times its operations. Measured in-process, a
two-operation transaction took 5 ms on a table of 10 items, 45 ms at 500 and 167 ms at
2,000. The webhook learns a customer id by email and parks an unreferred sale in a
transaction, so a burst of first sales by email on `make run` fell to 21 accepted per
second once the table held a few hundred referrals and ledger entries.

The patch: while moto's own ``transact_write_items`` runs, its backup copy of a table
is the table itself, and the patch backs up instead each item the transaction names
(its key, a deep copy of the stored item or nothing), before moto runs. When moto's
transaction raises (cancelled, or refused as a whole), moto's own rollback is then a
no-op, and the patch puts back exactly those items, or removes those that did not exist.
Every check, every write, every error and its order stay moto's. A transaction can only
write the items it names, and ``moto_speedups`` runs each DynamoDB request under one lock,
so nothing else can have changed them in between. A table with a stream is backed up
whole, as moto does (its stream records would otherwise outlive a rollback); none of the
template's tables has one.

``tests/unit/devtools/test_moto_transaction_speedups.py`` checks that random
transactions leave the same tables and answers with and without the patch.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable
from typing import Any

from affiliate_bridge_dev.moto_patching import install

_backing_up = threading.local()


class _CopyKeepingTables:
    """Stands in for the ``copy`` module inside moto's DynamoDB models."""

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        if isinstance(value, self._table_type) and getattr(_backing_up, "by_item", False):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _named_key(backend: Any, operation: Any) -> tuple[Any, Any, Any] | None:
    """The table, hash value and range value an operation of a transaction writes to, as
    moto keys its items; None for anything unusual (an unknown table, a key missing or
    malformed, a table with a stream), which then gets moto's own whole-table backup."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    try:
        (kind, body), *others = operation.items()
        table = backend.tables.get(body.get("TableName"))
        attributes = body.get("Item") if kind == "Put" else body.get("Key")
        if others or table is None or table.stream_shard is not None:
            return None
        hash_value = DynamoType(attributes[table.hash_key_attr])
        range_value = DynamoType(attributes[table.range_key_attr]) if table.range_key_attr else None
    except Exception:
        return None
    return table, hash_value, range_value


def _stored(table: Any, hash_value: Any, range_value: Any) -> Any:
    if range_value is None:
        return table.items.get(hash_value)
    return table.items.get(hash_value, {}).get(range_value)


def _put_back(table: Any, hash_value: Any, range_value: Any, item: Any) -> None:
    if range_value is None:
        if item is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = item
        return
    if item is not None:
        table.items[hash_value][range_value] = item
    else:
        table.items.get(hash_value, {}).pop(range_value, None)


def _backups(named: list[Any]) -> dict[tuple[int, Any, Any], tuple[Any, Any, Any, Any]] | None:
    """A copy of each item the transaction names, or nothing stored there; None when a
    key cannot address an item at all (a map, list or set as a key: moto cancels the
    transaction for it, after its own whole-table backup)."""
    backups: dict[tuple[int, Any, Any], tuple[Any, Any, Any, Any]] = {}
    try:
        for table, hash_value, range_value in named:
            backups.setdefault(
                (id(table), hash_value, range_value),
                (table, hash_value, range_value, copy.deepcopy(_stored(table, hash_value, range_value))),
            )
    except TypeError:  # unhashable: not a key DynamoDB or moto can store an item under
        return None
    return backups


def _items_backed_up(original: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(original)
    def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
        named = [_named_key(backend, operation) for operation in transact_items]
        backups = _backups(named) if named and None not in named else None
        if backups is None:  # moto's own whole-table backup
            original(backend, transact_items)
            return
        _backing_up.by_item = True
        try:
            original(backend, transact_items)
        except BaseException:
            for table, hash_value, range_value, item in backups.values():
                _put_back(table, hash_value, range_value, item)
            raise
        finally:
            _backing_up.by_item = False

    return transact_write_items


def apply() -> None:
    """Install the patch; ``moto_speedups.apply`` calls it (and ``remove`` takes it back)."""
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    install(models, "copy", _CopyKeepingTables(Table))
    install(
        models.DynamoDBBackend, "transact_write_items", _items_backed_up(models.DynamoDBBackend.transact_write_items)
    )
