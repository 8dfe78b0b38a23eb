"""moto's HTTP server keeps a connection for the next request, and never mistakes what
is left of one request's body for the next request."""

from __future__ import annotations

import io
import json
import socket
import threading
from collections.abc import Iterator
from http.client import HTTPConnection, HTTPResponse, parse_headers
from typing import Any

import boto3
import pytest
from werkzeug.serving import make_server

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


SMUGGLED = (
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
    + "".join(f"{name}: {value}\r\n" for name, value in {**TARGET, **AUTH}.items())
    + "\r\n{}"
).encode()


@pytest.mark.parametrize(
    "head",
    [
        "Content-Length: -5\r\n",
        "Content-Length: +2\r\n",
        f"Content-Length: 2\r\nContent-Length: {2 + len(SMUGGLED)}\r\n",
        "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: identity\r\nContent-Length: 2\r\n",
    ],
)
def test_a_request_whose_framing_is_ambiguous_is_answered_once_then_closed(server: Any, head: str) -> None:
    """Where a request's body ends is not certain, so what follows it is never taken
    for a request of its own: one answer, then the connection closes."""
    received = _raw_exchange(_port(server), head, b"{}" + SMUGGLED)
    assert received.count(b"HTTP/1.1 ") == 1, received


def test_only_one_plain_length_frames_a_body() -> None:
    def length(head: str) -> int | None:
        return moto_http.request_body_length(parse_headers(io.BytesIO(head.encode() + b"\r\n")))

    assert length("") == 0
    assert length("Content-Length: 12\r\n") == 12
    assert length("Content-Length:  7 \r\n") == 7
    for ambiguous in ("Content-Length: -1\r\n", "Content-Length: 1e3\r\n", "Content-Length: 1_0\r\n"):
        assert length(ambiguous) is None, ambiguous
    assert length("Content-Length: 1\r\nContent-Length: 1\r\n") is None
    assert length("Transfer-Encoding: chunked\r\n") is None


def _test_app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    """Answers as the path says: a failure half-way through a body, its own Connection:
    close, a failure before anything was sent, or a plain two-byte answer."""
    path = environ["PATH_INFO"]
    if path == "/fails-half-way":
        start_response("200 OK", [("Content-Length", "100")])
        yield b"x" * 10
        raise RuntimeError("the application failed half-way through its body")
    if path == "/fails-first":
        raise RuntimeError("the application failed before answering")
    if path == "/length-and-chunked":  # an application framing its body two ways at once
        start_response("200 OK", [("Content-Length", "2"), ("Transfer-Encoding", "chunked")])
        yield b"ok"
        return
    if path == "/interim-as-final":
        start_response("103 Early Hints", [])
        yield b""
        return
    if path == "/says-both":
        start_response("200 OK", [("Content-Length", "2"), ("Connection", "close"), ("Connection", "keep-alive")])
        yield b"ok"
        return
    if path in ("/closes", "/keeps-alive"):
        start_response(
            "200 OK", [("Content-Length", "2"), ("Connection", "close" if path == "/closes" else "keep-alive")]
        )
        yield b"ok"
        return
    start_response("200 OK", [("Content-Length", "2")])
    yield b"ok" if environ["REQUEST_METHOD"] != "HEAD" or path == "/head-with-body" else b""


@pytest.fixture(scope="module")
def app_port() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    running = make_server(
        "127.0.0.1", port, _test_app, threaded=True, request_handler=moto_http.KeepAliveMotoRequestHandler
    )
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield port
    running.shutdown()


