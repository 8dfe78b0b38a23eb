"""ReconcilerFunction against moto, the sandbox affiliate API and fake Stripe and Paddle
APIs on real sockets: an outage longer than the providers' retries heals by itself."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests

from affiliate_bridge.provider_apis.paddle_api import PaddleApi
from affiliate_bridge.provider_apis.stripe_api import StripeApi
from affiliate_bridge.providers.paddle.events import REGISTERED_EVENTS as PADDLE_EVENTS
from affiliate_bridge.providers.stripe.events import REGISTERED_EVENTS as STRIPE_EVENTS
from affiliate_bridge.storage.reconcile_log import ReconcileLog
from affiliate_bridge_dev import paddle_samples as p
from affiliate_bridge_dev import stripe_samples as s
from affiliate_bridge_dev.lambda_events import FakeLambdaContext
from tests.fake_keys import stripe_key
from tests.integration.conftest import Bridge
from tests.integration.recovery_doubles import PADDLE_KEY, STRIPE_KEY, Providers, providers, reconciler

UNREACHABLE = "http://127.0.0.1:9/stripe"  # the stack is down: Stripe cannot deliver


def _outage(bridge: Bridge, apis: Providers, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Payments while the stack could not be reached, and one drift made by hand."""
    bridge.add_referral(customer_key="rj-1", partner_key="ann", stripe_customer_id="cus_rj1")
    bridge.add_referral(customer_key="rj-2", partner_key="bob", paddle_customer_id="ctm_rj2")
    before = s.invoice(amount_paid=4000, customer="cus_rj1")  # delivered before the outage
    bridge.post_stripe(s.event("invoice.paid", before))
    bridge.drain()
    requests.patch(
        f"{bridge.sandbox.url}/_sandbox/transactions/stripe-{before['id']}", json={"deleted": True}, timeout=5
    )

    StripeApi(STRIPE_KEY, apis.stripe.url).create_webhook_endpoint(UNREACHABLE, STRIPE_EVENTS, s.BASIL, "bridge")
    paddle = PaddleApi(PADDLE_KEY, apis.paddle.url)
    ours = paddle.create_notification_setting(apis.paddle_url, PADDLE_EVENTS, "bridge")
    monkeypatch.setenv("PADDLE_WEBHOOK_SECRET", ours["endpoint_secret_key"])  # as `register paddle` stores it
    paddle.create_notification_setting("http://127.0.0.1:9/other-system", PADDLE_EVENTS, "not ours")
    invoice = s.invoice(amount_paid=1000, customer="cus_rj1", api_version=s.LEGACY)
    missed = [
        s.event("invoice.paid", invoice, api_version=s.LEGACY),
        s.event("invoice.paid", s.invoice(amount_paid=700, customer="cus_nobody")),
        s.event(
            "charge.refunded",
            s.charge(amount=1000, amount_refunded=250, invoice_id=invoice["id"], api_version=s.LEGACY),
            api_version=s.LEGACY,
        ),
        s.event("invoice.paid", s.invoice(amount_paid=900, customer="cus_rj1"), created=int(time.time()) - 3 * 3600),
    ]
    assert [apis.stripe.state.emit(event) for event in missed] == [1, 1, 1, 1]
    paddle_sale = p.transaction(total=3000, customer_id="ctm_rj2")
    apis.paddle.state.emit("transaction.completed", paddle_sale)
    assert sorted(n["status"] for n in apis.paddle.state.notifications.values()) == ["failed", "failed"]
    return {"before": before, "invoice": invoice, "paddle_sale": paddle_sale}


def test_the_reconciler_recovers_an_outage_and_moves_the_api_back(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with providers(bridge) as apis:
        facts = _outage(bridge, apis, monkeypatch)
        apis.doorway_up.set()  # the stack is back
        run = reconciler(monkeypatch, apis, RECONCILE_FIX="true")

        report = run({}, FakeLambdaContext("ReconcilerFunction"))
        bridge.drain()

        assert report == {
            "stripe": {"undelivered": 3, "recovered": 3},  # the 4th is outside the 2 h window
            "paddle": {"failed": 1, "replayed": 1},  # not the other system's
            "reconcile": {"compared": 1, "drift": 1, "fixed": 1},
        }
        assert bridge.active_transactions() == {
            f"stripe-{facts['invoice']['id']}-r1": (7.5, "rj-1"),  # 10.00, then less a 2.50 refund
            f"paddle-{facts['paddle_sale']['id']}": (30.0, "rj-2"),
            f"stripe-{facts['before']['id']}-r1": (40.0, "rj-1"),  # deleted by hand, put back
        }
        other = [n for n in apis.paddle.state.notifications.values() if "other" in n["payload"].get("x", "")]
        assert other == []
        metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
        assert any(m.get("EventsRecovered") == [3.0] or m.get("EventsRecovered") == 3.0 for m in metrics), metrics
        assert any("ReconcileDrift" in m for m in metrics)

        again = run({}, FakeLambdaContext("ReconcilerFunction"))
        assert again == {
            "stripe": {"undelivered": 3, "recovered": 0},
            "paddle": {"failed": 0, "replayed": 0},
            "reconcile": {"compared": 3, "drift": 0, "fixed": 0},
        }
        last = ReconcileLog(bridge.dynamodb, bridge.resources.table_name).last()
        assert last is not None and (last["drift"], last["source"]) == (0, "scheduled")


def test_without_api_keys_only_reconcile_runs_and_without_fix_it_only_reports(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    with providers(bridge) as apis:
        bridge.add_referral(customer_key="rj-3", partner_key="cat", stripe_customer_id="cus_rj3")
        sale = s.invoice(amount_paid=2000, customer="cus_rj3")
        bridge.post_stripe(s.event("invoice.paid", sale))
        bridge.drain()
        requests.patch(f"{bridge.sandbox.url}/_sandbox/transactions/stripe-{sale['id']}", json={"amount": 1}, timeout=5)
        monkeypatch.setenv("STRIPE_API_KEY", "replace-me")  # a placeholder counts as not set
        monkeypatch.setenv("PADDLE_API_KEY", "")
        run = reconciler(monkeypatch, apis)
        assert run({}, FakeLambdaContext("ReconcilerFunction")) == {
            "reconcile": {"compared": 1, "drift": 1, "fixed": 0}
        }
        bridge.drain()
        assert bridge.active_transactions() == {f"stripe-{sale['id']}": (1, "rj-3")}
        assert apis.stripe.state.requests == [] and apis.paddle.state.requests == []


def test_a_failing_provider_does_not_stop_the_other_steps(bridge: Bridge, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stripe refuses the key (revoked): Paddle's failed notification is still replayed and
    the drift still published; the run then fails, so the Lambda Errors alarm sees it."""
    from affiliate_bridge.errors import ScheduledRunFailed

    with providers(bridge) as apis:
        facts = _outage(bridge, apis, monkeypatch)
        apis.doorway_up.set()
        run = reconciler(monkeypatch, apis)
        monkeypatch.setenv("STRIPE_API_KEY", stripe_key("revoked_key_abcdefghijkl"))
        with pytest.raises(ScheduledRunFailed) as failure:
            run({}, FakeLambdaContext("ReconcilerFunction"))
        assert list(failure.value.failed) == ["stripe"] and "Invalid API Key" in failure.value.failed["stripe"]
        bridge.drain()
        assert bridge.active_transactions()[f"paddle-{facts['paddle_sale']['id']}"] == (30.0, "rj-2")
        last = ReconcileLog(bridge.dynamodb, bridge.resources.table_name).last()
        assert last is not None and last["drift"] == 1  # the deleted sale, reported
