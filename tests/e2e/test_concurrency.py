"""The local stack under concurrent deliveries, over real sockets.

Each function runs in its own pool of execution environments (function_pool), so these
meet the races the cloud has: a burst from many clients, the same event delivered at
once by several of them, a referral racing the payment it attributes, and a forwarder
waiting on a stalled API while webhooks keep arriving. The figures (deliveries a second,
latencies) belong to `make bench`; these assert only what must hold: every commission
arrives exactly once, and nothing waits on what it does not depend on.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from affiliate_bridge_dev import stripe_samples as s
from affiliate_bridge_dev.senders import stripe_signature_header
from tests.e2e.conftest import REFERRALS_TOKEN, Harness

pytestmark = pytest.mark.e2e
CLIENTS = 16
SECRET = "whsec_e2e_secret_two"


class Client:
    """One merchant-side sender per thread, with keep-alive like a real one."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        session: requests.Session = self._local.session
        return session

    def stripe(self, event: dict[str, Any]) -> int:
        body = json.dumps(event).encode()
        headers = {"Content-Type": "application/json", "Stripe-Signature": stripe_signature_header(body, SECRET)}
        return self.session.post(f"{self.base}/stripe", data=body, headers=headers, timeout=60).status_code

    def referral(self, customer_key: str, partner_key: str, stripe_customer_id: str) -> int:
        body = {"customer_key": customer_key, "partner_key": partner_key, "stripe_customer_id": stripe_customer_id}
        headers = {"Authorization": f"Bearer {REFERRALS_TOKEN}"}
        return self.session.post(f"{self.base}/referrals", json=body, headers=headers, timeout=60).status_code


def errors_logged(harness: Harness) -> str:
    """The stack's error log lines, so a failure says what went wrong on the bridge's side."""
    log = harness.tmp / "state" / "bridge.log"
    lines = log.read_text(encoding="utf-8").splitlines() if log.is_file() else []
    return "\n".join(line for line in lines if '"level":"ERROR"' in line.replace(" ", ""))[-6000:]


def creations(harness: Harness) -> Counter[str]:
    """How many times the affiliate API was asked to create each transaction key."""
    return Counter(
        str(r["body"].get("key"))
        for r in list(harness.api.state.requests)
        if r["method"] == "POST" and r["path"] == "/v1/transactions" and isinstance(r["body"], dict)
    )


def environments(harness: Harness) -> dict[str, dict[str, int]]:
    health: dict[str, Any] = requests.get(f"http://127.0.0.1:{harness.port}/health", timeout=5).json()
    return dict(health["environments"])


def test_a_burst_from_many_clients_arrives_once_each(harness: Harness) -> None:
    harness.start()
    client = Client(harness.port)
    count = 200
    with ThreadPoolExecutor(CLIENTS) as pool:
        referred = list(
            pool.map(lambda i: client.referral(f"burst-{i}", f"partner-{i % 7}", f"cus_burst{i}"), range(count))
        )
        invoices = [s.invoice(amount_paid=1000 + i, customer=f"cus_burst{i}") for i in range(count)]
        answers = list(pool.map(lambda inv: client.stripe(s.event("invoice.paid", inv)), invoices))
    assert set(referred) == {201} and set(answers) == {200}
    expected = {f"stripe-{inv['id']}": ((1000 + i) / 100, f"burst-{i}") for i, inv in enumerate(invoices)}
    harness.wait_for(lambda: len(harness.active()) >= count, timeout=120)
    assert harness.active() == expected
    assert set(creations(harness).values()) == {1}, "a transaction was asked for twice"
    # One call per first sale: the customer is created in the same call (options.create_customer).
    calls = [r for r in list(harness.api.state.requests) if r["path"].startswith("/v1/")]
    assert len(calls) == count and all(r["body"]["options"] == {"create_customer": True} for r in calls)
    # It really ran concurrently: more than one execution environment served the burst.
    assert environments(harness)["stripe_webhook"]["workers"] > 1


def test_the_same_payment_delivered_at_once_by_many_is_one_transaction(harness: Harness) -> None:
    harness.start()
    client = Client(harness.port)
    assert client.referral("dup-1", "anna", "cus_dup") == 201
    rounds = []
    for _ in range(5):
        session = s.checkout_session(amount_total=4900, mode="subscription", customer="cus_dup")
        invoice = s.invoice(amount_paid=4900, invoice_id=session["invoice"], customer="cus_dup")
        # Retries of one event and the other event of the same money, all at once.
        events = [s.event("invoice.paid", invoice)] * 6 + [s.event("checkout.session.completed", session)] * 6
        barrier = threading.Barrier(len(events))

        def deliver(event: dict[str, Any], barrier: threading.Barrier = barrier) -> int:
            barrier.wait()
            return client.stripe(event)

        with ThreadPoolExecutor(len(events)) as pool:
            assert set(pool.map(deliver, events)) == {200}
        rounds.append(f"stripe-{session['invoice']}")
    harness.wait_for(lambda: set(rounds) <= set(harness.active()))
    assert {key: harness.active()[key] for key in rounds} == {key: (49.0, "dup-1") for key in rounds}
    assert all(creations(harness)[key] == 1 for key in rounds), creations(harness)


def test_a_referral_racing_its_payment_is_credited_once_whichever_wins(harness: Harness) -> None:
    harness.start()
    client = Client(harness.port)
    pairs = 24
    invoices = [s.invoice(amount_paid=2000 + i, customer=f"cus_race{i}") for i in range(pairs)]

    def race(i: int) -> tuple[int, int]:
        barrier = threading.Barrier(2)
        results: dict[str, int] = {}

        def pay() -> None:
            barrier.wait()
            results["pay"] = client.stripe(s.event("invoice.paid", invoices[i]))

        def refer() -> None:
            barrier.wait()
            results["refer"] = client.referral(f"race-{i}", "ben", f"cus_race{i}")

        threads = [threading.Thread(target=pay), threading.Thread(target=refer)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results["pay"], results["refer"]

    with ThreadPoolExecutor(8) as pool:
        answers = set(pool.map(race, range(pairs)))
    assert answers == {(200, 201)}, errors_logged(harness)
    expected = {f"stripe-{inv['id']}": ((2000 + i) / 100, f"race-{i}") for i, inv in enumerate(invoices)}
    harness.wait_for(lambda: expected.items() <= harness.active().items(), timeout=60)
    assert all(creations(harness)[key] == 1 for key in expected), creations(harness)


def test_webhooks_are_answered_while_the_forwarder_waits_on_a_stalled_api(harness: Harness) -> None:
    harness.start()
    client = Client(harness.port)
    assert client.referral("stall-1", "cleo", "cus_stall") == 201
    requests.post(
        f"{harness.api.url}/_sandbox/faults", json={"delay_seconds": 6, "count": 1}, timeout=5
    ).raise_for_status()
    first = s.event("invoice.paid", s.invoice(amount_paid=500, customer="cus_stall"))
    assert client.stripe(first) == 200
    # The forwarder's call is now held by the API; what it has not answered is not recorded yet.
    harness.wait_for(lambda: not harness.api.state.faults[0].remaining, timeout=10)
    later = [s.event("invoice.paid", s.invoice(amount_paid=600 + i, customer="cus_stall")) for i in range(5)]
    assert [client.stripe(event) for event in later] == [200] * 5
    stalled_key = f"stripe-{first['data']['object']['id']}"
    # Every later webhook was answered before the stalled call came back.
    assert stalled_key not in creations(harness)
    harness.wait_for(lambda: len(harness.active()) == 6, timeout=30)
