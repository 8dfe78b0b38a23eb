"""moto's HTTP server keeps a connection for the next request, and never mistakes what
is left of one request's body for the next request."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from http.client import HTTPConnection, HTTPResponse
from typing import Any

import boto3
import pytest

from affiliate_bridge_dev import moto_http

TARGET = {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"}
AUTH = {"Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, Signature=0"}


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    running = moto_http.serve(port)
    yield running
    running.shutdown()


def _port(server: Any) -> int:
    port: int = server.server_address[1]
    return port


def _list_tables(connection: HTTPConnection, body: bytes = b"{}", **headers: str) -> HTTPResponse:
    connection.request("POST", "/", body=body, headers={**TARGET, **AUTH, **headers})
    return connection.getresponse()


def test_one_connection_carries_many_requests(server: Any) -> None:
    connection = HTTPConnection("127.0.0.1", _port(server), timeout=5)
    connection.connect()
    first_socket = connection.sock
    for _ in range(3):
        answer = _list_tables(connection)
        assert answer.status == 200 and json.loads(answer.read()) == {"TableNames": []}
        assert answer.getheader("Connection", "").lower() != "close"
    assert connection.sock is first_socket  # never reconnected
    connection.close()


def test_a_body_the_application_does_not_read_is_not_taken_for_the_next_request(server: Any) -> None:
    connection = HTTPConnection("127.0.0.1", _port(server), timeout=5)
    # moto refuses this route without reading its body; the body looks like requests.
    connection.request("GET", "/moto-api/reset-auth", body=b"POST / HTTP/1.1\r\nHost: x\r\n\r\n" * 50)
    refused = connection.getresponse()
    assert refused.status == 400
    refused.read()
    answer = _list_tables(connection)
    assert answer.status == 200 and json.loads(answer.read()) == {"TableNames": []}
    connection.close()


def _raw_exchange(port: int, head: str, body: bytes) -> bytes:
    """Send one request on a new connection; what came back before the server closed it."""
    headers = "".join(f"{name}: {value}\r\n" for name, value in {**TARGET, **AUTH}.items())
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}{headers}\r\n".encode() + body)
        received = b""
        while chunk := raw.recv(65536):  # ends only when the server closes
            received += chunk
    return received


def test_a_pipelined_request_after_an_unread_body_is_answered_as_itself(server: Any) -> None:
    """Both requests arrive in one segment, so the whole unread body sits in the
    server's buffer: only the handler's own drain separates it from the next request."""
    unread = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" * 20
    headers = "".join(f"{name}: {value}\r\n" for name, value in {**TARGET, **AUTH}.items())
    first = f"GET /moto-api/reset-auth HTTP/1.1\r\nHost: x\r\nContent-Length: {len(unread)}\r\n\r\n".encode() + unread
    second = f"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n{headers}\r\n{{}}".encode()
    with socket.create_connection(("127.0.0.1", _port(server)), timeout=5) as raw:
        raw.sendall(first + second)
        received = b""
        while chunk := raw.recv(65536):
            received += chunk
    assert received.count(b"HTTP/1.1 ") == 2, received
    assert received.startswith(b"HTTP/1.1 400") and received.rstrip().endswith(b'{"TableNames": []}')


def test_a_client_that_asks_to_close_is_closed(server: Any) -> None:
    received = _raw_exchange(_port(server), "Connection: close\r\nContent-Length: 2\r\n", b"{}")
    assert received.startswith(b"HTTP/1.1 200") and b"connection: close" in received.lower()


def test_a_chunked_request_is_answered_then_closed() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = moto_http.serve(port)
    try:
        received = _raw_exchange(port, "Transfer-Encoding: chunked\r\n", b"2\r\n{}\r\n0\r\n\r\n")
        assert received.startswith(b"HTTP/1.1 200") and b'"TableNames"' in received
        assert b"connection: close" in received.lower()
    finally:
        server.shutdown()


def test_the_sdk_answers_through_it(server: Any) -> None:
    client = boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{_port(server)}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    client.create_table(
        TableName="kept-alive",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    for n in range(20):
        client.put_item(TableName="kept-alive", Item={"pk": {"S": f"k{n}"}, "body": {"S": "x" * (n * 500)}})
    assert client.get_item(TableName="kept-alive", Key={"pk": {"S": "k19"}})["Item"]["body"]["S"] == "x" * 9500
    assert client.scan(TableName="kept-alive", Select="COUNT")["Count"] == 20


def test_a_request_body_reader_stops_at_its_length() -> None:
    import io

    body = moto_http.RequestBody(io.BufferedReader(io.BytesIO(b"abcdefNEXT REQUEST")), 6)
    assert body.read(4) == b"abcd"
    assert body.readline() == b"ef"
    assert body.read() == b""
    body.drain()
    assert body.read(10) == b""
