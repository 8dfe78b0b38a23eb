"""What the reconciler's integration tests share: the fake provider APIs, an HTTP doorway
that hands the fake Paddle's deliveries to the Paddle webhook handler, and the
reconciler handler loaded as Lambda would load it, against them."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from affiliate_bridge_dev.fake_paddle_api import FakePaddleServer, start_fake_paddle
from affiliate_bridge_dev.fake_stripe_api import FakeStripeServer, start_fake_stripe
from affiliate_bridge_dev.handlers import Handler, load_handler
from affiliate_bridge_dev.lambda_events import FakeLambdaContext, function_url_event
from tests.fake_keys import paddle_key, stripe_key
from tests.integration import aws_calls
from tests.integration.conftest import Bridge

STRIPE_KEY = stripe_key("reconciler_fake_stripe_key")
PADDLE_KEY = paddle_key("reconciler_fake_paddle_key")


@dataclass
class Providers:
    stripe: FakeStripeServer
    paddle: FakePaddleServer
    paddle_url: str  # the doorway: this stack's Paddle destination
    doorway_up: threading.Event


@contextmanager
def providers(bridge: Bridge) -> Iterator[Providers]:
    """Both fake APIs, and a doorway to the Paddle handler that answers 503 until it is
    up (the stack's outage, as Paddle sees it)."""
    up = threading.Event()

    class Doorway(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = 503
            if up.is_set():
                event = function_url_event("POST", "/", body, dict(self.headers.items()))
                status = int(bridge.paddle(event, FakeLambdaContext("PaddleWebhookFunction"))["statusCode"])
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    doorway = ThreadingHTTPServer(("127.0.0.1", 0), Doorway)
    threading.Thread(target=doorway.serve_forever, daemon=True).start()
    stripe, paddle = start_fake_stripe(STRIPE_KEY), start_fake_paddle(PADDLE_KEY)
    try:
        yield Providers(stripe, paddle, f"http://127.0.0.1:{doorway.server_address[1]}/", up)
    finally:
        for server in (stripe, paddle, doorway):
            server.shutdown()


def reconciler(monkeypatch: pytest.MonkeyPatch, apis: Providers, **env: str) -> Handler:
    """ReconcilerFunction as Lambda loads it, pointed at the fakes (with their keys, unless
    the caller set the key, or its ``_ARN``, already)."""
    settings = {
        "STRIPE_API_BASE": apis.stripe.url,
        "PADDLE_API_URL": apis.paddle.url,
        "PADDLE_WEBHOOK_URL": apis.paddle_url,
        "SELF_HEAL_WINDOW_HOURS": "2",
        **env,
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)

    for name, key in (("STRIPE_API_KEY", STRIPE_KEY), ("PADDLE_API_KEY", PADDLE_KEY)):
        if f"{name}_ARN" not in os.environ and name not in os.environ:
            monkeypatch.setenv(name, key)
    return aws_calls.recorded("ReconcilerFunction", load_handler("reconciler"))
