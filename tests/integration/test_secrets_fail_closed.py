"""Nobody in: a function whose secret is missing, empty or a placeholder answers 500
not_configured (so the sender retries), stores nothing, counts SecretNotConfigured with the
secret's name, and a delivery forged with the placeholder never gets through."""

from __future__ import annotations

import json
from typing import Any

import pytest

from affiliate_bridge_dev import paddle_samples as p
from affiliate_bridge_dev import stripe_samples as s
from affiliate_bridge_dev.lambda_events import FakeLambdaContext, function_url_event
from affiliate_bridge_dev.senders import paddle_signature_header, partnero_signature_header, stripe_signature_header
from tests.integration.conftest import Bridge
from tests.integration.test_observability import _json_lines, logs_to_current_stdout

UNUSABLE = ["", "   ", "replace-me", "REPLACE_ME", "changeme", "whsec_...", "short"]


def _secret_metrics(text: str) -> list[dict[str, Any]]:
    found = []
    for line in _json_lines(text):
        for directive in line.get("_aws", {}).get("CloudWatchMetrics", []):
            if any(m["Name"] == "SecretNotConfigured" for m in directive["Metrics"]):
                found.append({"dimensions": directive["Dimensions"], "secret": line.get("secret")})
    return found


def _deliveries(bridge: Bridge, forged_with: str) -> dict[str, Any]:
    """One delivery per public function, each signed with ``forged_with``."""
    sale = json.dumps(s.event("checkout.session.completed", s.checkout_session(amount_total=5000))).encode()
    paddle = json.dumps(p.notification("transaction.completed", p.transaction(total=4900))).encode()
    platform = json.dumps(
        {"event": "customer.updated", "created_at": "2026-11-23T10:00:00Z", "data": {"key": "c1", "partner": "x"}}
    ).encode()
    referral = json.dumps({"customer_key": "c1", "partner_key": "attacker"}).encode()
    return {
        "STRIPE_WEBHOOK_SECRET": lambda: bridge.stripe(
            function_url_event("POST", "/", sale, {"stripe-signature": stripe_signature_header(sale, forged_with)}),
            FakeLambdaContext("StripeWebhookFunction"),
        ),
        "PADDLE_WEBHOOK_SECRET": lambda: bridge.paddle(
            function_url_event("POST", "/", paddle, {"paddle-signature": paddle_signature_header(paddle, forged_with)}),
            FakeLambdaContext("PaddleWebhookFunction"),
        ),
        "PARTNERO_WEBHOOK_SECRET": lambda: bridge.referrals(
            function_url_event("POST", "/partnero", platform, {"signature": partner_sig(platform, forged_with)}),
            FakeLambdaContext("ReferralsFunction"),
        ),
        "REFERRALS_API_TOKEN": lambda: bridge.referrals(
            function_url_event("POST", "/", referral, {"authorization": f"Bearer {forged_with}".rstrip()}),
            FakeLambdaContext("ReferralsFunction"),
        ),
    }


def partner_sig(body: bytes, secret: str) -> str:
    return partnero_signature_header(body, secret) if secret else ""


@pytest.mark.parametrize("value", UNUSABLE)
def test_every_public_function_fails_closed(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    for name, deliver in _deliveries(bridge, value).items():
        with monkeypatch.context() as patch:
            patch.setenv(name, value)
            capsys.readouterr()
            with logs_to_current_stdout():
                response = deliver()
            output = capsys.readouterr().out
        assert response["statusCode"] == 500, (name, response)
        assert json.loads(response["body"])["error"] == "not_configured"
        metrics = _secret_metrics(output)
        assert metrics == [{"dimensions": [["service", "secret"]], "secret": name}], (name, metrics)
    assert bridge.table_items() == []
    assert bridge.queue_depth() == 0


def test_a_missing_secret_fails_closed_too(bridge: Bridge, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, deliver in _deliveries(bridge, "replace-me").items():
        with monkeypatch.context() as patch:
            patch.delenv(name)
            response = deliver()
        assert (response["statusCode"], json.loads(response["body"])["error"]) == (500, "not_configured"), name
    assert bridge.table_items() == []


def test_forged_with_the_old_placeholder_or_empty_is_refused_when_configured(bridge: Bridge) -> None:
    for forged_with in ("replace-me", ""):
        for name, deliver in _deliveries(bridge, forged_with).items():
            response = deliver()
            assert response["statusCode"] in (400, 401), (name, forged_with, response)
    assert bridge.table_items() == []
    assert bridge.queue_depth() == 0


def test_a_placeholder_beside_the_real_secret_is_never_tried(bridge: Bridge, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.integration.conftest import STRIPE_SECRET

    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", f"replace-me,{STRIPE_SECRET}")
    forged = _deliveries(bridge, "replace-me")["STRIPE_WEBHOOK_SECRET"]()
    assert forged["statusCode"] == 400
    genuine = bridge.post_stripe(s.event("checkout.session.completed", s.checkout_session(amount_total=100)))
    assert genuine["statusCode"] == 200


@pytest.mark.bridge_env(PARTNERO_API_KEY="replace-me")
def test_the_forwarder_never_sends_a_placeholder_api_key(bridge: Bridge) -> None:
    bridge.add_referral(customer_key="k1", partner_key="ann")
    response = bridge.post_stripe(
        s.event("checkout.session.completed", s.checkout_session(amount_total=2500, metadata={"customer_key": "k1"}))
    )
    assert response["statusCode"] == 200
    bridge.drain(timeout=3)
    # Nothing reached the affiliate API; the message waits (retry) instead of being lost.
    assert bridge.sandbox_state()["transactions"] == {}
    assert bridge.queue_depth() + bridge.queue_depth(bridge.resources.dead_letter_queue_url) == 1
