"""Day-2 operations end to end: `make run`, the CLI, and fake Stripe and Paddle APIs on
real sockets that deliver signed webhooks to the stack, as the providers do.

The story the issue names: the endpoint is registered (twice: one endpoint), payments
happen while the stack is stopped, `backfill` brings exactly those commissions to the
affiliate API, a second `backfill` changes nothing, a transaction deleted and another
changed at the affiliate API by hand are reported by `reconcile` and put back by
`--fix`, and `status` shows the figures.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from affiliate_bridge.providers.paddle.events import REGISTERED_EVENTS as PADDLE_EVENTS
from affiliate_bridge.providers.stripe.events import REGISTERED_EVENTS as STRIPE_EVENTS
from affiliate_bridge.providers.stripe.events import TESTED_API_VERSION
from affiliate_bridge_dev import paddle_samples as p
from affiliate_bridge_dev import stripe_samples as s
from affiliate_bridge_dev.fake_paddle_api import FakePaddleServer, start_fake_paddle
from affiliate_bridge_dev.fake_stripe_api import FakeStripeServer, start_fake_stripe
from affiliate_bridge_dev.local_config import read_dotenv
from tests.e2e.conftest import Harness
from tests.fake_keys import paddle_key, stripe_key

pytestmark = pytest.mark.e2e
STRIPE_KEY = stripe_key("e2e_fake_stripe_api_key")
PADDLE_KEY = paddle_key("e2e_fake_paddle_api_key")
YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")


@pytest.fixture
def stripe_api() -> Iterator[FakeStripeServer]:
    server = start_fake_stripe(STRIPE_KEY)
    yield server
    server.shutdown()


@pytest.fixture
def paddle_api() -> Iterator[FakePaddleServer]:
    server = start_fake_paddle(PADDLE_KEY)
    yield server
    server.shutdown()


def summary(output: str) -> dict[str, int]:
    """The last two lines of a backfill: its summary table's header and figures."""
    header, figures = output.strip().splitlines()[-2:]
    return dict(zip([h.lower() for h in header.split()], map(int, figures.split()), strict=True))


def invoice_paid(customer: str, amount: int) -> dict[str, Any]:
    return s.event("invoice.paid", s.invoice(amount_paid=amount, customer=customer))


def invoice_id(event: dict[str, Any]) -> str:
    return str(event["data"]["object"]["id"])


def test_register_backfill_reconcile_and_status_with_stripe(harness: Harness, stripe_api: FakeStripeServer) -> None:
    harness.extra_env.update(STRIPE_API_KEY=STRIPE_KEY, STRIPE_API_BASE=stripe_api.url)
    harness.without_env.add("STRIPE_WEBHOOK_SECRET")
    harness.start()
    url = f"http://127.0.0.1:{harness.port}/stripe"

    # register, twice: one endpoint, the README's events, the pinned version; the secret
    # in .env beside the one in use, taken up by the running stack.
    first = harness.cli("register", "stripe", "--url", url)
    assert first.returncode == 0, first.stderr
    assert "created we_" in first.stdout and "took it up" in first.stdout
    second = harness.cli("register", "stripe", "--url", url)
    assert second.returncode == 0 and "up to date" in second.stdout, second.stdout + second.stderr
    (endpoint,) = stripe_api.state.endpoints.values()
    assert (endpoint["url"], endpoint["api_version"]) == (url, TESTED_API_VERSION)
    assert sorted(endpoint["enabled_events"]) == sorted(STRIPE_EVENTS)
    secret = stripe_api.state.secrets[endpoint["id"]]
    stored = read_dotenv(harness.tmp / ".env")["STRIPE_WEBHOOK_SECRET"]
    assert stored == f"{secret},whsec_local_development_secret"

    # Stripe delivers, signed with the registered secret: the stack verifies it.
    assert harness.referral(customer_key="user-1", partner_key="anna", stripe_customer_id="cus_A").status_code == 201
    assert harness.referral(customer_key="user-2", partner_key="ben", stripe_customer_id="cus_B").status_code == 201
    delivered = invoice_paid("cus_A", 5000)
    assert stripe_api.state.emit(delivered) == 0
    harness.wait_for(lambda: len(harness.active()) == 1)

    # The stack is down while three payments happen: Stripe cannot deliver them.
    harness.stacks[-1].stop()
    missed = [invoice_paid("cus_A", 3000), invoice_paid("cus_B", 2000), invoice_paid("cus_Z", 999)]
    assert [stripe_api.state.emit(event) for event in missed] == [1, 1, 1]
    harness.start()

    recovered = harness.cli("backfill", "stripe", "--since", YESTERDAY)
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert summary(recovered.stdout) == {
        "seen": 4,
        "new": 3,
        "credited": 2,
        "already_known": 1,
        "unattributed": 1,
        "rejected": 0,
    }
    harness.wait_for(lambda: len(harness.active()) == 3)
    amounts = (50.0, 30.0, 20.0, 0.0)
    expected = {f"stripe-{invoice_id(event)}": a for event, a in zip([delivered, *missed], amounts, strict=True)}
    assert {key: amount for key, (amount, _) in harness.active().items()} == {k: v for k, v in expected.items() if v}
    again = harness.cli("backfill", "stripe", "--since", YESTERDAY)
    assert summary(again.stdout)["new"] == 0 and summary(again.stdout)["already_known"] == 4
    requests_before = len(harness.api_state()["transactions"])
    time.sleep(1.5)  # whatever a second run queued would have reached the API by now
    assert len(harness.api_state()["transactions"]) == requests_before

    # By hand at the platform: one transaction deleted, another changed.
    first_key, second_key = list(expected)[:2]

    requests.patch(f"{harness.api.url}/_sandbox/transactions/{first_key}", json={"deleted": True}, timeout=5)
    requests.patch(f"{harness.api.url}/_sandbox/transactions/{second_key}", json={"amount": 1.0}, timeout=5)
    drift = harness.cli("reconcile")
    assert drift.returncode == 1, drift.stdout + drift.stderr
    assert re.search(rf"deleted outside the bridge\s+{first_key}\s+{first_key}\s+50\.00 USD", drift.stdout)
    assert re.search(rf"amount differs\s+{second_key}\s+{second_key}\s+30\.00 USD\s+1\.00 USD", drift.stdout)
    fixed = harness.cli("reconcile", "--fix")
    assert fixed.returncode == 0 and "sent 2 correction(s)" in fixed.stdout, fixed.stdout + fixed.stderr
    harness.wait_for(
        lambda: (
            {k: a for k, (a, _) in harness.active().items()}
            == {f"{first_key}-r1": 50.0, f"{second_key}-r1": 30.0, list(expected)[2]: 20.0}
        )
    )
    clean = harness.cli("reconcile")
    assert clean.returncode == 0 and "0 drift(s)" in clean.stdout, clean.stdout

    status = harness.cli("status")
    assert status.returncode == 0, status.stdout + status.stderr
    figures = {line.split()[0]: line.split()[1:] for line in status.stdout.splitlines() if line.split()}
    assert int(figures["received"][1]) >= 1 and int(figures["forwarded"][1]) >= 5
    assert "0 drift(s)" in status.stdout and "dead letters:            0" in status.stdout


