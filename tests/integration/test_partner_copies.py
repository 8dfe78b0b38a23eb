"""An alias's copy of its partner is never stale, whatever runs between two steps.

A partner change (last touch) or a deletion takes several calls: lock the referral, take
the copy off each alias, change the referral. Between any two of them (and before the
first, and after the last) a webhook may be writing a learned alias with the partner it
saw a moment ago, or the function may die. The real store on moto's DynamoDB; the
interruption is injected at the client, after the n-th call of the change.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from affiliate_bridge.attribution.rules import attribute
from affiliate_bridge.domain.events import CustomerRefs
from affiliate_bridge.domain.identity import email_hash
from affiliate_bridge.domain.referrals import Referral
from affiliate_bridge.storage import keys
from affiliate_bridge.storage.referrals import ConcurrentChange, ReferralsStore
from affiliate_bridge_dev.template_resources import create_resources
from tests.integration.test_read_ahead import SequentialReads, assert_copies_true

_RUNS = itertools.count()
# Calls a change makes at the most here: lock, two aliases' copies off, the referral
# (a last touch reads it first, then writes its aliases with new copies).
MAX_STEPS = 9


class Crash(Exception):
    pass


class Interrupting:
    """The real client; after its ``at``-th call, ``interrupt`` runs (once)."""

    def __init__(self, client: Any, at: int, interrupt: Callable[[], None]) -> None:
        self._client, self._at, self._interrupt = client, at, interrupt
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.calls == self._at:
                self.calls += 1
                self._interrupt()
            self.calls += 1
            return method(*args, **kwargs)

        return call


class OneCallAtATime:
    """The real client, each call whole: DynamoDB applies a call (a transaction too)
    atomically, and moto in-process does not by itself under threads. Threads still
    interleave between any two calls, which is where the races are."""

    _lock = threading.Lock()

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return method(*args, **kwargs)

        return call


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[tuple[Any, str]]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        yield client, create_resources(client, boto3.client("sqs", region_name="us-east-1")).table_name


def _referred(client: Any, table: str) -> tuple[str, ReferralsStore]:
    prefix = f"pc{next(_RUNS)}-"
    store = ReferralsStore(client, table)
    store.put_referral(
        Referral(prefix + "c1", "p1", prefix + "a@example.com", (("stripe", prefix + "cus_1"),)),
    )
    return prefix, store


def _change(store: ReferralsStore, prefix: str, change: str) -> None:
    if change == "delete":
        store.mark_deleted(prefix + "c1", 10, "platform")
    else:
        store.put_referral(
            Referral(prefix + "c1", "p2", prefix + "a@example.com", (("stripe", prefix + "cus_1"),)), last_touch=True
        )


def _agree(store: ReferralsStore, prefix: str) -> None:
    """Every payment shape is attributed from the copies exactly as from the referral."""
    for cus in ("cus_1", "cus_2"):
        payment = CustomerRefs(provider_customer_id=prefix + cus)
        assert attribute("stripe", payment, store) == attribute("stripe", payment, SequentialReads(store))
    payment = CustomerRefs(email=prefix + "a@example.com")
    assert attribute("stripe", payment, store) == attribute("stripe", payment, SequentialReads(store))


@pytest.mark.parametrize("change", ["delete", "last_touch"])
@pytest.mark.parametrize("at", range(MAX_STEPS))
def test_a_copy_written_between_any_two_steps_of_a_change_is_never_stale(
    dynamodb: tuple[Any, str], change: str, at: int
) -> None:
    client, table = dynamodb
    prefix, plain = _referred(client, table)

    def webhook_learns_an_alias() -> None:  # it saw p1 a moment ago
        plain.put_alias("stripe_customer", prefix + "cus_2", prefix + "c1", partner_key="p1")

    _change(ReferralsStore(Interrupting(client, at, webhook_learns_an_alias), table), prefix, change)
    assert_copies_true(client, table, prefix)
    _agree(plain, prefix)
    expected = None if change == "delete" else "p2"
    assert attribute("stripe", CustomerRefs(provider_customer_id=prefix + "cus_1"), plain).partner_key == expected


@pytest.mark.parametrize("change", ["delete", "last_touch"])
@pytest.mark.parametrize("at", range(MAX_STEPS))
def test_a_change_that_dies_between_any_two_steps_leaves_no_stale_copy_and_its_retry_completes(
    dynamodb: tuple[Any, str], change: str, at: int
) -> None:
    client, table = dynamodb
    prefix, plain = _referred(client, table)

    def die() -> None:
        raise Crash

    try:
        _change(ReferralsStore(Interrupting(client, at, die), table), prefix, change)
    except Crash:
        assert_copies_true(client, table, prefix)
        _agree(plain, prefix)
        _change(plain, prefix, change)  # the caller's retry (a 5xx answered, sent again)
    assert_copies_true(client, table, prefix)
    _agree(plain, prefix)
    expected = None if change == "delete" else "p2"
    assert attribute("stripe", CustomerRefs(email=prefix + "a@example.com"), plain).partner_key == expected


def test_real_threads_flipping_the_partner_while_webhooks_learn_aliases(dynamodb: tuple[Any, str]) -> None:
    """Last touch flips the partner back and forth while other threads write learned
    aliases with whichever partner they last saw; no copy may outlive its partner."""
    raw, table = dynamodb
    client = OneCallAtATime(raw)
    prefix, plain = _referred(client, table)
    stop = threading.Event()
    errors: list[BaseException] = []

    def learner(n: int) -> None:
        try:
            for i in itertools.count():
                if stop.is_set():
                    return
                seen = plain.find_referral(prefix + "c1")
                if seen is not None:
                    alias = f"{prefix}cus_t{n}_{i % 3}"
                    plain.put_alias("stripe_customer", alias, prefix + "c1", True, seen.partner_key)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=learner, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for i in range(12):
        plain.put_referral(Referral(prefix + "c1", f"p{i % 2 + 1}", prefix + "a@example.com"), last_touch=True)
    stop.set()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    final = plain.find_referral(prefix + "c1")
    assert final is not None and final.partner_key == "p2"
    for n, i in itertools.product(range(3), range(3)):
        payment = CustomerRefs(provider_customer_id=f"{prefix}cus_t{n}_{i}")
        assert attribute("stripe", payment, plain) == attribute("stripe", payment, SequentialReads(plain))
    assert_copies_true(client, table, prefix)


@pytest.mark.parametrize("change", ["delete", "last_touch"])
@pytest.mark.parametrize("at", range(MAX_STEPS))
def test_another_whole_change_between_any_two_steps_of_a_change_leaves_no_stale_copy(
    dynamodb: tuple[Any, str], change: str, at: int
) -> None:
    """A second last touch runs whole (lock, copies off, new partner, new copies, a
    learned alias with the new partner) in the middle of the first change."""
    client, table = dynamodb
    prefix, plain = _referred(client, table)

    def another_change() -> None:
        plain.put_referral(
            Referral(prefix + "c1", "p3", prefix + "a@example.com", (("stripe", prefix + "cus_1"),)), last_touch=True
        )
        plain.put_alias("stripe_customer", prefix + "cus_2", prefix + "c1", partner_key="p3")

    _change(ReferralsStore(Interrupting(client, at, another_change), table), prefix, change)
    assert_copies_true(client, table, prefix)
    _agree(plain, prefix)


class LockThief:
    """The real client; just before a change is written, another change takes the lock."""

    def __init__(self, client: Any, table: str) -> None:
        self._client, self._table = client, table

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if "copies_locked = :lock" in kwargs.get("ConditionExpression", ""):
                self._client.update_item(
                    TableName=self._table,
                    Key=kwargs.get("Key") or {"pk": kwargs["Item"]["pk"], "sk": kwargs["Item"]["sk"]},
                    UpdateExpression="SET copies_locked = :other",
                    ExpressionAttributeValues={":other": {"S": "another-change"}},
                )
            return method(*args, **kwargs)

        return call


@pytest.mark.parametrize("change", ["delete", "last_touch"])
def test_a_change_whose_lock_is_always_taken_gives_up_changing_nothing(dynamodb: tuple[Any, str], change: str) -> None:
    client, table = dynamodb
    prefix, plain = _referred(client, table)
    with pytest.raises(ConcurrentChange):
        _change(ReferralsStore(LockThief(client, table), table), prefix, change)
    referral = plain.find_referral(prefix + "c1")
    assert referral is not None and referral.partner_key == "p1"
    assert_copies_true(client, table, prefix)
    _agree(plain, prefix)


def test_a_deletion_of_an_unseen_customer_racing_its_creation_leaves_no_copy(dynamodb: tuple[Any, str]) -> None:
    """Found in review: nothing is stored when the deletion looks, so there is nothing to
    lock; the customer is created (aliases with copies) before the deletion is written.
    The tombstone is written only if still nothing is stored; else the deletion starts
    again and takes the new copies off."""
    client, table = dynamodb
    prefix = f"pc{next(_RUNS)}-"
    plain = ReferralsStore(client, table)

    def backend_creates() -> None:
        plain.put_referral(Referral(prefix + "c1", "p1", prefix + "a@example.com", (("stripe", prefix + "cus_1"),)))

    deleting = ReferralsStore(Interrupting(client, 2, backend_creates), table)  # after the read and the lock
    deleting.mark_deleted(prefix + "c1", 10, "platform")
    assert plain.find_referral(prefix + "c1") is None
    assert_copies_true(client, table, prefix)
    _agree(plain, prefix)


def test_a_stale_deletion_takes_no_copy_off_and_leaves_no_lock(dynamodb: tuple[Any, str]) -> None:
    """Found in review: an older deletion arriving late changes nothing, so the customer's
    aliases keep (and still get) the partner's copy."""
    client, table = dynamodb
    prefix = f"pc{next(_RUNS)}-"
    store = ReferralsStore(client, table)
    store.put_referral(Referral(prefix + "c1", "p1", prefix + "a@example.com"), platform_at_ms=100)
    assert store.mark_deleted(prefix + "c1", 50, "platform").value == "stale"
    store.put_alias("stripe_customer", prefix + "cus_9", prefix + "c1", partner_key="p1")
    for where in (
        keys.alias("stripe_customer", prefix + "cus_9"),
        keys.alias("email", email_hash(prefix + "a@example.com")),
    ):
        item = client.get_item(TableName=table, Key={"pk": {"S": where.pk}, "sk": {"S": where.sk}})["Item"]
        assert item["partner_key"] == {"S": "p1"}, item


