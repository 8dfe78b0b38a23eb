"""The embedded AWS in its own process answers SDK calls without moto's browser CORS hook
(``moto_process``: no browser calls it, and the hook cost ~7 % of a call)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from http.client import HTTPConnection

import pytest

from affiliate_bridge_dev.moto_process import MotoProcess


@pytest.fixture(scope="module")
def embedded_aws() -> Iterator[MotoProcess]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = MotoProcess(port)
    yield process
    process.stop()


def test_a_request_from_a_browser_origin_gets_no_cors_grant(embedded_aws: MotoProcess) -> None:
    connection = HTTPConnection(embedded_aws.url.removeprefix("http://"), timeout=10)
    connection.request(
        "POST",
        "/",
        body=b"{}",
        headers={
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            "Content-Type": "application/x-amz-json-1.0",
            "Origin": "https://attacker.example",
            "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, Signature=0",
        },
    )
    answer = connection.getresponse()
    assert answer.status == 200 and b"TableNames" in answer.read()
    assert not [name for name, _ in answer.getheaders() if name.lower().startswith("access-control-")]
    connection.close()
