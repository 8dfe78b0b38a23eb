"""The functions' AWS clients send one User-Agent, fixed when they are built.

botocore would otherwise rebuild the header twice per call (``edge.aws_clients``); the
fixed one must name the bridge, stay the same on every call, and leave signing alone.
"""

from __future__ import annotations

from typing import Any

import botocore
import pytest
from botocore.awsrequest import AWSResponse

from affiliate_bridge.edge.aws_clients import USER_AGENT, table_and_queue_clients


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


def _answering(sent: list[Any], body: bytes) -> Any:
    def before_send(request: Any, **_: Any) -> AWSResponse:
        sent.append(request)
        return AWSResponse(request.url, 200, {"content-type": "application/x-amz-json-1.0"}, _Body(body))

    return before_send


def test_every_call_carries_the_fixed_user_agent_and_is_still_signed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    dynamodb, sqs = table_and_queue_clients()
    sent: list[Any] = []
    dynamodb.meta.events.register("before-send.dynamodb", _answering(sent, b"{}"))
    sqs.meta.events.register("before-send.sqs", _answering(sent, b'{"MessageId": "m-1"}'))

    for _ in range(2):
        dynamodb.get_item(TableName="t", Key={"pk": {"S": "a"}, "sk": {"S": "b"}})
    sqs.send_message(QueueUrl="https://sqs.eu-west-1.amazonaws.com/1/q.fifo", MessageBody="{}", MessageGroupId="g")

    # Powertools, once imported, appends its own "PT/..." marks to the header: after ours.
    agents = [request.headers["User-Agent"].decode() for request in sent]
    assert len(agents) == 3 and all(
        agent.startswith(f"{USER_AGENT} Botocore/{botocore.__version__}") for agent in agents
    )
    assert len(set(agents[:2])) == 1
    assert USER_AGENT.startswith("affiliate-bridge/")
    assert all(request.headers["Authorization"].startswith(b"AWS4-HMAC-SHA256 ") for request in sent)
