"""ParkedPayments on moto's DynamoDB: what a released sale brings with it, and parking
that refuses, writing nothing, while a referral claims one of the sale's identifiers."""

from __future__ import annotations

from dataclasses import replace

import boto3
import pytest
from moto import mock_aws

from affiliate_bridge.domain.events import CustomerRefs, Payment
from affiliate_bridge.domain.money import Money
from affiliate_bridge.domain.referrals import Referral
from affiliate_bridge.storage.parked_payments import ParkedPayments
from affiliate_bridge.storage.referrals import ReferralsStore
from affiliate_bridge_dev.template_resources import create_resources


def _invoice(refs: tuple[str, ...], event_id: str) -> Payment:
    money = Money(5000, "EUR")
    return Payment("stripe", event_id, "invoice.paid", "stripe-in_1", money, money, 1, CustomerRefs(), refs)


def test_parking_the_same_sale_again_keeps_every_alias_key() -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        table = create_resources(client, boto3.client("sqs", region_name="us-east-1")).table_name
        parked = ParkedPayments(client, table)
        parked.park(_invoice(("pi_1", "ch_1"), "evt_legacy"), [("stripe_customer", "cus_1")], 3600)
        parked.park(_invoice((), "evt_basil"), [("stripe_customer", "cus_1")], 3600)
        parked.park(_invoice(("pi_1",), "evt_again"), [("stripe_customer", "cus_1")], 3600)
        [found] = parked.find("stripe_customer", "cus_1")
        assert found.alias_keys == ("stripe-pi_1", "stripe-ch_1")
        assert found.event_id == "evt_again" and found.paid_minor == 5000


IDENTIFIERS = [("customer_key", "u-1"), ("stripe_customer", "cus_1"), ("email", "h" * 64)]


def _claims(store: ReferralsStore, claim: str) -> None:
    """Store what claims one identifier of IDENTIFIERS (or a customer key claim undone)."""
    if claim == "customer key":
        store.put_referral(Referral("u-1", "ann"))
    elif claim == "provider customer id":
        store.put_alias("stripe_customer", "cus_1", "someone-else")
    elif claim == "email":
        store.put_alias("email", "h" * 64, "someone-else")
    elif claim == "deleted customer key":
        store.put_referral(Referral("u-1", "ann"))
        store.mark_deleted("u-1", 1, "partnero")
    elif claim == "tombstone only":
        store.mark_deleted("u-1", 1, "partnero")


@pytest.mark.parametrize(
    ("claim", "parks"),
    [
        ("nothing", True),
        ("customer key", False),
        ("provider customer id", False),
        ("email", False),
        ("deleted customer key", True),  # deleted: no referral in force claims it
        ("tombstone only", True),
    ],
)
def test_parking_unless_claimed_parks_as_park_does_or_writes_nothing(claim: str, parks: bool) -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        table = create_resources(client, boto3.client("sqs", region_name="us-east-1")).table_name
        parked, store = ParkedPayments(client, table), ReferralsStore(client, table)
        _claims(store, claim)
        sale = _invoice(("pi_1",), "evt_1")
        expires_at = parked.park_unless_claimed(sale, IDENTIFIERS, 3600)
        found = {identifier: parked.find(*identifier) for identifier in IDENTIFIERS}
        if not parks:
            assert expires_at is None and all(parked == [] for parked in found.values())
            return
        assert expires_at is not None
        plain = ParkedPayments(client, table)
        plain.park(replace(sale, transaction_key="stripe-in_2"), IDENTIFIERS, 3600)
        for identifier in IDENTIFIERS:
            [ours, by_park] = sorted(parked.find(*identifier), key=lambda p: p.transaction_key)
            assert ours.transaction_key == "stripe-in_1" and ours.alias_keys == ("stripe-pi_1",)
            assert replace(by_park, transaction_key=ours.transaction_key, expires_at=ours.expires_at) == ours
            assert abs(by_park.expires_at - expires_at) <= 2


def test_a_second_parking_unless_claimed_keeps_every_alias_key() -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        table = create_resources(client, boto3.client("sqs", region_name="us-east-1")).table_name
        parked = ParkedPayments(client, table)
        assert parked.park_unless_claimed(_invoice(("pi_1", "ch_1"), "evt_legacy"), IDENTIFIERS[1:2], 3600)
        assert parked.park_unless_claimed(_invoice(("pi_1",), "evt_again"), IDENTIFIERS[1:2], 3600)
        [found] = parked.find("stripe_customer", "cus_1")
        assert found.alias_keys == ("stripe-pi_1", "stripe-ch_1") and found.event_id == "evt_again"
