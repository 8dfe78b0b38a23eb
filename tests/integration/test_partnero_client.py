"""The affiliate API client against the sandbox over a real socket: answers classified."""

from __future__ import annotations

import email.utils
import socket
from collections.abc import Callable, Iterator

import pytest
import requests

from affiliate_bridge.affiliate.partnero import PartneroClient, parse_retry_after
from affiliate_bridge.domain.money import Money
from affiliate_bridge.errors import PermanentError, RetryableError, UnknownCustomer
from affiliate_bridge.ports import NewCustomer
from affiliate_bridge_dev.partnero_sandbox import SandboxServer, start_sandbox

KEY = "client-test-key"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = start_sandbox(KEY)
    yield server
    server.shutdown()


def _client(server: SandboxServer, key: str = KEY, timeout: float = 5.0) -> PartneroClient:
    return PartneroClient(server.url, lambda: key, timeout)


def test_customer_then_transaction_then_delete(sandbox: SandboxServer) -> None:
    client = _client(sandbox)
    with pytest.raises(UnknownCustomer):
        client.create_transaction("t-1", "c-1", Money(1999, "EUR"))
    assert not client.create_customer("c-1", "p-1", "c1@example.com").duplicate
    assert client.create_customer("c-1", "p-1", "c1@example.com").duplicate
    assert not client.create_transaction("t-1", "c-1", Money(1999, "EUR"), created_at=1_700_000_000).duplicate
    assert client.create_transaction("t-1", "c-1", Money(1999, "EUR")).duplicate
    stored = sandbox.state.transactions["t-1"]
    assert (stored["amount"], stored["amount_units"], stored["created_at"]) == (19.99, "EUR", 1_700_000_000)
    assert client.delete_transaction("t-1").status == 200
    assert client.delete_transaction("t-1").status == 404  # already gone counts as done
    assert client.delete_transaction("never/existed").status == 404


def test_taken_email_creates_the_customer_without_it(sandbox: SandboxServer) -> None:
    client = _client(sandbox)
    client.create_customer("c-1", "p-1", "shared@example.com")
    assert not client.create_customer("c-2", "p-1", "shared@example.com").duplicate
    assert sandbox.state.customers["c-2"]["email"] is None


def test_create_customer_with_the_transaction(sandbox: SandboxServer) -> None:
    client = _client(sandbox)
    client.create_transaction("t-9", "c-9", Money(500, "JPY"), new_customer=NewCustomer("p-9", "n@example.com"))
    assert sandbox.state.customers["c-9"]["partner"] == "p-9"
    assert sandbox.state.transactions["t-9"]["amount"] == 500


def test_bearer_key_is_checked(sandbox: SandboxServer) -> None:
    with pytest.raises(PermanentError) as info:
        _client(sandbox, key="wrong").create_customer("c", "p", None)
    assert info.value.status == 401


def test_rate_limit_is_retryable_with_its_retry_after(sandbox: SandboxServer) -> None:
    requests.post(sandbox.url + "/_sandbox/faults", json={"status": 429, "count": 1, "retry_after": 42}, timeout=5)
    with pytest.raises(RetryableError) as info:
        _client(sandbox).create_customer("c", "p", None)
    assert (info.value.status, info.value.retry_after) == (429, 42.0)


@pytest.mark.parametrize("status", [500, 501, 502, 503, 504, 505, 507, 520, 524, 530, 408, 425])
def test_server_errors_are_retryable(sandbox: SandboxServer, status: int) -> None:
    requests.post(sandbox.url + "/_sandbox/faults", json={"status": status, "count": 1}, timeout=5)
    with pytest.raises(RetryableError):
        _client(sandbox).delete_transaction("x")


def test_timeouts_and_refused_connections_are_retryable() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    port = listener.getsockname()[1]
    try:
        client = PartneroClient(f"http://127.0.0.1:{port}", lambda: KEY, timeout_seconds=0.3)
        with pytest.raises(RetryableError) as info:
            client.create_customer("c", "p", None)
        assert "Timeout" in str(info.value)
    finally:
        listener.close()
    with pytest.raises(RetryableError):
        PartneroClient(f"http://127.0.0.1:{port}", lambda: KEY, timeout_seconds=0.3).create_customer("c", "p", None)


