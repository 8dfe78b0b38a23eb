"""Who referred whom: referrals, customer aliases, provider profiles and payment links.

Key formats are in ``storage.keys``. First touch wins: a referral or alias that exists
is never overwritten unless the merchant chose last touch.

Every read is strongly consistent: a payment parked while its referral is being stored
must see that referral when it looks again (``Intake._park``), and an eventually
consistent read could miss it and leave the payment parked for ever. On demand, the
difference is half a read unit per lookup.

Provider customer ids are kept as ``<provider>_customer_id`` attributes on the referral
item and as ``<provider>_customer`` aliases, so adding a provider needs no change here.

An alias may carry a copy of its customer's partner (``partner_key``), so a payment
matched by a provider customer id or an email is attributed from the alias alone: one
read on the webhook's path instead of two. The copy is only ever true:

* it is written in one transaction with a check that the referral is in force with that
  partner and not locked, and that adds the alias to the referral's ``copies``;
* before a referral's partner changes or it is deleted, the referral is locked with a
  token of that change (no new copy can be written) and every alias in ``copies`` loses
  its copy; the referral is then changed on condition that the lock is still that
  token, so no other change came between (one that did may have written copies of its
  own partner meanwhile: the change starts again). A crash in between leaves the
  referral locked: its aliases are then read the long way (alias, then referral).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from affiliate_bridge.domain.identity import email_hash, loggable_key
from affiliate_bridge.domain.referrals import EMAIL, Identifier, Referral, ReferralOutcome, provider_customer_kind
from affiliate_bridge.storage import keys
from affiliate_bridge.storage.dynamo import (
    cancellation_codes,
    from_item,
    is_conditional_failure,
    is_transaction_cancelled,
    key,
    keyed_item,
    retrying_conflicts,
    to_item,
)

T = TypeVar("T")
_CUSTOMER_ID = "_customer_id"  # <provider>_customer_id on the referral item
_PAYMENT_KEY = "payment_key"  # on a payment reference: the transaction key it points at
_BATCH_ATTEMPTS = 3
_BATCH_BACKOFF_SECONDS = 0.05
# True of a referral item's key when no referral is in force there (``:true`` bound to
# BOOL true): a new customer may be stored, and parking finds the customer key unclaimed.
NO_REFERRAL_IN_FORCE = "attribute_not_exists(pk) OR deleted = :true"
# On a referral item: the alias keys (pk) that carry a copy of its partner, and the lock
# set before its partner changes, after which no alias gets a copy of it.
_COPIES = "copies"
_COPIES_LOCKED = "copies_locked"
_COPY_ATTEMPTS = 3
_CHANGE_ATTEMPTS = 4
_CONDITIONAL_FAILED = "ConditionalCheckFailed"


def payment_key_of(payment_ref_item: Mapping[str, Any] | None) -> str | None:
    """The transaction key a stored payment reference points at."""
    if not payment_ref_item:
        return None
    values = from_item(payment_ref_item)
    return str(values.get(_PAYMENT_KEY) or values["transaction_key"])


def _customer_key_of(alias_item: Mapping[str, Any] | None) -> str | None:
    return str(alias_item["customer_key"]["S"]) if alias_item else None


def _copied_referral(alias_item: Mapping[str, Any] | None) -> tuple[keys.Key, dict[str, Any]] | None:
    """The referral an alias's copy stands for, as the item a read of it would return
    (partner only: attribution needs nothing else from it)."""
    if not alias_item or "partner_key" not in alias_item:
        return None
    customer_key = str(alias_item["customer_key"]["S"])
    return keys.referral(customer_key), {"partner_key": alias_item["partner_key"], "source": {"S": "alias copy"}}


def _email_hash_of(profile_item: Mapping[str, Any] | None) -> str | None:
    value = (profile_item or {}).get("email_hash")
    return str(value["S"]) if value and "S" in value else None


def _applied_at(stored: Mapping[str, Any] | None) -> int:
    """The newest platform delivery time a stored referral reflects (-1: none)."""
    applied = (stored or {}).get("platform_at")
    return -1 if applied is None else int(applied)


def _newer_applied(stored: dict[str, Any], platform_at_ms: int) -> bool:
    """True when the stored item already reflects a platform delivery at least as new.
    A deletion wins a tie: a created and a deleted with the same time stay deleted."""
    applied = stored.get("platform_at")
    if applied is None:
        return False
    return int(applied) >= platform_at_ms if stored.get("deleted") else int(applied) > platform_at_ms


def _referral_of(customer_key: str, item: Mapping[str, Any] | None) -> Referral | None:
    """The referral in force from its stored item: none for a missing or deleted one."""
    if not item:
        return None
    values = from_item(item)
    if values.get("deleted"):
        return None
    return Referral(
        customer_key=customer_key,
        partner_key=values["partner_key"],
        provider_customer_ids=tuple(
            sorted(
                (name.removesuffix(_CUSTOMER_ID), value)
                for name, value in values.items()
                if name.endswith(_CUSTOMER_ID) and isinstance(value, str)
            )
        ),
        source=values.get("source", "api"),
    )


def _fill_from_copies(items: dict[keys.Key, dict[str, Any] | None]) -> None:
    """An alias carrying its partner answers for its referral, unless that was read."""
    for where, item in list(items.items()):
        copied = _copied_referral(item) if where.sk == keys.ALIAS_SK else None
        if copied and copied[0] not in items:
            items[copied[0]] = copied[1]


def _pause_before(attempt: int) -> None:
    """A random wait before a change starts again: two changes of one referral that keep
    taking each other's lock fall out of step instead of both giving up."""
    if attempt:
        time.sleep(_BATCH_BACKOFF_SECONDS * attempt * int.from_bytes(os.urandom(2), "big") / 65_535)


