"""The explainable record: what the bridge decided for each provider event and payment.

* one entry per provider event (``keys.event``), written by the webhook functions: event
  type, outcome, transaction key, attribution rule and trail, queue message id, and how
  many times the provider delivered it;
* one entry per call to the affiliate API with its answer (``keys.attempt``), written by
  the forwarder.

Entries expire after LEDGER_TTL_DAYS (default 400, past a year of refund and dispute
windows) through the table's TTL attribute (``keys.TTL_ATTRIBUTE``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from affiliate_bridge.domain.messages import SALE_KIND
from affiliate_bridge.storage import keys
from affiliate_bridge.storage.dynamo import assignments, is_conditional_failure, key, keyed_item


class Ledger:
    def __init__(self, client: Any, table_name: str, ttl_days: int = 400) -> None:
        self._client = client
        self._table = table_name
        self._ttl_seconds = ttl_days * 86_400

    def record_event(
        self,
        provider: str,
        event_id: str,
        event_type: str,
        outcome: str,
        count_delivery: bool = True,
        only_for_message: str | None = None,
        **detail: Any,
    ) -> None:
        """Upsert the event's entry. ``count_delivery`` is False when the bridge itself
        revisits an event (late attribution), not the provider delivering it again.
        ``only_for_message``: written only while the entry names no queue message or
        this one (the forwarder's write: a message SQS moved back under a new id, or a
        later copy of the same event, leaves the first one's entry as it is)."""
        now = int(time.time())
        values: dict[str, Any] = {
            "event_type": event_type,
            "outcome": outcome,
            "provider": provider,
            "last_seen_at": now,
            keys.TTL_ATTRIBUTE: now + self._ttl_seconds,
            **{k: v for k, v in detail.items() if v is not None and v != ()},
        }
        sets, names, placeholders = assignments(values)
        condition: dict[str, Any] = {}
        if only_for_message is not None:
            condition["ConditionExpression"] = "attribute_not_exists(message_id) OR message_id = :message"
            placeholders[":message"] = {"S": only_for_message}
        try:
            self._client.update_item(
                TableName=self._table,
                Key=key(keys.event(provider, event_id)),
                UpdateExpression=f"SET {sets}, first_seen_at = if_not_exists(first_seen_at, :now) ADD deliveries :one",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    **placeholders,
                    ":now": {"N": str(now)},
                    ":one": {"N": "1" if count_delivery else "0"},
                },
                **condition,
            )
        except Exception as exc:
            if only_for_message is None or not is_conditional_failure(exc):
                raise

    def has_sale(self, transaction_key: str) -> bool:
        """Asked only for a reversal, so its reply can say when no sale matched it: the
        index is eventually consistent, so a sale accepted a moment ago may not show yet,
        which the reply's wording ("not seen yet") allows for."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": keys.TRANSACTION_KEY_INDEX,
            "KeyConditionExpression": "transaction_key = :k",
            "FilterExpression": "payment_kind = :sale",
            "ExpressionAttributeValues": {":k": {"S": transaction_key}, ":sale": {"S": SALE_KIND}},
            "Select": "COUNT",
        }
        while True:
            page = self._client.query(**kwargs)
            if page.get("Count", 0):
                return True
            if "LastEvaluatedKey" not in page:
                return False
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def event_outcome(self, provider: str, event_id: str) -> str | None:
        """Backfill's question: did this event arrive, and what was decided (a strongly
        consistent read: a webhook that answered a moment ago counts)."""
        item = self._client.get_item(
            TableName=self._table,
            Key=key(keys.event(provider, event_id)),
            ConsistentRead=True,
            ProjectionExpression="outcome",
        ).get("Item")
        return str(item["outcome"]["S"]) if item and "outcome" in item else None

    def record_rejection(self, provider: str, event_id: str, event_type: str, reason: str) -> None:
        """A signed event refused as malformed, for explain. Never over an event already
        accepted under the same id: a later malformed delivery (or a forgery with a leaked
        secret) must not rewrite what happened to the real one."""
        now = int(time.time())
        try:
            self._client.put_item(
                TableName=self._table,
                Item=keyed_item(
                    keys.event(provider, event_id),
                    {
                        "event_type": event_type,
                        "outcome": "rejected",
                        "provider": provider,
                        "reason": reason,
                        "first_seen_at": now,
                        "last_seen_at": now,
                        keys.TTL_ATTRIBUTE: now + self._ttl_seconds,
                    },
                ),
                ConditionExpression="attribute_not_exists(pk) OR outcome = :rejected",
                ExpressionAttributeValues={":rejected": {"S": "rejected"}},
            )
        except Exception as exc:
            if not is_conditional_failure(exc):
                raise

    def record_attempt(self, transaction_key: str, attempt: Mapping[str, Any]) -> None:
        now = time.time()
        values = {"at": int(now), keys.TTL_ATTRIBUTE: int(now) + self._ttl_seconds, **attempt}
        self._client.put_item(TableName=self._table, Item=keyed_item(keys.attempt(transaction_key, now), values))
