"""An attributed sale's ledger entry rides in its queue message; the forwarder writes it.

The webhook answers after two or three AWS calls instead of one more; these tests hold
what the webhook's own write promised: the entry is written when the message is received,
before the affiliate API is called, it counts the provider's delivery once however
often SQS hands the message out, and a refused write leaves the message in the queue.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from affiliate_bridge.storage import keys
from affiliate_bridge_dev import stripe_samples as s
from tests.integration.conftest import Bridge


def _entry(bridge: Bridge, event_id: str) -> dict[str, Any] | None:
    where = keys.event("stripe", event_id)
    item: dict[str, Any] | None = bridge.dynamodb.get_item(
        TableName=bridge.resources.table_name, Key={"pk": {"S": where.pk}, "sk": {"S": where.sk}}, ConsistentRead=True
    ).get("Item")
    return item


def _sale(bridge: Bridge) -> dict[str, Any]:
    bridge.add_referral(customer_key="user-e", partner_key="erin", stripe_customer_id="cus_e")
    event = s.event("invoice.paid", s.invoice(amount_paid=2500, customer="cus_e"))
    assert bridge.post_stripe(event)["statusCode"] == 200
    return event


def test_the_forwarder_writes_the_entry_once_and_counts_one_delivery_across_retries(bridge: Bridge) -> None:
    event = _sale(bridge)
    assert _entry(bridge, event["id"]) is None  # in the queue, not yet received
    bridge.inject_fault(503, 2)  # two receives end in a retry, the third forwards
    bridge.drain()
    entry = _entry(bridge, event["id"])
    assert entry is not None
    assert entry["outcome"]["S"] == "enqueued"
    assert entry["partner_key"]["S"] == "erin" and entry["customer_key"]["S"] == "user-e"
    assert entry["attribution_rule"]["S"] == "provider_customer_id"
    assert entry["payment_kind"]["S"] == "sale"
    assert entry["transaction_key"]["S"] == f"stripe-{event['data']['object']['id']}"
    assert entry["message_id"]["S"]
    assert entry["deliveries"]["N"] == "1"
    assert bridge.active_transactions() == {f"stripe-{event['data']['object']['id']}": (25.0, "user-e")}


def test_a_refused_entry_write_keeps_the_message_and_calls_nothing(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DynamoDB refuses the forwarder's write of the entry: the record is reported failed
    before any affiliate API call, so the message stays in the queue for SQS to hand out
    again after its visibility timeout (the same path as the test above from there)."""
    event = _sale(bridge)
    real = BaseClient._make_api_call
    refused: list[str] = []

    def refusing(client: BaseClient, operation: str, params: dict) -> Any:
        if operation == "UpdateItem":
            refused.append(operation)
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, operation)
        return real(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", refusing)
    bridge.drain(timeout=2)
    monkeypatch.setattr(BaseClient, "_make_api_call", real)
    assert refused == ["UpdateItem"]
    assert _entry(bridge, event["id"]) is None
    assert bridge.queue_depth() == 1  # in flight, not deleted
    assert bridge.sandbox_state()["transactions"] == {}


def _moved_back_by_sqs(bridge: Bridge) -> None:
    """SQS's own redrive: the dead letter goes back to the queue under a new message id,
    with the attributes it had in the dead-letter queue."""
    (letter,) = bridge.sqs.receive_message(
        QueueUrl=bridge.resources.dead_letter_queue_url,
        MessageAttributeNames=["All"],
        AttributeNames=["All"],
        MaxNumberOfMessages=10,
    )["Messages"]
    bridge.sqs.send_message(
        QueueUrl=bridge.resources.queue_url,
        MessageBody=letter["Body"],
        MessageGroupId=letter["Attributes"]["MessageGroupId"],
        MessageDeduplicationId="moved-back-by-sqs",
        MessageAttributes=letter.get("MessageAttributes", {}),
    )
    bridge.sqs.delete_message(QueueUrl=bridge.resources.dead_letter_queue_url, ReceiptHandle=letter["ReceiptHandle"])


@pytest.mark.parametrize(
    ("fault", "dead_lettered_by"),
    [
        ((422, 1), "the forwarder (a refusal: the letter carries source_message_id)"),
        ((503, 3), "the queue (MaxReceiveCount retries: the letter carries nothing of ours)"),
    ],
)
def test_a_letter_sqs_moved_back_keeps_the_first_entry_and_one_delivery(
    bridge: Bridge, fault: tuple[int, int], dead_lettered_by: str
) -> None:
    """Found in review: SQS's own redrive (the console's, not `dlq redrive`) brings a
    letter back under a new id; the entry keeps the enqueue's id and one delivery."""
    event = _sale(bridge)
    bridge.inject_fault(*fault)
    bridge.drain()
    first = _entry(bridge, event["id"])
    assert first is not None and first["deliveries"]["N"] == "1", dead_lettered_by
    _moved_back_by_sqs(bridge)
    bridge.drain()
    entry = _entry(bridge, event["id"])
    assert entry is not None
    assert entry["message_id"] == first["message_id"] and entry["deliveries"]["N"] == "1"
    assert len(bridge.active_transactions()) == 1