def _pipelined(port: int, *requests: str) -> bytes:
    """Requests sent back to back on one connection; all that came back until it closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(b"".join(request.encode() for request in requests))
        received = b""
        while chunk := raw.recv(65536):
            received += chunk
    return received


LAST = "GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def test_a_response_cut_short_by_a_failure_closes_the_connection(app_port: int) -> None:
    received = _pipelined(app_port, "GET /fails-half-way HTTP/1.1\r\nHost: x\r\n\r\n", LAST)
    assert received.count(b"HTTP/1.1 ") == 1 and received.endswith(b"x" * 10), received


@pytest.mark.parametrize("path", ["/closes", "/says-both"])
def test_the_application_s_own_connection_close_is_honoured(app_port: int, path: str) -> None:
    received = _pipelined(app_port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n", LAST)
    assert received.count(b"HTTP/1.1 ") == 1 and received.lower().count(b"connection: close") == 1, received


def test_a_client_that_asks_to_close_is_closed_whatever_the_application_says(app_port: int) -> None:
    received = _pipelined(app_port, "GET /keeps-alive HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", LAST)
    assert received.count(b"HTTP/1.1 ") == 1 and b"connection: close" in received.lower(), received


def test_a_head_answer_that_sends_a_body_closes_the_connection(app_port: int) -> None:
    received = _pipelined(app_port, "HEAD /head-with-body HTTP/1.1\r\nHost: x\r\n\r\n", LAST)
    assert received.count(b"HTTP/1.1 ") == 1 and received.endswith(b"ok"), received


@pytest.mark.parametrize("first", ["GET /fails-first", "HEAD /ok", "GET /ok"])
def test_a_whole_response_keeps_the_connection(app_port: int, first: str) -> None:
    """A failure before anything was sent is answered as a whole 500, and a HEAD answer
    announces a length it does not send: both leave the connection framed."""
    received = _pipelined(app_port, f"{first} HTTP/1.1\r\nHost: x\r\n\r\n", LAST)
    assert received.count(b"HTTP/1.1 ") == 2 and received.endswith(b"\r\n\r\nok"), received


@pytest.mark.parametrize("path", ["/length-and-chunked", "/interim-as-final"])
def test_a_response_framed_two_ways_or_not_final_closes_the_connection(app_port: int, path: str) -> None:
    received = _pipelined(app_port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n", LAST)
    assert received.count(b"HTTP/1.1 ") == 1, received


@pytest.mark.parametrize("line", ["Content-Length : 40", "Bogus"])
def test_a_malformed_header_line_is_answered_once_then_closed(app_port: int, line: str) -> None:
    """http.client stops parsing headers at a malformed line and drops the rest, so the
    length that follows it, if any, is unknown: what follows is not a request."""
    smuggled = "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"
    head = f"POST /ok HTTP/1.1\r\nHost: x\r\n{line}\r\nContent-Length: {len(smuggled)}\r\n\r\n"
    received = _pipelined(app_port, head + smuggled)
    assert received.count(b"HTTP/1.1 ") == 1, received


@pytest.mark.parametrize("header", ["Connection: TE, close", "Connection: keep-alive\r\nConnection: close"])
def test_a_close_among_connection_tokens_is_honoured(app_port: int, header: str) -> None:
    received = _pipelined(app_port, f"GET /ok HTTP/1.1\r\nHost: x\r\n{header}\r\n\r\n", LAST)
    assert received.count(b"HTTP/1.1 ") == 1, received


def test_the_access_line_is_formatted_only_when_its_logger_would_keep_it(
    server: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging

    from werkzeug.serving import WSGIRequestHandler

    formatted: list[Any] = []
    original = WSGIRequestHandler.log_request

    def counting(self: Any, *args: Any) -> None:
        formatted.append(args)
        original(self, *args)

    monkeypatch.setattr(WSGIRequestHandler, "log_request", counting)
    werkzeug_log = logging.getLogger("werkzeug")
    previous = werkzeug_log.level
    werkzeug_log.setLevel(logging.ERROR)  # as the stack sets it (setLevel: the logger caches levels)
    connection = HTTPConnection("127.0.0.1", _port(server), timeout=5)
    try:
        assert _list_tables(connection).read()
        assert formatted == []
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            assert _list_tables(connection).read()
        assert len(formatted) == 1
        assert any('"POST / HTTP/1.1" 200' in record.getMessage() for record in caplog.records)
    finally:
        werkzeug_log.setLevel(previous)
        connection.close()