def test_retry_after_forms() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = email.utils.formatdate(1_000_060, usegmt=True)
    assert parse_retry_after(later, now=1_000_000) == 60.0


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, {"message": "Customer not found"}, "unknown_customer"),
        (404, {"message": "Customer does not exist"}, "unknown_customer"),
        (409, {"message": "Transaction key already exists"}, "duplicate"),
        (400, {"message": "Duplicate key"}, "duplicate"),
        (422, {"message": "The amount must be a number."}, "permanent"),
    ],
)
def test_other_apis_wordings_are_classified(status: int, body: dict, expected: str) -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Answer(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = PartneroClient(f"http://127.0.0.1:{server.server_address[1]}", lambda: KEY)
    try:
        if expected == "duplicate":
            assert client.create_transaction("t", "c", Money(1, "USD")).duplicate
        elif expected == "unknown_customer":
            with pytest.raises(UnknownCustomer):
                client.create_transaction("t", "c", Money(1, "USD"))
        else:
            with pytest.raises(PermanentError):
                client.create_transaction("t", "c", Money(1, "USD"))
    finally:
        server.shutdown()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_never_followed_for_writes(status: int) -> None:
    """requests would turn a redirected POST into a GET: nothing created, yet "ok"."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    seen: list[str] = []

    class Redirect(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.append(self.command)
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            self.send_response(status)
            self.send_header("Location", "https://api.example/v1/transactions")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_GET = do_DELETE = _answer  # noqa: N815 (http.server names)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = PartneroClient(f"http://127.0.0.1:{server.server_address[1]}", lambda: KEY)
    try:
        calls: tuple[Callable[[], object], ...] = (
            lambda: client.create_transaction("t", "c", Money(1, "USD")),
            lambda: client.create_customer("c", "p", None),
            lambda: client.delete_transaction("t"),
        )
        for call in calls:
            with pytest.raises(RetryableError) as info:
                call()
            assert info.value.status == status and "https://api.example/v1/transactions" in str(info.value)
    finally:
        server.shutdown()
    assert seen == ["POST", "POST", "DELETE"]  # one request each, no follow-up GET


@pytest.mark.parametrize(
    ("errors", "second_call_has"),
    [
        ({"customer.key": ["The customer key has already been taken."]}, None),
        ({"customer.email": ["The email has already been taken."]}, "partner-only"),
    ],
)
def test_one_call_first_sale_falls_back_only_when_the_customer_exists(
    errors: dict[str, list[str]], second_call_has: str | None
) -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    bodies: list[dict[str, object]] = []

    class Api(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            bodies.append(body)
            refuse = len(bodies) == 1
            data = json.dumps({"message": "invalid", "errors": errors} if refuse else {"data": {}}).encode()
            self.send_response(422 if refuse else 201)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = PartneroClient(f"http://127.0.0.1:{server.server_address[1]}", lambda: KEY)
    try:
        answer = client.create_transaction("t1", "c1", Money(500, "USD"), None, NewCustomer("p1", "c1@example.com"))
    finally:
        server.shutdown()
    assert answer.status == 201 and not answer.duplicate
    first, second = bodies
    assert first["options"] == {"create_customer": True}
    assert first["customer"] == {"key": "c1", "partner": {"key": "p1"}, "email": "c1@example.com"}
    if second_call_has is None:
        assert "options" not in second and second["customer"] == {"key": "c1"}
    else:
        assert second["customer"] == {"key": "c1", "partner": {"key": "p1"}}


def test_the_listing_follows_every_page_and_reads_changes_made_by_hand(sandbox: SandboxServer) -> None:
    client = _client(sandbox)
    client.create_customer("c-1", "p-1", None)
    for index in range(60):  # three of the sandbox's pages
        client.create_transaction(f"stripe-in_{index}", "c-1", Money(100 + index, "JPY"))
    changed = requests.patch(f"{sandbox.url}/_sandbox/transactions/stripe-in_3", json={"amount": 1}, timeout=5)
    deleted = requests.patch(f"{sandbox.url}/_sandbox/transactions/stripe-in_4", json={"deleted": True}, timeout=5)
    assert changed.status_code == deleted.status_code == 200
    assert requests.patch(f"{sandbox.url}/_sandbox/transactions/nope", json={}, timeout=5).status_code == 404

    listed = {held.key: held for held in client.list_transactions()}

    assert len(listed) == 60
    assert (listed["stripe-in_3"].amount, listed["stripe-in_3"].currency) == ("1", "JPY")
    assert listed["stripe-in_4"].deleted and not listed["stripe-in_5"].deleted
    assert listed["stripe-in_59"].customer_key == "c-1" and listed["stripe-in_59"].created_at


def test_a_listing_the_api_refuses_says_so(sandbox: SandboxServer) -> None:
    with pytest.raises(PermanentError, match="GET /v1/transactions: HTTP 401"):
        list(_client(sandbox, key="wrong-key").list_transactions())
