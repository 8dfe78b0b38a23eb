"""The last reconcile run, one item (``keys.last_reconcile``): what ``status`` shows as
"last reconcile drift", whether the CLI or the scheduled function ran it."""

from __future__ import annotations

import time
from typing import Any

from affiliate_bridge.storage import keys
from affiliate_bridge.storage.dynamo import from_item, key, keyed_item


class ReconcileLog:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def record(self, drift: int, compared: int, fixed: int, source: str) -> None:
        values = {"at": int(time.time()), "drift": drift, "compared": compared, "fixed": fixed, "source": source}
        self._client.put_item(TableName=self._table, Item=keyed_item(keys.last_reconcile(), values))

    def last(self) -> dict[str, Any] | None:
        item = self._client.get_item(TableName=self._table, Key=key(keys.last_reconcile())).get("Item")
        return from_item(item) if item else None
