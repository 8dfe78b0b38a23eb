"""Logs and metrics the operator relies on: correlation ids, metric names, no PII."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from affiliate_bridge.edge import observability
from affiliate_bridge_dev import stripe_samples as s
from tests.integration.conftest import Bridge

EMAIL = "private.person@example.com"


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            lines.append(value)
    return lines


def _metric_values(lines: list[dict[str, Any]]) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in lines:
        for directive in line.get("_aws", {}).get("CloudWatchMetrics", []):
            for metric in directive["Metrics"]:
                value = line[metric["Name"]]
                found[metric["Name"]] = found.get(metric["Name"], 0) + (
                    sum(value) if isinstance(value, list) else value
                )
                assert line.get("provider") in ("stripe", "paddle")
    return found


@contextlib.contextmanager
def logs_to_current_stdout() -> Iterator[None]:
    """Powertools' log handler keeps the stdout it saw at import; point it at the one
    capsys installed for this test."""
    handler = observability.logger.registered_handler
    original = handler.stream  # type: ignore[attr-defined]
    handler.stream = sys.stdout  # type: ignore[attr-defined]
    try:
        yield
    finally:
        handler.stream = original  # type: ignore[attr-defined]


def test_payment_logs_carry_ids_and_metrics_but_never_the_email(
    bridge: Bridge, capsys: pytest.CaptureFixture[str]
) -> None:
    bridge.add_referral(customer_key="user-1", partner_key="partner-a", email=EMAIL)
    capsys.readouterr()
    event = s.event("checkout.session.completed", s.checkout_session(amount_total=1000, email=EMAIL))
    with logs_to_current_stdout():
        assert bridge.post_stripe(event)["statusCode"] == 200
        bridge.drain()
    output = capsys.readouterr().out
    assert EMAIL not in output and EMAIL.split("@")[0] not in output
    lines = _json_lines(output)
    accepted = [line for line in lines if line.get("message") == "event accepted"]
    assert accepted and accepted[0]["correlation_id"] == event["id"]
    assert accepted[0]["attribution_rule"] == "email"
    metrics = _metric_values(lines)
    assert metrics["EventsReceived"] == 1
    assert metrics["PaymentsAttributed"] == 1
    assert metrics["MessagesEnqueued"] == 1
    assert metrics["TransactionsForwarded"] == 1


def test_signature_failure_is_counted(bridge: Bridge, capsys: pytest.CaptureFixture[str]) -> None:
    bridge.post_stripe(b"{}", signature="t=1,v1=00")
    metrics = _metric_values(_json_lines(capsys.readouterr().out))
    assert metrics == {"SignatureFailures": 1}


def test_unattributed_is_counted(bridge: Bridge, capsys: pytest.CaptureFixture[str]) -> None:
    bridge.post_stripe(s.event("invoice.paid", s.invoice(amount_paid=100, customer="cus_x")))
    metrics = _metric_values(_json_lines(capsys.readouterr().out))
    assert metrics["PaymentsUnattributed"] == 1 and "PaymentsAttributed" not in metrics


def test_reversal_without_a_sale_is_counted(bridge: Bridge, capsys: pytest.CaptureFixture[str]) -> None:
    refund = s.event("charge.refunded", s.charge(amount=500, amount_refunded=500, payment_intent="pi_unknown"))
    bridge.post_stripe(refund)
    bridge.drain()
    metrics = _metric_values(_json_lines(capsys.readouterr().out))
    assert metrics["ReversalsWithoutSale"] == 1 and "TransactionsReversed" not in metrics


def test_customer_keys_that_are_emails_are_not_logged(bridge: Bridge, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    with logs_to_current_stdout():
        bridge.add_referral(customer_key="alice@example.com", partner_key="anna", stripe_customer_id="cus_A")
        bridge.add_referral(customer_key="alice@example.com", partner_key="other")  # conflict is logged too
        bridge.post_stripe(s.event("invoice.paid", s.invoice(amount_paid=100, customer="cus_A", email=None)))
        bridge.drain()
    output = capsys.readouterr().out
    assert "referral stored" in output and "referral conflict recorded" in output
    assert "alice@example.com" not in output and "email-sha256:" in output
