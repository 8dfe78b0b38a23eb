"""A bounded fuzz over real HTTP against the local stack: a few hundred hostile but signed
bodies and bad headers at every route. Each answer is a documented status with a JSON
body, the stack stays up, nothing is dead-lettered, and a normal sale still goes through."""

from __future__ import annotations

import json
import random
import time

import pytest
import requests

from affiliate_bridge_dev import stripe_samples as s
from affiliate_bridge_dev.local_config import DEFAULTS
from affiliate_bridge_dev.senders import paddle_signature_header, partnero_signature_header, stripe_signature_header
from tests.e2e.conftest import REFERRALS_TOKEN, Harness
from tests.integration.test_hostile_input_properties import HOSTILE_SCALARS, _mutate, _paths, _real_events

pytestmark = pytest.mark.e2e

REQUESTS = 300
TIME_LIMIT_SECONDS = 90
DOCUMENTED = {200, 201, 400, 401, 405, 409, 413}


def _request(rng: random.Random, base: str) -> tuple[str, bytes, dict[str, str]]:
    roll = rng.random()
    if roll < 0.6:
        provider, event = rng.choice(_real_events())
        mutated = _mutate(event, rng.choice(_paths(event)), rng.choice(HOSTILE_SCALARS))
        body = json.dumps(mutated, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
        if provider == "stripe":
            return "/stripe", body, {"Stripe-Signature": stripe_signature_header(body, "whsec_e2e_secret_two")}
        return "/paddle", body, {"Paddle-Signature": paddle_signature_header(body, DEFAULTS["PADDLE_WEBHOOK_SECRET"])}
    if roll < 0.75:
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
        route = rng.choice(["/stripe", "/paddle", "/referrals", "/partnero"])
        header = rng.choice(["t=1,v1=é", "garbage", "ts=;h1=", "", "t=99999999999999999999,v1=00"])
        return route, body, {"Stripe-Signature": header, "Paddle-Signature": header, "Signature": header}
    if roll < 0.9:
        body_value = _mutate(
            {"customer_key": "f-1", "partner_key": "p-1", "email": "f@example.com"},
            (rng.choice(["customer_key", "partner_key", "email"]),),
            rng.choice(HOSTILE_SCALARS),
        )
        body = json.dumps(body_value).encode()
        return "/referrals", body, {"Authorization": rng.choice([f"Bearer {REFERRALS_TOKEN}", "Bearer ", "Bearer x"])}
    body_value = _mutate(
        {"event": "customer.updated", "created_at": "2026-11-23T10:00:00Z", "data": {"key": "f-2", "partner": "q"}},
        rng.choice([("event",), ("created_at",), ("data", "key"), ("data", "partner"), ("data",)]),
        rng.choice(HOSTILE_SCALARS),
    )
    body = json.dumps(body_value).encode()
    return "/partnero", body, {"Signature": partnero_signature_header(body, DEFAULTS["PARTNERO_WEBHOOK_SECRET"])}


def test_bounded_http_fuzz_against_the_local_stack(harness: Harness) -> None:
    stack = harness.start()
    rng = random.Random(20261124)
    deadline = time.monotonic() + TIME_LIMIT_SECONDS
    answered = 0
    for _ in range(REQUESTS):
        if time.monotonic() > deadline:
            break
        route, body, headers = _request(rng, stack.url)
        response = requests.post(
            stack.url + route, data=body, headers={"Content-Type": "application/json", **headers}, timeout=10
        )
        assert response.status_code in DOCUMENTED, (route, body[:200], response.status_code, response.text)
        assert isinstance(response.json(), dict)
        answered += 1
    assert answered >= 100 and stack.process.poll() is None
    # Still serving: a normal referred sale is accepted and forwarded once.
    harness.referral(customer_key="fuzz-ok", partner_key="ann", stripe_customer_id="cus_fuzz_ok")
    session = s.checkout_session(amount_total=1234, customer="cus_fuzz_ok")
    assert harness.stripe(s.event("checkout.session.completed", session)).json()["outcome"] == "enqueued"
    key = f"stripe-{session['payment_intent']}"
    harness.wait_for(lambda: key in harness.active(), timeout=30)
    listed = harness.cli("dlq", "list")
    assert listed.returncode == 0 and "stripe-" not in listed.stdout and "paddle-" not in listed.stdout, listed.stdout
