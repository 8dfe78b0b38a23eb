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


def _resolved(client: Any, call: Any) -> tuple[str, str, str]:
    """Where a call goes and the scope it is signed for (the request is answered locally)."""
    sent: list[Any] = []
    client.meta.events.register(f"before-send.{client.meta.service_model.endpoint_prefix}", _answering(sent, b"{}"))
    try:
        call(client)
    except Exception:
        if not sent:
            raise  # refused before sending: the caller compares the refusal
    credential = sent[0].headers["Authorization"].decode().split("Credential=")[1].split(",")[0]
    return client.meta.endpoint_url, sent[0].url, credential.split("/", 2)[2]


CALLS = {
    "dynamodb": lambda client: client.get_item(TableName="t", Key={"pk": {"S": "a"}}),
    "sqs": lambda client: client.send_message(QueueUrl="https://sqs.example/1/q", MessageBody="m"),
}


def test_the_cut_endpoint_data_resolves_every_region_as_botocore_s_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every region of every partition, plain, FIPS and dual-stack: the same URL and the
    same signing scope from our session as from a stock boto3 session."""
    import boto3
    from botocore.config import Config

    from affiliate_bridge.edge.aws_clients import session

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    ours, stock = session(), boto3.Session()
    assert ours._session.get_component("data_loader").load_data("endpoints") != stock._session.get_component(
        "data_loader"
    ).load_data("endpoints")  # ours really is the cut file
    regions = sorted(
        region for partition in stock._session.get_component("data_loader").load_data("endpoints")["partitions"]
        for region in partition["regions"]
    )  # fmt: skip
    assert len(regions) > 30
    compared = 0
    for region in regions:
        for variant in ({}, {"use_fips_endpoint": True}, {"use_dualstack_endpoint": True}):
            for service, call in CALLS.items():
                config = Config(region_name=region, **variant)
                try:
                    expected = _resolved(stock.client(service, config=config), call)
                except Exception as refused:  # a variant a region lacks: ours must refuse it too
                    with pytest.raises(type(refused)):
                        _resolved(ours.client(service, config=config), call)
                    continue
                assert _resolved(ours.client(service, config=config), call) == expected, (region, variant, service)
                compared += 1
    assert compared > 200
