"""Payments that matched no referral yet, parked so a late referral can still claim them.

Each parked payment is written once per identifier it carries (customer key, provider
customer id, email hash): ``PARKED#<kind>#<value>`` / ``PAYMENT#<transaction_key>``, with
the sale facts the forwarder needs (no email: only its hash, in the key) and
``expires_at`` = now + LATE_ATTRIBUTION_DAYS, the table's TTL attribute. DynamoDB deletes
expired items lazily, so readers also skip anything past ``expires_at``.

``RELEASED#<transaction_key>`` marks a parked payment already sent, so the same payment
parked under three identifiers is released once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from affiliate_bridge.domain.events import Payment
from affiliate_bridge.domain.messages import alias_keys
from affiliate_bridge.storage.dynamo import from_item, key, to_item


@dataclass(frozen=True)
class ParkedPayment:
    transaction_key: str
    provider: str
    event_id: str
    event_type: str
    occurred_at: int
    paid_minor: int
    commissionable_minor: int
    currency: str
    expires_at: int
    # Keys reversals of this money may be filed under until its own key is linked
    # (transaction_messages.alias_keys): the released sale pulls them in.
    alias_keys: tuple[str, ...] = ()


class ParkedPayments:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def park(self, payment: Payment, identifiers: list[tuple[str, str]], window_seconds: int) -> int:
        expires_at = int(time.time()) + window_seconds
        for kind, value in identifiers:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(
                    {
                        "pk": f"PARKED#{kind}#{value}",
                        "sk": f"PAYMENT#{payment.transaction_key}",
                        "parked_transaction_key": payment.transaction_key,
                        "provider": payment.provider,
                        "event_id": payment.event_id,
                        "event_type": payment.event_type,
                        "occurred_at": payment.occurred_at,
                        "paid_minor": payment.paid.amount_minor,
                        "commissionable_minor": payment.commissionable.amount_minor,
                        "currency": payment.paid.currency,
                        "expires_at": expires_at,
                        "alias_keys": list(alias_keys(payment.provider, payment.payment_refs, payment.transaction_key))
                        or None,
                    }
                ),
            )
        return expires_at

    def find(self, kind: str, value: str) -> list[ParkedPayment]:
        now = int(time.time())
        page = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"PARKED#{kind}#{value}"}},
            ConsistentRead=True,
        )
        found = []
        for item in page.get("Items", []):
            values = from_item(item)
            if int(values["expires_at"]) <= now:
                continue
            found.append(
                ParkedPayment(
                    transaction_key=values["parked_transaction_key"],
                    provider=values["provider"],
                    event_id=values["event_id"],
                    event_type=values["event_type"],
                    occurred_at=int(values["occurred_at"]),
                    paid_minor=int(values["paid_minor"]),
                    commissionable_minor=int(values["commissionable_minor"]),
                    currency=values["currency"],
                    expires_at=int(values["expires_at"]),
                    alias_keys=tuple(values.get("alias_keys") or ()),
                )
            )
        return found

    def is_released(self, transaction_key: str) -> bool:
        return "Item" in self._client.get_item(
            TableName=self._table, Key=key(f"RELEASED#{transaction_key}", "RELEASED"), ConsistentRead=True
        )

    def mark_released(self, transaction_key: str, customer_key: str, rule: str, expires_at: int) -> None:
        self._client.put_item(
            TableName=self._table,
            Item=to_item(
                {
                    "pk": f"RELEASED#{transaction_key}",
                    "sk": "RELEASED",
                    "customer_key": customer_key,
                    "rule": rule,
                    "at": int(time.time()),
                    "expires_at": expires_at,
                }
            ),
        )
