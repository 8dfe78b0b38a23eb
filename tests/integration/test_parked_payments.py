"""ParkedPayments on moto's DynamoDB: what a released sale brings with it."""

from __future__ import annotations

import boto3
from moto import mock_aws

from affiliate_bridge.domain.events import CustomerRefs, Payment
from affiliate_bridge.domain.money import Money
from affiliate_bridge.storage.parked_payments import ParkedPayments
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