def test_an_older_deletion_landing_after_a_newer_creation_was_refused_does_not_win(
    dynamodb: tuple[Any, str],
) -> None:
    """Found in review (older than the copies): the platform's customer.created at 100
    (partner p2) is refused while p1 is in force; its deletion at 50 lands before the
    creation looks again. The newest word is the creation: it is created, not answered
    `unchanged` over a tombstone (whose clock would then refuse its retry as stale)."""
    client, table = dynamodb
    prefix = f"pc{next(_RUNS)}-"
    plain = ReferralsStore(client, table)
    plain.put_referral(Referral(prefix + "c1", "p1", prefix + "a@example.com"), platform_at_ms=10)

    def older_deletion() -> None:
        assert plain.mark_deleted(prefix + "c1", 50, "platform").value == "deleted"

    racing = ReferralsStore(Interrupting(client, 1, older_deletion), table)  # after the refused write
    outcome, current = racing.put_referral(Referral(prefix + "c1", "p2", prefix + "a@example.com"), platform_at_ms=100)
    assert (outcome.value, current.partner_key) == ("created", "p2")
    found = plain.find_referral(prefix + "c1")
    assert found is not None and found.partner_key == "p2"
    retry, _ = plain.put_referral(Referral(prefix + "c1", "p2", prefix + "a@example.com"), platform_at_ms=100)
    assert retry.value == "unchanged"
    assert_copies_true(client, table, prefix)
    _agree(plain, prefix)
