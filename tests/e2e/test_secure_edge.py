"""The edge over real sockets: unusable secrets fail closed, non-ASCII signatures are plain
mismatches (the server answers, it does not drop the connection), a bad tolerance stops
`make run` at start with one line."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time

import pytest

from affiliate_bridge_dev import stripe_samples as s
from affiliate_bridge_dev.senders import stripe_signature_header
from tests.e2e.conftest import Harness

pytestmark = pytest.mark.e2e


def _raw_post(port: int, path: str, body: bytes, headers: dict[str, bytes]) -> tuple[int, dict[str, object]]:
    """http.client lets a header carry raw UTF-8 bytes, as a hostile client would."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("POST", path)
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(len(body)))
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_placeholder_secrets_answer_not_configured_and_store_nothing(harness: Harness) -> None:
    harness.extra_env.update(STRIPE_WEBHOOK_SECRET="replace-me", PARTNERO_WEBHOOK_SECRET="   ")
    stack = harness.start()
    sale = json.dumps(s.event("checkout.session.completed", s.checkout_session(amount_total=900))).encode()
    for secret in ("replace-me", "whsec_local_development_secret"):
        status, body = _raw_post(
            harness.port, "/stripe", sale, {"Stripe-Signature": stripe_signature_header(sale, secret).encode()}
        )
        assert (status, body["error"]) == (500, "not_configured")
    platform = b'{"event":"customer.deleted","created_at":"2026-11-23T10:00:00Z","data":{"key":"c1"}}'
    status, body = _raw_post(harness.port, "/partnero", platform, {"Signature": b"00"})
    assert (status, body["error"]) == (500, "not_configured")
    listed = harness.cli("referrals", "list")
    assert "c1" not in listed.stdout
    assert stack.process.poll() is None


@pytest.mark.parametrize("path", ["/stripe", "/paddle", "/partnero"])
def test_non_ascii_signatures_are_400_signature_mismatch(harness: Harness, path: str) -> None:
    harness.start()
    body = b'{"id":"evt_1","type":"invoice.paid"}'
    header = {"/stripe": "Stripe-Signature", "/paddle": "Paddle-Signature", "/partnero": "Signature"}[path]
    prefix = {"/stripe": f"t={int(time.time())},v1=", "/paddle": f"ts={int(time.time())};h1=", "/partnero": ""}[path]
    for value in ("é", "ü" * 64, "\u202e00"):
        status, answer = _raw_post(harness.port, path, body, {header: (prefix + value).encode("utf-8")})
        assert (status, answer["error"]) == (400, "signature_mismatch"), (value, answer)


def test_zero_tolerance_stops_make_run_with_one_line(harness: Harness) -> None:
    harness.extra_env["STRIPE_TOLERANCE_SECONDS"] = "0"
    result = subprocess.run(
        [sys.executable, "-m", "affiliate_bridge_dev.local_stack"],
        cwd=harness.tmp,
        env=harness.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "make run: configuration error: STRIPE_TOLERANCE_SECONDS must be a positive number of seconds, not 0"
    )
    assert "Traceback" not in result.stderr
