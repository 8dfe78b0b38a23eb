"""Each function is granted exactly the AWS calls it makes, both ways.

The calls are recorded (tests/integration/aws_calls.py) while the integration suite runs,
plus a scenario here that walks every path with the secrets read from Secrets Manager
(`_ARN`, as in the cloud). This module runs last (conftest orders it), so what the whole
suite recorded is compared too: a call a function makes that its policy does not grant
fails here before it fails in AWS, and a granted action nobody makes is one to remove.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from affiliate_bridge_dev import paddle_samples as p
from affiliate_bridge_dev import stripe_samples as s
from affiliate_bridge_dev.template_resources import load_template
from tests.integration import aws_calls
from tests.integration.conftest import (
    PADDLE_SECRETS,
    PARTNERO_KEY,
    PLATFORM_SECRET,
    REFERRALS_TOKEN,
    STRIPE_SECRET,
    Bridge,
)

FUNCTIONS = ("StripeWebhookFunction", "PaddleWebhookFunction", "ReferralsFunction", "ForwarderFunction")


def granted_actions(template: dict[str, Any]) -> dict[str, set[str]]:
    granted: dict[str, set[str]] = {}
    for name in FUNCTIONS:
        actions: set[str] = set()
        for policy in template["Resources"][name]["Properties"].get("Policies", []):
            for statement in policy.get("Statement", []):
                assert statement["Effect"] == "Allow"
                action = statement["Action"]
                actions.update([action] if isinstance(action, str) else action)
        granted[name] = actions
    return granted


def differences(granted: dict[str, set[str]], recorded: dict[str, set[str]]) -> list[str]:
    problems = []
    for name in FUNCTIONS:
        for action in sorted(recorded.get(name, set()) - granted[name]):
            problems.append(f"{name} calls {action}, which its policy does not grant")
        for action in sorted(granted[name] - recorded.get(name, set())):
            problems.append(f"{name} is granted {action}, which it never calls")
    return problems


def _walk_every_path(bridge: Bridge) -> None:
    """One of each thing each function does, so every call it can make is made."""
    bridge.add_referral(customer_key="lp-1", partner_key="ann", email="lp1@example.com", stripe_customer_id="cus_lp1")
    # Stripe: attributed sale, an unattributed one (parked), a link, a refund, an ignored event.
    sale = s.checkout_session(amount_total=5000, customer="cus_lp1")
    bridge.post_stripe(s.event("checkout.session.completed", sale))
    early = s.checkout_session(amount_total=700, customer="cus_lp2", email="lp2@example.com")
    bridge.post_stripe(s.event("checkout.session.completed", early))
    invoice = s.invoice(amount_paid=900, customer="cus_lp1")
    bridge.post_stripe(s.event("invoice.paid", invoice))
    # A refund before its link: filed under the payment intent, then moved by the forwarder.
    bridge.post_stripe(s.event("charge.refunded", s.charge(amount=900, amount_refunded=300, payment_intent="pi_lp")))
    bridge.drain()
    bridge.post_stripe(
        s.event(
            "invoice_payment.paid", s.invoice_payment(invoice_id=invoice["id"], payment_intent="pi_lp", amount_paid=900)
        )
    )
    bridge.post_stripe(
        s.event("charge.refunded", s.charge(amount=5000, amount_refunded=100, payment_intent=sale["payment_intent"]))
    )
    # Paddle: a customer's email, a sale.
    bridge.post_paddle(p.notification("customer.created", p.customer(customer_id="ctm_lp", email="lp3@example.com")))
    bridge.add_referral(customer_key="lp-3", partner_key="fay", paddle_customer_id="ctm_lp")
    bridge.post_paddle(p.notification("transaction.completed", p.transaction(total=4900, customer_id="ctm_lp")))
    # Referrals: a late referral releases the parked payment; the platform creates, reassigns,
    # deletes, and a stale delivery is recorded.
    bridge.add_referral(customer_key="lp-2", partner_key="bob", stripe_customer_id="cus_lp2")
    for event, at, partner in (
        ("customer.created", "2026-11-23T10:00:00Z", "cat"),
        ("customer.updated", "2026-11-23T11:00:00Z", "dan"),
        ("customer.updated", "2026-11-23T10:30:00Z", "eve"),
        ("customer.deleted", "2026-11-23T12:00:00Z", None),
    ):
        data: dict[str, Any] = {"key": "lp-plat", "email": "lp4@example.com"}
        if partner:
            data["partner"] = partner
        bridge.post_platform({"event": event, "created_at": at, "data": data})
    # Forwarder: a busy API (backoff), a permanent refusal (dead letter), then the rest.
    bridge.inject_fault(503, count=1, retry_after=0)
    bridge.mapping.poll_once()
    bridge.inject_fault(403, count=1)
    bridge.drain()


def test_each_function_is_granted_exactly_the_calls_it_makes(bridge: Bridge, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = boto3.client("secretsmanager")
    for name, value in (
        ("STRIPE_WEBHOOK_SECRET", STRIPE_SECRET),
        ("PADDLE_WEBHOOK_SECRET", PADDLE_SECRETS),
        ("PARTNERO_WEBHOOK_SECRET", PLATFORM_SECRET),
        ("REFERRALS_API_TOKEN", REFERRALS_TOKEN),
        ("PARTNERO_API_KEY", PARTNERO_KEY),
    ):
        arn = secrets.create_secret(Name=f"least-privilege/{name}", SecretString=value)["ARN"]
        monkeypatch.delenv(name)
        monkeypatch.setenv(f"{name}_ARN", arn)  # read from Secrets Manager, as in the cloud
    _walk_every_path(bridge)
    assert bridge.sandbox_state()["transactions"], "the scenario forwarded nothing"
    problems = differences(granted_actions(load_template()), dict(aws_calls.CALLS))
    assert problems == [], (
        "\n".join(problems) + "\nrecorded: " + json.dumps({k: sorted(v) for k, v in aws_calls.CALLS.items()}, indent=1)
    )


def test_the_comparison_catches_a_difference_either_way() -> None:
    granted = {name: {"dynamodb:GetItem"} for name in FUNCTIONS}
    recorded = {name: {"dynamodb:GetItem"} for name in FUNCTIONS}
    assert differences(granted, recorded) == []
    recorded["ForwarderFunction"].add("dynamodb:Query")
    granted["ReferralsFunction"].add("sqs:PurgeQueue")
    assert differences(granted, recorded) == [
        "ReferralsFunction is granted sqs:PurgeQueue, which it never calls",
        "ForwarderFunction calls dynamodb:Query, which its policy does not grant",
    ] or sorted(differences(granted, recorded)) == sorted(
        [
            "ForwarderFunction calls dynamodb:Query, which its policy does not grant",
            "ReferralsFunction is granted sqs:PurgeQueue, which it never calls",
        ]
    )
