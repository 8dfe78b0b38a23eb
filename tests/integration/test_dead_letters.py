"""`dlq list` and `dlq redrive` against a FIFO dead-letter queue whose groups hold more
messages than SQS hands out at once."""

from __future__ import annotations

import json

from affiliate_bridge_dev import stripe_samples as s
from affiliate_bridge_dev.operations import explain, list_dead_letters, queue_count, redrive
from tests.integration.conftest import Bridge


def _fill(bridge: Bridge) -> list[str]:
    ids = []
    for index in range(18):
        group = "stripe-in_busy" if index < 13 else f"stripe-in_{index}"
        sent = bridge.sqs.send_message(
            QueueUrl=bridge.resources.dead_letter_queue_url,
            MessageBody=f'{{"n": {index}}}',
            MessageGroupId=group,
            MessageDeduplicationId=f"dead-{index}",
        )
        ids.append(sent["MessageId"])
    return ids


def test_list_says_when_it_saw_fewer_than_the_queue_holds(bridge: Bridge) -> None:
    _fill(bridge)
    seen = list_dead_letters(bridge.sqs, bridge.resources.dead_letter_queue_url)
    held = queue_count(bridge.sqs, bridge.resources.dead_letter_queue_url)
    assert held == 18
    # Listing never loses anything, and either saw all or can say how many it missed.
    assert len(seen) <= held and len({letter.message_id for letter in seen}) == len(seen)
    assert len({letter.group for letter in seen}) == 6  # every group is represented


def test_redrive_all_moves_every_message_even_behind_a_locked_group(bridge: Bridge) -> None:
    ids = _fill(bridge)
    moved = redrive(bridge.sqs, bridge.resources.dead_letter_queue_url, bridge.resources.queue_url)
    assert sorted(letter.message_id for letter in moved) == sorted(ids)
    assert queue_count(bridge.sqs, bridge.resources.dead_letter_queue_url) == 0
    assert queue_count(bridge.sqs, bridge.resources.queue_url) == 18
    # In order within the busy group.
    bodies = []
    while True:
        batch = bridge.sqs.receive_message(QueueUrl=bridge.resources.queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        if not batch:
            break
        for message in batch:
            bodies.append(message["Body"])
            bridge.sqs.delete_message(QueueUrl=bridge.resources.queue_url, ReceiptHandle=message["ReceiptHandle"])
    busy = [int(body.split(": ")[1].rstrip("}")) for body in bodies if int(body.split(": ")[1].rstrip("}")) < 13]
    assert busy == list(range(13))


def test_a_dead_letter_keeps_the_ledgers_message_id_across_redrives(bridge: Bridge) -> None:
    """The forwarder and every redrive send a new SQS message; `dlq list`, `dlq redrive`
    and explain still name it by the id the webhook's enqueue got."""
    bridge.add_referral(customer_key="user-1", partner_key="anna", stripe_customer_id="cus_1")
    session = s.checkout_session(amount_total=1000, customer="cus_1")
    event = s.event("checkout.session.completed", session)
    bridge.post_stripe(event)
    dlq = bridge.resources.dead_letter_queue_url
    first_id = None
    for _ in range(2):  # refused, redriven, refused again
        bridge.inject_fault(422, 1)
        bridge.drain()
        # The forwarder writes the entry the message carries, under the enqueue's id; a
        # redrive's receive writes it again under the same id.
        ledger_id = explain(bridge.dynamodb, bridge.resources.table_name, event["id"]).events[0]["message_id"]
        first_id = first_id or ledger_id
        assert ledger_id == first_id
        (letter,) = list_dead_letters(bridge.sqs, dlq)
        assert letter.message_id != ledger_id and letter.origin_message_id == ledger_id
        assert letter.named(ledger_id) and letter.named(letter.message_id)
        assert letter.transaction_key == f"stripe-{session['payment_intent']}"
        (moved,) = redrive(bridge.sqs, dlq, bridge.resources.queue_url, {ledger_id})
        assert moved.origin_message_id == ledger_id
    bridge.drain()
    assert bridge.active_transactions() == {f"stripe-{session['payment_intent']}": (10.0, "user-1")}
    assert json.loads(moved.body)["transaction_key"] == f"stripe-{session['payment_intent']}"
