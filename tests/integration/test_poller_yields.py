"""`make run`'s SQS poller holds a batch while webhooks are being answered, and never for
longer than MAX_YIELD_SECONDS at a time, so a steady stream of webhooks cannot starve
the forwarder (event_source_mapping, on moto's SQS)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from affiliate_bridge_dev import event_source_mapping
from affiliate_bridge_dev.event_source_mapping import EventSourceMapping


@pytest.fixture
def queue() -> Iterator[tuple[Any, str]]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(
            QueueName="held.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
        )["QueueUrl"]
        yield sqs, url


def _run(sqs: Any, url: str, busy: threading.Event) -> tuple[list[float], threading.Event, threading.Thread]:
    handled: list[float] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        handled.extend(time.monotonic() for _ in event["Records"])
        return {"batchItemFailures": []}

    mapping = EventSourceMapping(sqs, url, handler, yield_to=busy.is_set)
    stop = threading.Event()
    poller = threading.Thread(target=mapping.run_forever, args=(stop, 0), daemon=True)
    poller.start()
    return handled, stop, poller


def _wait(condition: Any, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_batch_waits_while_a_webhook_is_answered_and_goes_once_none_is(queue: tuple[Any, str]) -> None:
    sqs, url = queue
    busy = threading.Event()
    busy.set()
    handled, stop, poller = _run(sqs, url, busy)
    sqs.send_message(QueueUrl=url, MessageBody="sale", MessageGroupId="g")
    time.sleep(0.3)  # well under MAX_YIELD_SECONDS
    assert handled == []
    quiet_at = time.monotonic()
    busy.clear()
    _wait(lambda: handled)
    stop.set()
    poller.join(5)
    assert len(handled) == 1 and handled[0] >= quiet_at


def test_a_steady_stream_of_webhooks_holds_a_batch_back_only_so_long(
    queue: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_source_mapping, "MAX_YIELD_SECONDS", 0.2)
    sqs, url = queue
    busy = threading.Event()
    busy.set()  # and never cleared
    handled, stop, poller = _run(sqs, url, busy)
    for n in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"sale {n}", MessageGroupId=f"g{n}")
    _wait(lambda: len(handled) == 3)
    stop.set()
    poller.join(5)
    assert len(handled) == 3
