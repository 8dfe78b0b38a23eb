"""The unit tests' MemoryReferrals must answer like the real ReferralsStore (and
MemoryParking must find the same identifiers claimed as ParkedPayments).

The same random sequences of writes (backend and platform referrals, first and last
touch, deletions in any time order, aliases) go to both, the fake in memory and the
store on moto's DynamoDB; every answer and every lookup afterwards must agree. A fake
that drifts from the store would let unit tests pass on behaviour production lacks.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from affiliate_bridge.domain.events import CustomerRefs, Payment
from affiliate_bridge.domain.identity import email_hash
from affiliate_bridge.domain.money import Money
from affiliate_bridge.domain.referrals import CUSTOMER_KEY, EMAIL, Referral, provider_customer_kind
from affiliate_bridge.storage.parked_payments import ParkedPayments
from affiliate_bridge.storage.referrals import ReferralsStore
from affiliate_bridge_dev.template_resources import create_resources
from tests.unit.fakes import MemoryParking, MemoryReferrals

_RUNS = itertools.count()  # a fresh namespace per example: the table is shared
CUSTOMERS = ["c1", "c2"]
PARTNERS = ["p1", "p2"]
EMAILS = [None, "a@example.com", "b@example.com"]
STRIPE_IDS = [None, "cus_1", "cus_2"]

referrals = st.builds(
    lambda customer, partner, email, stripe_id: Referral(
        customer, partner, email, (("stripe", stripe_id),) if stripe_id else ()
    ),
    st.sampled_from(CUSTOMERS),
    st.sampled_from(PARTNERS),
    st.sampled_from(EMAILS),
    st.sampled_from(STRIPE_IDS),
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("put"), referrals, st.booleans(), st.none() | st.integers(1, 5)),
        st.tuples(st.just("delete"), st.sampled_from(CUSTOMERS), st.integers(1, 5)),
    ),
    min_size=1,
    max_size=8,
)


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        yield client, create_resources(client, boto3.client("sqs", region_name="us-east-1")).table_name


def _apply(store: Any, operation: tuple[Any, ...]) -> str:
    if operation[0] == "put":
        _, referral, last_touch, at = operation
        outcome, current = store.put_referral(referral, last_touch=last_touch, platform_at_ms=at)
        return f"{outcome}:{current.customer_key}:{current.partner_key}"
    _, customer_key, at = operation
    return str(store.mark_deleted(customer_key, at, "platform"))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=operations)
def test_the_fake_answers_like_the_store(dynamodb: Any, sequence: list[tuple[Any, ...]]) -> None:
    client, table = dynamodb
    prefix = f"run{next(_RUNS)}-"

    def scoped(operation: tuple[Any, ...]) -> tuple[Any, ...]:
        """A fresh namespace per example: the table is shared across examples."""
        if operation[0] == "put":
            referral = operation[1]
            ids = tuple((p, prefix + v) for p, v in referral.provider_customer_ids)
            email = prefix + referral.email if referral.email else None
            moved = Referral(prefix + referral.customer_key, referral.partner_key, email, ids)
            return ("put", moved, *operation[2:])
        return ("delete", prefix + operation[1], operation[2])

    real, fake = ReferralsStore(client, table), MemoryReferrals()
    for operation in map(scoped, sequence):
        assert _apply(fake, operation) == _apply(real, operation), operation
    assert _view(fake, prefix) == _view(real, prefix)
    # What each store's state claims, as parking asks it (MemoryParking vs ParkedPayments).
    real_parking, fake_parking = ParkedPayments(client, table), MemoryParking(fake)
    for identifier in _identifiers(prefix):
        sale = _sale(f"{prefix}{identifier[0]}")
        assert (fake_parking.park_unless_claimed(sale, [identifier], 60) is None) == (
            real_parking.park_unless_claimed(sale, [identifier], 60) is None
        ), identifier


def _identifiers(prefix: str) -> list[tuple[str, str]]:
    return (
        [(CUSTOMER_KEY, prefix + customer) for customer in CUSTOMERS]
        + [(EMAIL, email_hash(prefix + str(email))) for email in EMAILS[1:]]
        + [(provider_customer_kind("stripe"), prefix + str(stripe_id)) for stripe_id in STRIPE_IDS[1:]]
    )


def _sale(transaction_key: str) -> Payment:
    money = Money(100, "EUR")
    return Payment("stripe", f"evt-{transaction_key}", "invoice.paid", transaction_key, money, money, 1, CustomerRefs())


def _view(store: Any, prefix: str) -> list[Any]:
    seen: list[Any] = []
    for customer in CUSTOMERS:
        referral = store.find_referral(prefix + customer)
        seen.append((customer, referral.partner_key if referral else None))
    for email in EMAILS[1:]:
        seen.append(store.find_customer_key(EMAIL, email_hash(prefix + str(email))))
    for stripe_id in STRIPE_IDS[1:]:
        seen.append(store.find_customer_key(provider_customer_kind("stripe"), prefix + str(stripe_id)))
    return seen