def test_register_and_backfill_with_paddle(harness: Harness, paddle_api: FakePaddleServer) -> None:
    harness.extra_env.update(PADDLE_API_KEY=PADDLE_KEY, PADDLE_API_URL=paddle_api.url)
    harness.start()
    url = f"http://127.0.0.1:{harness.port}/paddle"
    for _ in range(2):
        registered = harness.cli("register", "paddle", "--url", url)
        assert registered.returncode == 0, registered.stdout + registered.stderr
    (setting,) = paddle_api.state.settings.values()
    assert [e["name"] for e in setting["subscribed_events"]] == list(PADDLE_EVENTS)
    assert read_dotenv(harness.tmp / ".env")["PADDLE_WEBHOOK_SECRET"].startswith(setting["endpoint_secret_key"] + ",")

    harness.referral(customer_key="user-3", partner_key="cleo", paddle_customer_id="ctm_01e2e")
    paddle_api.state.emit("transaction.completed", p.transaction(total=3000, tax=500, customer_id="ctm_01e2e"))
    harness.wait_for(lambda: len(harness.active()) == 1)
    harness.stacks[-1].stop()
    missed = paddle_api.state.emit("transaction.completed", p.transaction(total=1000, customer_id="ctm_01e2e"))
    assert [n["status"] for n in paddle_api.state.notifications.values()] == ["delivered", "failed"]
    harness.start()

    for expected_new in (1, 0):
        run = harness.cli("backfill", "paddle", "--since", YESTERDAY)
        assert run.returncode == 0, run.stdout + run.stderr
        assert summary(run.stdout)["new"] == expected_new and summary(run.stdout)["seen"] == 2
    harness.wait_for(lambda: f"paddle-{missed['data']['id']}" in harness.active())


def test_register_stripe_knows_its_endpoint_with_or_without_a_slash_and_dry_runs_honestly(
    harness: Harness, stripe_api: FakeStripeServer
) -> None:
    """A function URL ends in "/", the same URL pasted by hand often does not: one endpoint.
    A dry run says what the real run would do: delete and create under --recreate, refuse
    when no usable signing secret is held; and changes nothing."""
    harness.extra_env.update(STRIPE_API_KEY=STRIPE_KEY, STRIPE_API_BASE=stripe_api.url)
    harness.without_env.add("STRIPE_WEBHOOK_SECRET")
    harness.start()
    url = f"http://127.0.0.1:{harness.port}/stripe"
    assert harness.cli("register", "stripe", "--url", url).returncode == 0
    for variant in (url + "/", url.replace("http://", "HTTP://")):
        again = harness.cli("register", "stripe", "--url", variant)
        assert again.returncode == 0 and "up to date" in again.stdout, again.stdout + again.stderr
    (endpoint,) = stripe_api.state.endpoints.values()
    dotenv = (harness.tmp / ".env").read_text()

    dry = harness.cli("register", "stripe", "--url", url, "--recreate", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert f"would delete {endpoint['id']} (--recreate)" in dry.stdout and "would create" in dry.stdout
    assert list(stripe_api.state.endpoints) == [endpoint["id"]] and (harness.tmp / ".env").read_text() == dotenv

    (harness.tmp / ".env").write_text("")
    harness.stacks[-1].stop()
    refused = harness.cli("register", "stripe", "--url", url, "--dry-run")
    assert refused.returncode == 2 and "holds no usable signing secret" in refused.stderr, refused.stdout
    assert list(stripe_api.state.endpoints) == [endpoint["id"]]
