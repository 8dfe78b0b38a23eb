"""`dlq list` and `dlq redrive` against a FIFO dead-letter queue whose groups hold more
messages than SQS hands out at once."""

from __future__ import annotations

from affiliate_bridge_dev.operations import list_dead_letters, queue_count, redrive
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
    assert sorted(moved) == sorted(ids)
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
