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
from affiliate_bridge.domain.referrals import CUSTOMER_KEY, Identifier, ParkedPayment
from affiliate_bridge.storage import keys
from affiliate_bridge.storage.dynamo import (
    assignments,
    from_item,
    is_transaction_cancelled,
    key,
    keyed_item,
    retrying_conflicts,
)
from affiliate_bridge.storage.referrals import NO_REFERRAL_IN_FORCE


class ParkedPayments:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def park(self, payment: Payment, identifiers: list[Identifier], window_seconds: int) -> int:
        """File the sale under each identifier. Parked again (another event about the same
        money: a legacy ``invoice.paid`` naming its payment intent, then the new shape that
        does not), the alias keys accumulate: a reversal filed under one of them before
        the link was known must still be pulled in when the sale is released."""
        expires_at, update = self._filing(payment, window_seconds)
        for kind, value in identifiers:
            # Another delivery of the same money may be parking it in a transaction now.
            retrying_conflicts(
                self._client.update_item, Key=key(keys.parked(kind, value, payment.transaction_key)), **update
            )
        return expires_at

    def park_unless_claimed(self, payment: Payment, identifiers: list[Identifier], window_seconds: int) -> int | None:
        """File the sale as ``park`` does, in one transaction that also checks that no
        identifier is claimed: no alias names it, and no referral in force is stored under
        the customer key. None, with nothing written, when one is claimed (or the
        transaction met another write): the caller then parks and looks again.

        A referral claims its identifiers before it looks for parked payments. So when
        this commits, any referral claiming one later finds the sale; one that claimed
        earlier made it fail. One call instead of park-then-read; a transactional write
        costs twice the write units of a plain one."""
        expires_at, update = self._filing(payment, window_seconds)
        parked = [
            {"Update": {"Key": key(keys.parked(kind, value, payment.transaction_key)), **update}}
            for kind, value in identifiers
        ]
        try:
            self._client.transact_write_items(TransactItems=[*parked, *(self._unclaimed(i) for i in identifiers)])
        except Exception as exc:
            if is_transaction_cancelled(exc):
                return None
            raise
        return expires_at

    def _unclaimed(self, identifier: Identifier) -> dict[str, Any]:
        kind, value = identifier
        if kind == CUSTOMER_KEY:
            check = {
                "Key": key(keys.referral(value)),
                "ConditionExpression": NO_REFERRAL_IN_FORCE,
                "ExpressionAttributeValues": {":true": {"BOOL": True}},
            }
        else:
            check = {"Key": key(keys.alias(kind, value)), "ConditionExpression": "attribute_not_exists(pk)"}
        return {"ConditionCheck": {"TableName": self._table, **check}}

    def _filing(self, payment: Payment, window_seconds: int) -> tuple[int, dict[str, Any]]:
        """The expiry, and the UpdateItem arguments (all but the key) that file the sale."""
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
        return expires_at, {
            "TableName": self._table,
            "UpdateExpression": f"SET {sets}",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

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
