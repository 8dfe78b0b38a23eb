"""PaymentState in the ReferralsTable, one item per payment (``keys.payment_state``).

Saved with an optimistic version check. The FIFO queue already hands the forwarder one
message per payment at a time; the check is the seatbelt for anything that bypasses it
(a redrive racing a retry): the loser raises and its message is retried.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from affiliate_bridge.errors import StaleState
from affiliate_bridge.forwarding.state import PaymentState, from_record, to_record
from affiliate_bridge.storage import keys
from affiliate_bridge.storage.dynamo import from_item, is_conditional_failure, key, keyed_item


class PaymentStateStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def load(self, transaction_key: str) -> PaymentState:
        item = self._client.get_item(
            TableName=self._table, Key=key(keys.payment_state(transaction_key)), ConsistentRead=True
        ).get("Item")
        if not item:
            return PaymentState(transaction_key=transaction_key)
        return from_record(from_item(item))

    def save(self, state: PaymentState) -> PaymentState:
        saved = replace(state, version=state.version + 1)
        item = keyed_item(keys.payment_state(state.transaction_key), to_record(saved))
        try:
            if state.version == 0:
                self._client.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
            else:
                self._client.put_item(
                    TableName=self._table,
                    Item=item,
                    ConditionExpression="version = :v",
                    ExpressionAttributeValues={":v": {"N": str(state.version)}},
                )
        except Exception as exc:
            if is_conditional_failure(exc):
                raise StaleState(state.transaction_key) from exc
            raise
        return saved

    def all_states(self) -> Iterator[PaymentState]:
        """Every payment's state, by a paginated scan filtered on the state items."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "sk = :state",
            "ExpressionAttributeValues": {":state": {"S": keys.STATE_SK}},
        }
        while True:
            page = self._client.scan(**kwargs)
            for item in page.get("Items", []):
                yield from_record(from_item(item))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
