"""The moto patch changes how fast queue attributes are read, never what they are."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.sqs.models import Queue

from affiliate_bridge_dev import moto_speedups

ORIGINAL = Queue.attributes  # taken before any test applies the patch


def _queues(sqs: Any) -> list[Queue]:
    dead = sqs.create_queue(QueueName="dead.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.create_queue(QueueName="plain")
    sqs.create_queue(QueueName="kms", Attributes={"KmsMasterKeyId": "alias/aws/sqs"})
    sqs.create_queue(
        QueueName="main.fifo",
        Attributes={
            "FifoQueue": "true",
            "ContentBasedDeduplication": "true",
            "VisibilityTimeout": "42",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": 3}),
            "Policy": json.dumps({"Version": "2012-10-17", "Statement": []}),
        },
    )
    from moto.sqs.models import sqs_backends

    return list(sqs_backends["123456789012"]["us-east-1"].queues.values())


@pytest.fixture
def patched() -> Any:
    moto_speedups.apply()
    yield
    Queue.attributes = ORIGINAL  # type: ignore[method-assign]
    moto_speedups._APPLIED = False


def test_every_attribute_reads_the_same_with_the_patch(patched: None) -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        queues = _queues(sqs)
        for queue in queues:
            sqs.send_message(QueueUrl=queue.url(_Url()), MessageBody="m", **_fifo(queue))
        for queue in queues:
            lazy = Queue.attributes.fget(queue)  # type: ignore[attr-defined]
            built = ORIGINAL.fget(queue)  # type: ignore[attr-defined]
            assert dict(lazy) == built, queue.name
            assert lazy == built and len(lazy) == len(built) and set(lazy) == set(built)
            assert lazy.get("NoSuchAttribute") is None
        # Through the API too: a full GetQueueAttributes is unchanged.
        answers = {
            queue.name: sqs.get_queue_attributes(QueueUrl=queue.url(_Url()), AttributeNames=["All"])["Attributes"]
            for queue in queues
        }
    assert answers["main.fifo"]["ContentBasedDeduplication"] == "true"
    assert answers["main.fifo"]["ApproximateNumberOfMessages"] == "1"
    assert json.loads(answers["main.fifo"]["RedrivePolicy"])["maxReceiveCount"] == 3
    assert "KmsMasterKeyId" in answers["kms"] and "FifoQueue" not in answers["plain"]


def test_a_fifo_send_no_longer_counts_the_queue(patched: None, monkeypatch: pytest.MonkeyPatch) -> None:
    counted: list[str] = []
    original = Queue.approximate_number_of_messages.fget  # type: ignore[attr-defined]

    def counting(queue: Queue) -> int:
        counted.append(queue.name)
        return int(original(queue))

    monkeypatch.setattr(Queue, "approximate_number_of_messages", property(counting))
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        for n in range(5):
            sqs.send_message(QueueUrl=url, MessageBody="m", MessageGroupId="g", MessageDeduplicationId=str(n))
        assert counted == []  # unpatched, each send counts the queue four times
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "5" and counted


def _fifo(queue: Queue) -> dict[str, str]:
    return {"MessageGroupId": "g", "MessageDeduplicationId": "d"} if queue.fifo_queue else {}


class _Url:
    scheme = "https"
    netloc = "sqs.us-east-1.amazonaws.com"
