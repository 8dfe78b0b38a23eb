"""Payments that matched no referral yet, parked so a late referral can still claim them.

Each parked payment is written once per identifier it carries (customer key, provider
customer id, email hash), ``keys.parked``, with the sale facts the forwarder needs (no
email: only its hash, in the key) and the TTL attribute set to now + LATE_ATTRIBUTION_DAYS. DynamoDB deletes
expired items lazily, so readers also skip anything past ``expires_at``.

``keys.released`` marks a parked payment already sent, so the same payment
parked under three identifiers is released once.
"""

from __future__ import annotations

import time
from typing import Any

from affiliate_bridge.domain.events import Payment
from affiliate_bridge.domain.messages import alias_keys
from affiliate_bridge.domain.referrals import Identifier, ParkedPayment
from affiliate_bridge.storage import keys
from affiliate_bridge.storage.dynamo import assignments, from_item, key, keyed_item


class ParkedPayments:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def park(self, payment: Payment, identifiers: list[Identifier], window_seconds: int) -> int:
        """File the sale under each identifier. Parked again (another event about the same
        money: a legacy ``invoice.paid`` naming its payment intent, then the new shape that
        does not), the alias keys accumulate: a reversal filed under one of them before
        the link was known must still be pulled in when the sale is released."""
        expires_at = int(time.time()) + window_seconds
        sets, names, values = assignments(
            {
                "parked_transaction_key": payment.transaction_key,
                "provider": payment.provider,
                "event_id": payment.event_id,
                "event_type": payment.event_type,
                "occurred_at": payment.occurred_at,
                "paid_minor": payment.paid.amount_minor,
                "commissionable_minor": payment.commissionable.amount_minor,
                "currency": payment.paid.currency,
                keys.TTL_ATTRIBUTE: expires_at,
            }
        )
        aliases = list(alias_keys(payment.provider, payment.payment_refs, payment.transaction_key))
        if aliases:
            sets += ", alias_keys = list_append(if_not_exists(alias_keys, :none), :aliases)"
            values[":none"] = {"L": []}
            values[":aliases"] = {"L": [{"S": alias} for alias in aliases]}
        for kind, value in identifiers:
            self._client.update_item(
                TableName=self._table,
                Key=key(keys.parked(kind, value, payment.transaction_key)),
                UpdateExpression=f"SET {sets}",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        return expires_at

    def find(self, kind: str, value: str) -> list[ParkedPayment]:
        now = int(time.time())
        page = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.parked_under(kind, value)}},
            ConsistentRead=True,
        )
        found = []
        for item in page.get("Items", []):
            values = from_item(item)
            if int(values[keys.TTL_ATTRIBUTE]) <= now:
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
                    expires_at=int(values[keys.TTL_ATTRIBUTE]),
                    alias_keys=tuple(dict.fromkeys(values.get("alias_keys") or ())),
                )
            )
        return found

    def is_released(self, transaction_key: str) -> bool:
        return "Item" in self._client.get_item(
            TableName=self._table, Key=key(keys.released(transaction_key)), ConsistentRead=True
        )

    def mark_released(self, transaction_key: str, customer_key: str, rule: str, expires_at: int) -> None:
        self._client.put_item(
            TableName=self._table,
            Item=keyed_item(
                keys.released(transaction_key),
                {"customer_key": customer_key, "rule": rule, "at": int(time.time()), keys.TTL_ATTRIBUTE: expires_at},
            ),
        )
