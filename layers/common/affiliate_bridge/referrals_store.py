"""Who referred whom: referrals and their aliases in the ReferralsTable.

Layout (one table, ``pk``/``sk`` strings):

* ``CUSTOMER#<customer_key>`` / ``REFERRAL``: partner key, email hash, provider ids.
* ``ALIAS#<kind>#<value>`` / ``ALIAS``: points an email hash or a provider customer id
  (kinds ``email``, ``stripe_customer``, ``paddle_customer``) at a customer key.
* ``PROFILE#<provider>#<customer id>`` / ``PROFILE``: the email hash a provider holds for
  its customer id (Paddle transactions carry no email).
* ``PAYREF#<provider>#<id>`` / ``PAYREF``: points another id of a payment (a payment
  intent, a charge) at the payment's transaction key, for reversals that only know it.

First touch wins: a referral or alias that exists is never overwritten unless the
merchant chose last touch.
"""

from __future__ import annotations

import enum
import time
from typing import Any

from affiliate_bridge.domain import Referral
from affiliate_bridge.dynamo import from_item, is_conditional_failure, key, to_item
from affiliate_bridge.identity import email_hash


class AliasKind(enum.StrEnum):
    EMAIL = "email"
    STRIPE_CUSTOMER = "stripe_customer"
    PADDLE_CUSTOMER = "paddle_customer"


def provider_customer_alias(provider: str) -> AliasKind:
    return AliasKind(f"{provider}_customer")


class ReferralOutcome(enum.StrEnum):
    CREATED = "created"
    UNCHANGED = "unchanged"
    UPDATED = "updated"  # last touch replaced the partner
    CONFLICT = "conflict"  # first touch kept the existing partner


class ReferralsStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # -- referrals ---------------------------------------------------------------------
    def find_referral(self, customer_key: str) -> Referral | None:
        response = self._client.get_item(TableName=self._table, Key=key(f"CUSTOMER#{customer_key}", "REFERRAL"))
        item = response.get("Item")
        if not item:
            return None
        values = from_item(item)
        if values.get("deleted"):
            return None
        return Referral(
            customer_key=customer_key,
            partner_key=values["partner_key"],
            stripe_customer_id=values.get("stripe_customer_id"),
            paddle_customer_id=values.get("paddle_customer_id"),
            source=values.get("source", "api"),
        )

    def put_referral(self, referral: Referral, last_touch: bool = False) -> tuple[ReferralOutcome, Referral]:
        """Store a referral and its aliases; returns what happened and the referral in force.

        A different partner for a known customer is a conflict under first touch: the
        existing partner stays, and the claim is recorded (``CONFLICT#<time>``) for explain.
        """
        now = int(time.time())
        values = {
            "pk": f"CUSTOMER#{referral.customer_key}",
            "sk": "REFERRAL",
            "partner_key": referral.partner_key,
            "email_hash": email_hash(referral.email) if referral.email else None,
            "stripe_customer_id": referral.stripe_customer_id,
            "paddle_customer_id": referral.paddle_customer_id,
            "source": referral.source,
            "created_at": now,
        }
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(values),
                ConditionExpression="attribute_not_exists(pk) OR deleted = :true",
                ExpressionAttributeValues={":true": {"BOOL": True}},
            )
            outcome, current = ReferralOutcome.CREATED, referral
        except Exception as exc:
            if not is_conditional_failure(exc):
                raise
            existing = self.find_referral(referral.customer_key)
            if existing is None or existing.partner_key == referral.partner_key:
                outcome, current = ReferralOutcome.UNCHANGED, existing or referral
            elif last_touch:
                self._client.put_item(TableName=self._table, Item=to_item(values))
                outcome, current = ReferralOutcome.UPDATED, referral
            else:
                self._client.put_item(
                    TableName=self._table,
                    Item=to_item(
                        {
                            "pk": f"CUSTOMER#{referral.customer_key}",
                            "sk": f"CONFLICT#{time.time():017.6f}",
                            "claimed_partner_key": referral.partner_key,
                            "kept_partner_key": existing.partner_key,
                            "source": referral.source,
                            "at": now,
                        }
                    ),
                )
                return ReferralOutcome.CONFLICT, existing
        for kind, value in (
            (AliasKind.EMAIL, email_hash(referral.email) if referral.email else None),
            (AliasKind.STRIPE_CUSTOMER, referral.stripe_customer_id),
            (AliasKind.PADDLE_CUSTOMER, referral.paddle_customer_id),
        ):
            if value:
                self.put_alias(kind, value, referral.customer_key, overwrite=last_touch)
        return outcome, current

    def mark_deleted(self, customer_key: str) -> bool:
        """Deleted customers stop being attributed; the item stays for ``explain``.
        False when the customer was never known (nothing to delete)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=key(f"CUSTOMER#{customer_key}", "REFERRAL"),
                UpdateExpression="SET deleted = :true, deleted_at = :now",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":true": {"BOOL": True}, ":now": {"N": str(int(time.time()))}},
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    # -- customer aliases --------------------------------------------------------------
    def put_alias(self, kind: AliasKind, value: str, customer_key: str, overwrite: bool = False) -> bool:
        """Point ``value`` at ``customer_key``; False when another customer holds it."""
        item = to_item({"pk": f"ALIAS#{kind}#{value}", "sk": "ALIAS", "customer_key": customer_key})
        try:
            if overwrite:
                self._client.put_item(TableName=self._table, Item=item)
            else:
                self._client.put_item(
                    TableName=self._table,
                    Item=item,
                    ConditionExpression="attribute_not_exists(pk) OR customer_key = :ck",
                    ExpressionAttributeValues={":ck": {"S": customer_key}},
                )
        except Exception as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def find_customer_key(self, kind: AliasKind, value: str) -> str | None:
        response = self._client.get_item(TableName=self._table, Key=key(f"ALIAS#{kind}#{value}", "ALIAS"))
        item = response.get("Item")
        return from_item(item)["customer_key"] if item else None

    # -- provider customer profiles -----------------------------------------------------
    def put_customer_email(self, provider: str, customer_id: str, hashed_email: str | None, updated_at: int) -> None:
        """Remember the email hash of a provider customer id; a late, older update loses."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(
                    {
                        "pk": f"PROFILE#{provider}#{customer_id}",
                        "sk": "PROFILE",
                        "email_hash": hashed_email,
                        "updated_at": updated_at,
                    }
                ),
                ConditionExpression="attribute_not_exists(pk) OR updated_at <= :at",
                ExpressionAttributeValues={":at": {"N": str(updated_at)}},
            )
        except Exception as exc:
            if not is_conditional_failure(exc):
                raise

    def find_email_hash(self, provider: str, customer_id: str) -> str | None:
        item = self._client.get_item(
            TableName=self._table, Key=key(f"PROFILE#{provider}#{customer_id}", "PROFILE")
        ).get("Item")
        return from_item(item).get("email_hash") if item else None

    # -- payment references ------------------------------------------------------------
    def put_payment_ref(self, provider: str, ref: str, transaction_key: str) -> None:
        self._client.put_item(
            TableName=self._table,
            Item=to_item({"pk": f"PAYREF#{provider}#{ref}", "sk": "PAYREF", "transaction_key": transaction_key}),
        )

    def find_payment_key(self, provider: str, ref: str) -> str | None:
        response = self._client.get_item(TableName=self._table, Key=key(f"PAYREF#{provider}#{ref}", "PAYREF"))
        item = response.get("Item")
        return from_item(item)["transaction_key"] if item else None