class ConcurrentChange(RuntimeError):
    """Other changes of the same referral kept taking its lock: answered 5xx, and the
    sender's retry finds them done."""

    def __init__(self, customer_key: str) -> None:
        super().__init__(f"referral {loggable_key(customer_key)}: changed concurrently too often")


class ReferralsStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # -- referrals ---------------------------------------------------------------------
    def find_referral(self, customer_key: str) -> Referral | None:
        response = self._client.get_item(
            TableName=self._table, Key=key(keys.referral(customer_key)), ConsistentRead=True
        )
        return _referral_of(customer_key, response.get("Item"))

    def put_referral(
        self, referral: Referral, last_touch: bool = False, platform_at_ms: int | None = None
    ) -> tuple[ReferralOutcome, Referral]:
        """Store a referral and its aliases; returns what happened and the referral in force.

        A different partner for a known customer is a conflict under first touch: the
        existing partner stays, and the claim is recorded (``CONFLICT#<time>``) for explain.

        ``platform_at_ms`` (the platform's own deliveries): the payload's time. The item
        keeps the newest time applied (``platform_at``); every write is conditioned on it,
        so an older delivery, however late it arrives, changes nothing and is recorded
        as ``STALE#<time>`` instead.
        """
        now = int(time.time())
        where = keys.referral(referral.customer_key)
        values = {
            "pk": where.pk,
            "sk": where.sk,
            "partner_key": referral.partner_key,
            "email_hash": email_hash(referral.email) if referral.email else None,
            **{f"{provider}{_CUSTOMER_ID}": value for provider, value in referral.provider_customer_ids},
            "source": referral.source,
            "created_at": now,
            "platform_at": platform_at_ms,
        }
        order = "" if platform_at_ms is None else " AND (attribute_not_exists(platform_at) OR platform_at < :at)"
        order_values = {} if platform_at_ms is None else {":at": {"N": str(platform_at_ms)}}
        for _ in range(_CHANGE_ATTEMPTS):
            try:
                retrying_conflicts(
                    self._client.put_item,
                    TableName=self._table,
                    Item=to_item(values),
                    ConditionExpression=f"({NO_REFERRAL_IN_FORCE}){order}",
                    ExpressionAttributeValues={":true": {"BOOL": True}, **order_values},
                )
                outcome, current = ReferralOutcome.CREATED, referral
                break
            except Exception as exc:
                if not is_conditional_failure(exc):
                    raise
            over = self._over_existing(referral, values, last_touch, platform_at_ms)
            if over is None:
                continue  # deleted since our write was refused, by an older delivery: create it
            outcome, current = over
            if outcome in (ReferralOutcome.STALE, ReferralOutcome.CONFLICT):
                return outcome, current
            break
        else:
            raise ConcurrentChange(referral.customer_key)
        aliases = [(provider_customer_kind(provider), value) for provider, value in referral.provider_customer_ids]
        if referral.email:
            aliases.insert(0, (EMAIL, email_hash(referral.email)))
        for kind, value in aliases:
            self.put_alias(kind, value, referral.customer_key, overwrite=last_touch, partner_key=current.partner_key)
        return outcome, current

    def _over_existing(
        self, referral: Referral, values: dict[str, Any], last_touch: bool, platform_at_ms: int | None
    ) -> tuple[ReferralOutcome, Referral] | None:
        """The customer is known (or a newer platform delivery was applied): stale,
        unchanged, moved by last touch, or a first-touch conflict. None when no referral
        is in force any more and this delivery is not older than what the item reflects
        (a deletion came between the refused write and this look): the caller creates it."""
        stored = self._stored(referral.customer_key)
        if platform_at_ms is not None and stored is not None and _newer_applied(stored, platform_at_ms):
            self._record_stale(referral.customer_key, referral.source, platform_at_ms, stored)
            return ReferralOutcome.STALE, self.find_referral(referral.customer_key) or referral
        existing = self.find_referral(referral.customer_key)
        if existing is None:
            return None
        if existing.partner_key == referral.partner_key:
            if platform_at_ms is not None:
                self._advance_platform_time(referral.customer_key, platform_at_ms)
            return ReferralOutcome.UNCHANGED, existing
        if last_touch:
            return self._replace(referral, values, existing, platform_at_ms)
        if platform_at_ms is not None:
            self._advance_platform_time(referral.customer_key, platform_at_ms)
        self._client.put_item(
            TableName=self._table,
            Item=keyed_item(
                keys.conflict(referral.customer_key, time.time()),
                {
                    "claimed_partner_key": referral.partner_key,
                    "kept_partner_key": existing.partner_key,
                    "source": referral.source,
                    "at": int(time.time()),
                },
            ),
        )
        return ReferralOutcome.CONFLICT, existing

    def _replace(
        self, referral: Referral, values: dict[str, Any], existing: Referral, platform_at_ms: int | None
    ) -> tuple[ReferralOutcome, Referral]:
        """Last touch: the new partner replaces the old, unless a newer platform delivery
        was applied between our read and this write. No alias may go on naming the old
        partner: their copies go first (the new item has neither copies nor lock)."""
        order, order_values = "", {}
        if platform_at_ms is not None:
            order = " AND (attribute_not_exists(platform_at) OR platform_at < :at)"
            order_values = {":at": {"N": str(platform_at_ms)}}
        for attempt in range(_CHANGE_ATTEMPTS):
            _pause_before(attempt)
            guard, guard_values = self._withdraw_copies(referral.customer_key)
            try:
                retrying_conflicts(
                    self._client.put_item,
                    TableName=self._table,
                    Item=to_item(values),
                    ConditionExpression=f"({guard}){order}",
                    ExpressionAttributeValues={**guard_values, **order_values},
                )
            except Exception as race:
                if not is_conditional_failure(race):
                    raise
                stored = self._stored(referral.customer_key)
                if platform_at_ms is not None and _applied_at(stored) >= platform_at_ms:
                    self._unlock(referral.customer_key, guard_values)
                    self._record_stale(referral.customer_key, referral.source, platform_at_ms, stored)
                    return ReferralOutcome.STALE, existing
                continue  # another change took the lock: ours starts again
            return ReferralOutcome.UPDATED, referral
        raise ConcurrentChange(referral.customer_key)

    def mark_deleted(self, customer_key: str, platform_at_ms: int, source: str) -> ReferralOutcome:
        """Deleted customers stop being attributed; the item stays for ``explain``.

        Ordered like the platform's other deliveries (``platform_at``). A deletion for a
        customer never seen leaves a tombstone, so the platform's older
        ``customer.created`` arriving after it cannot bring the customer back. The
        aliases' copies of its partner go first.
        """
        stored = self._stored(customer_key)
        if _applied_at(stored) > platform_at_ms:  # stale: nothing to lock or take off
            self._record_stale(customer_key, source, platform_at_ms, stored)
            return ReferralOutcome.STALE
        for attempt in range(_CHANGE_ATTEMPTS):
            _pause_before(attempt)
            guard, guard_values = self._withdraw_copies(customer_key)
            try:
                previous = retrying_conflicts(
                    self._client.update_item,
                    TableName=self._table,
                    Key=key(keys.referral(customer_key)),
                    UpdateExpression="SET deleted = :true, deleted_at = :now, platform_at = :at",
                    ConditionExpression=f"({guard}) AND (attribute_not_exists(platform_at) OR platform_at <= :at)",
                    ExpressionAttributeValues={
                        ":true": {"BOOL": True},
                        ":now": {"N": str(int(time.time()))},
                        ":at": {"N": str(platform_at_ms)},
                        **guard_values,
                    },
                    ReturnValues="ALL_OLD",
                ).get("Attributes")
            except Exception as exc:
                if not is_conditional_failure(exc):
                    raise
                stored = self._stored(customer_key)
                if _applied_at(stored) > platform_at_ms:
                    self._unlock(customer_key, guard_values)
                    self._record_stale(customer_key, source, platform_at_ms, stored)
                    return ReferralOutcome.STALE
                continue  # another change took the lock, or created the customer: again
            known = previous is not None and "partner_key" in previous
            return ReferralOutcome.DELETED if known else ReferralOutcome.UNKNOWN_CUSTOMER
        raise ConcurrentChange(customer_key)

    def _stored(self, customer_key: str) -> dict[str, Any] | None:
        """The referral item as stored, deleted or not."""
        item = self._client.get_item(
            TableName=self._table, Key=key(keys.referral(customer_key)), ConsistentRead=True
        ).get("Item")
        return from_item(item) if item else None

    def _advance_platform_time(self, customer_key: str, platform_at_ms: int) -> None:
        """A newer delivery that changed nothing still moves the clock, so an older one
        arriving after it is recognised as stale."""
        try:
            retrying_conflicts(
                self._client.update_item,
                TableName=self._table,
                Key=key(keys.referral(customer_key)),
                UpdateExpression="SET platform_at = :at",
                ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(platform_at) OR platform_at < :at)",
                ExpressionAttributeValues={":at": {"N": str(platform_at_ms)}},
            )
        except Exception as exc:
            if not is_conditional_failure(exc):
                raise

    def _record_stale(self, customer_key: str, source: str, platform_at_ms: int, stored: dict[str, Any] | None) -> None:
        self._client.put_item(
            TableName=self._table,
            Item=keyed_item(
                keys.stale(customer_key, time.time()),
                {
                    "source": source,
                    "delivery_at_ms": platform_at_ms,
                    "applied_at_ms": (stored or {}).get("platform_at"),
                    "at": int(time.time()),
                },
            ),
        )

    # -- customer aliases --------------------------------------------------------------
    def put_alias(
        self, kind: str, value: str, customer_key: str, overwrite: bool = False, partner_key: str | None = None
    ) -> bool:
        """Point ``value`` at ``customer_key``; False when another customer holds it.

        ``partner_key``: the customer's partner as the caller saw it, copied onto the
        alias if the referral is still in force with it (else the alias is written
        without a copy)."""
        if partner_key is not None:
            written = self._put_alias_with_copy(kind, value, customer_key, overwrite, partner_key)
            if written is not None:
                return written
        item = keyed_item(keys.alias(kind, value), {"customer_key": customer_key})
        try:
            if overwrite:
                retrying_conflicts(self._client.put_item, TableName=self._table, Item=item)
            else:
                retrying_conflicts(
                    self._client.put_item,
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

    def _put_alias_with_copy(
        self, kind: str, value: str, customer_key: str, overwrite: bool, partner_key: str
    ) -> bool | None:
        """The alias with a copy of the partner, in one transaction with the referral's
        check (in force, this partner, not locked) and its record of the copy. True or
        False as ``put_alias``; None when the referral refused a copy (changed, deleted,
        locked) or other writes kept meeting ours: the caller writes it plainly."""
        where = keys.alias(kind, value)
        alias_put: dict[str, Any] = {
            "TableName": self._table,
            "Item": keyed_item(where, {"customer_key": customer_key, "partner_key": partner_key}),
        }
        if not overwrite:
            alias_put["ConditionExpression"] = "attribute_not_exists(pk) OR customer_key = :ck"
            alias_put["ExpressionAttributeValues"] = {":ck": {"S": customer_key}}
        record_copy = {
            "TableName": self._table,
            "Key": key(keys.referral(customer_key)),
            "UpdateExpression": f"ADD {_COPIES} :alias",
            "ConditionExpression": (
                f"partner_key = :partner AND NOT (deleted = :true) AND attribute_not_exists({_COPIES_LOCKED})"
            ),
            "ExpressionAttributeValues": {
                ":partner": {"S": partner_key},
                ":true": {"BOOL": True},
                ":alias": {"SS": [where.pk]},
            },
        }
        for attempt in range(_COPY_ATTEMPTS):
            if attempt:
                time.sleep(_BATCH_BACKOFF_SECONDS * attempt)
            try:
                self._client.transact_write_items(TransactItems=[{"Update": record_copy}, {"Put": alias_put}])
            except Exception as exc:
                if not is_transaction_cancelled(exc):
                    raise
                referral_code, alias_code = [*cancellation_codes(exc), None, None][:2]
                if alias_code == _CONDITIONAL_FAILED:
                    return False  # another customer holds the alias
                if referral_code == _CONDITIONAL_FAILED:
                    return None
                continue  # met another write (a transaction conflict): try again
            return True
        return None

    def _withdraw_copies(self, customer_key: str) -> tuple[str, dict[str, Any]]:
        """Lock the referral with a token of this change (no alias gets a copy of it from
        now on), then take the copy off every alias that has one. Called before its
        partner changes or it is deleted, so no alias names a partner the referral no
        longer has. The list stays on the item: a crash half way is finished by the next
        change. Returns the condition the change must be written under: the lock is still
        this token (no other change came between), or, with nothing stored, still nothing."""
        token = os.urandom(8).hex()
        try:
            stored = retrying_conflicts(
                self._client.update_item,
                TableName=self._table,
                Key=key(keys.referral(customer_key)),
                UpdateExpression=f"SET {_COPIES_LOCKED} = :lock",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":lock": {"S": token}},
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except Exception as exc:
            if not is_conditional_failure(exc):
                raise
            return "attribute_not_exists(pk)", {}  # no referral: no copies
        for alias_pk in stored.get(_COPIES, {}).get("SS", []):
            try:
                retrying_conflicts(
                    self._client.update_item,
                    TableName=self._table,
                    Key={"pk": {"S": alias_pk}, "sk": {"S": keys.ALIAS_SK}},
                    UpdateExpression="REMOVE partner_key",
                    # An alias moved to another customer since keeps that customer's copy.
                    ConditionExpression="customer_key = :ck",
                    ExpressionAttributeValues={":ck": {"S": customer_key}},
                )
            except Exception as exc:
                if not is_conditional_failure(exc):
                    raise
        return f"{_COPIES_LOCKED} = :lock", {":lock": {"S": token}}

    def _unlock(self, customer_key: str, guard_values: Mapping[str, Any]) -> None:
        """A change that turned out stale changed nothing: its lock goes, if still its
        own, so the customer's aliases get copies again. (After a crash it stays, and
        they are read the long way until the next change.)"""
        if ":lock" not in guard_values:
            return
        try:
            retrying_conflicts(
                self._client.update_item,
                TableName=self._table,
                Key=key(keys.referral(customer_key)),
                UpdateExpression=f"REMOVE {_COPIES_LOCKED}",
                ConditionExpression=f"{_COPIES_LOCKED} = :lock",
                ExpressionAttributeValues={":lock": guard_values[":lock"]},
            )
        except Exception as exc:
            if not is_conditional_failure(exc):
                raise

    def find_customer_key(self, kind: str, value: str) -> str | None:
        response = self._client.get_item(TableName=self._table, Key=key(keys.alias(kind, value)), ConsistentRead=True)
        return _customer_key_of(response.get("Item"))

    def read_ahead(
        self, customer_key: str | None, identifiers: Sequence[Identifier], profile: tuple[str, str] | None
    ) -> ReferralSnapshot:
        """Everything attribution may ask about one payment, in one batched read (two
        when an alias names a customer, three in the rare case that only the provider's
        profile knew the email), instead of up to six reads one after another.

        ``profile`` is the provider customer id whose stored email to use when the payment
        carries none. Each round is strongly consistent, like the single reads."""
        wanted = ([keys.referral(customer_key)] if customer_key else []) + [keys.alias(*i) for i in identifiers]
        if profile:
            wanted.append(keys.profile(*profile))
        items = self._batch_get(wanted)
        profile_email = _email_hash_of(items.get(keys.profile(*profile))) if profile else None
        for _ in range(2):
            _fill_from_copies(items)
            named = [_customer_key_of(items.get(keys.alias(*i))) for i in identifiers]
            if profile_email:
                named.append(_customer_key_of(items.get(keys.alias(EMAIL, profile_email))))
            more = [keys.referral(k) for k in named if k]
            if profile_email:
                more.append(keys.alias(EMAIL, profile_email))
            more = [k for k in more if k not in items]
            if not more:
                break
            items.update(self._batch_get(more))
        _fill_from_copies(items)
        return ReferralSnapshot(self, items)

    def _batch_get(self, wanted: Sequence[keys.Key]) -> dict[keys.Key, dict[str, Any] | None]:
        """The items under ``wanted`` (None where absent), in one call. DynamoDB may leave
        keys unprocessed under throttling: those are asked again, then read one by one."""
        unique = list(dict.fromkeys(wanted))
        found: dict[keys.Key, dict[str, Any] | None] = dict.fromkeys(unique)
        if len(unique) == 1:
            found[unique[0]] = self._client.get_item(
                TableName=self._table, Key=key(unique[0]), ConsistentRead=True
            ).get("Item")
            return found
        pending = [key(k) for k in unique]
        for attempt in range(_BATCH_ATTEMPTS):
            if not pending:
                return found
            if attempt:
                time.sleep(_BATCH_BACKOFF_SECONDS * attempt)
            response = self._client.batch_get_item(
                RequestItems={self._table: {"Keys": pending, "ConsistentRead": True}}
            )
            for item in response.get("Responses", {}).get(self._table, []):
                found[keys.Key(item["pk"]["S"], item["sk"]["S"])] = item
            pending = response.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
        for left in pending:
            where = keys.Key(left["pk"]["S"], left["sk"]["S"])
            found[where] = self._client.get_item(TableName=self._table, Key=left, ConsistentRead=True).get("Item")
        return found

    # -- provider customer profiles -----------------------------------------------------
    def put_customer_email(self, provider: str, customer_id: str, hashed_email: str | None, updated_at: int) -> None:
        """Remember the email hash of a provider customer id; a late, older update loses."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=keyed_item(
                    keys.profile(provider, customer_id),
                    {
                        "email_hash": hashed_email,
                        "updated_at": updated_at,
                    },
                ),
                ConditionExpression="attribute_not_exists(pk) OR updated_at <= :at",
                ExpressionAttributeValues={":at": {"N": str(updated_at)}},
            )
        except Exception as exc:
            if not is_conditional_failure(exc):
                raise

    def find_email_hash(self, provider: str, customer_id: str) -> str | None:
        item = self._client.get_item(
            TableName=self._table, Key=key(keys.profile(provider, customer_id)), ConsistentRead=True
        ).get("Item")
        return _email_hash_of(item)

    # -- payment references ------------------------------------------------------------
    # A reference names its payment as ``payment_key``, out of the ``ByTransactionKey``
    # index (which only needs the ledger's events); references stored before that still
    # say ``transaction_key``, and are read and matched the same.
    def put_payment_ref(self, provider: str, ref: str, transaction_key: str) -> None:
        self._client.put_item(
            TableName=self._table,
            Item=keyed_item(keys.payment_ref(provider, ref), {_PAYMENT_KEY: transaction_key}),
        )

    def claim_payment_ref(self, provider: str, ref: str, transaction_key: str) -> bool:
        """Point ``ref`` at ``transaction_key`` unless it points elsewhere already; True when
        it now points here."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=keyed_item(keys.payment_ref(provider, ref), {_PAYMENT_KEY: transaction_key}),
                ConditionExpression="attribute_not_exists(pk) OR payment_key = :key OR transaction_key = :key",
                ExpressionAttributeValues={":key": {"S": transaction_key}},
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def find_payment_key(self, provider: str, ref: str) -> str | None:
        response = self._client.get_item(
            TableName=self._table, Key=key(keys.payment_ref(provider, ref)), ConsistentRead=True
        )
        item = response.get("Item")
        return payment_key_of(item)


class ReferralSnapshot:
    """The answers of one ``read_ahead``: what it fetched is answered from memory, anything
    else is read from the table, so a caller asking beyond the plan stays correct."""

    def __init__(self, store: ReferralsStore, items: Mapping[keys.Key, Mapping[str, Any] | None]) -> None:
        self._store = store
        self._items = items

    def _answer(self, where: keys.Key, parse: Callable[[Mapping[str, Any] | None], T], read: Callable[[], T]) -> T:
        return parse(self._items[where]) if where in self._items else read()

    def find_referral(self, customer_key: str) -> Referral | None:
        return self._answer(
            keys.referral(customer_key),
            lambda item: _referral_of(customer_key, item),
            lambda: self._store.find_referral(customer_key),
        )

    def find_customer_key(self, kind: str, value: str) -> str | None:
        return self._answer(
            keys.alias(kind, value), _customer_key_of, lambda: self._store.find_customer_key(kind, value)
        )

    def find_email_hash(self, provider: str, customer_id: str) -> str | None:
        return self._answer(
            keys.profile(provider, customer_id),
            _email_hash_of,
            lambda: self._store.find_email_hash(provider, customer_id),
        )

    def read_ahead(
        self, customer_key: str | None, identifiers: Sequence[Identifier], profile: tuple[str, str] | None
    ) -> ReferralSnapshot:
        return self._store.read_ahead(customer_key, identifiers, profile)
