"""A Stripe- or Paddle-compatible server that answers oddly gets a one-line error, never
a traceback or a listing that runs for ever (register, backfill and the reconciler all
list through these clients). A real socket; each case is one canned answer."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from affiliate_bridge.errors import ProviderApiError
from affiliate_bridge.provider_apis.paddle_api import PaddleApi
from affiliate_bridge.provider_apis.stripe_api import StripeApi
from tests.fake_keys import paddle_key, stripe_key

NOW = int(time.time())
STRIPE_KEY = stripe_key("hostile_abcdefghijkl")
PADDLE_KEY = paddle_key("hostile_abcdefgh")


def _event(n: int) -> dict[str, Any]:
    return {"id": f"evt_{n}", "object": "event", "type": "invoice.paid", "created": NOW - n, "data": {"object": {}}}


def _stripe_list(data: list[Any], **extra: Any) -> dict[str, Any]:
    return {"object": "list", "url": "/v1/events", "data": data, **extra}


class Canned:
    """The next answer every request gets, and how many requests came."""

    status = 200
    body: Any = {}
    requests = 0


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        Canned.requests += 1
        answer = Canned.body(self.path) if callable(Canned.body) else Canned.body
        body = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        self.send_response(Canned.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_PATCH(self) -> None:
        self._answer()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _answer(status: int, body: Any) -> None:
    Canned.status, Canned.body, Canned.requests = status, body, 0


STRIPE_ODDITIES = {
    "an empty object": {},
    "a JSON array": [1, 2],
    "a list without has_more": _stripe_list([_event(1)]),
    "items without ids, more to come": _stripe_list([{"object": "event", "type": "invoice.paid"}], has_more=True),
    "items that are strings": _stripe_list(["x"], has_more=False),
    "not JSON": b"<html>hello</html>",
}


@pytest.mark.parametrize("case", list(STRIPE_ODDITIES))
def test_an_odd_stripe_answer_is_a_one_line_error(server: str, case: str) -> None:
    _answer(200, STRIPE_ODDITIES[case])
    api = StripeApi(STRIPE_KEY, server)
    try:
        listed = api.events(NOW - 3600, None, ["invoice.paid"])
    except ProviderApiError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("Stripe events.list:")
    else:  # an answer the SDK reads as a list must still bring only what was asked
        assert all(event["type"] == "invoice.paid" for event in listed)


def test_a_stripe_cursor_that_does_not_advance_ends_the_listing(server: str) -> None:
    _answer(200, _stripe_list([_event(1)], has_more=True))
    listed = StripeApi(STRIPE_KEY, server).events(NOW - 3600, None, ["invoice.paid"])
    assert [event["id"] for event in listed] == ["evt_1"] and Canned.requests == 2


def test_an_unreachable_stripe_server_is_one_line_naming_it() -> None:
    with pytest.raises(ProviderApiError) as info:
        StripeApi(STRIPE_KEY, "http://127.0.0.1:9").webhook_endpoints()
    assert str(info.value) == "Stripe webhook_endpoints.list: cannot reach http://127.0.0.1:9 (ConnectionError)"


PADDLE_ODDITIES = {
    "a JSON array": (200, [1]),
    "an error that is a string": (400, {"error": "bad"}),
    "data of strings": (200, {"data": ["x"], "meta": {"pagination": {"has_more": False}}}),
    "data that is an object": (200, {"data": {"id": "x"}, "meta": {}}),
    "not JSON": (200, b"<html>hello</html>"),
}


@pytest.mark.parametrize("case", list(PADDLE_ODDITIES))
def test_an_odd_paddle_answer_is_a_one_line_error(server: str, case: str) -> None:
    _answer(*PADDLE_ODDITIES[case])
    api = PaddleApi(PADDLE_KEY, server)
    for call in (api.notification_settings, lambda: list(api.events(["transaction.completed"]))):
        with pytest.raises(ProviderApiError) as info:
            call()
        assert "\n" not in str(info.value) and str(info.value).startswith("Paddle ")


@pytest.mark.parametrize("page", [[], [{"event_id": "evt_1", "event_type": "transaction.completed"}]])
def test_a_paddle_cursor_that_does_not_advance_ends_the_listing(server: str, page: list[Any]) -> None:
    _answer(200, lambda path: {"data": page, "meta": {"pagination": {"has_more": True, "next": path}}})
    assert list(PaddleApi(PADDLE_KEY, server).events(["transaction.completed"])) == page
    assert Canned.requests == 1
