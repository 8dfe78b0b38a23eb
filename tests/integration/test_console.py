"""The console page, rendered from what the real handlers stored (moto and the sandbox)."""

from __future__ import annotations

import re

import pytest

from affiliate_bridge_dev import console
from affiliate_bridge_dev import stripe_samples as s
from tests.integration.conftest import Bridge


def _page(bridge: Bridge) -> str:
    data = console.gather(
        bridge.dynamodb, bridge.resources.table_name, bridge.sqs, bridge.resources.dead_letter_queue_url, bridge.sandbox
    )
    return console.render(data)


def _row(page: str, needle: str) -> str:
    rows: list[str] = [row for row in re.findall(r"<tr>(.*?)</tr>", page, re.S) if needle in row]
    assert rows, f"no row with {needle}"
    return rows[0]


def test_payments_show_partner_rule_amounts_by_currency_and_outcome(bridge: Bridge) -> None:
    bridge.add_referral(customer_key="user-1", partner_key="anna", stripe_customer_id="cus_1")
    usd = s.checkout_session(amount_total=4900, customer="cus_1")
    yen = s.checkout_session(amount_total=4900, currency="jpy", customer="cus_1")
    dinar = s.checkout_session(amount_total=12_500, currency="kwd", customer="cus_1")
    for session in (usd, yen, dinar):
        bridge.post_stripe(s.event("checkout.session.completed", session))
    refund = s.charge(amount=4900, amount_refunded=1225, payment_intent=usd["payment_intent"])
    bridge.post_stripe(s.event("charge.refunded", refund))
    bridge.drain()
    page = _page(bridge)
    row = _row(page, f"stripe-{usd['payment_intent']}</code></td>")
    assert "anna" in row and "provider_customer_id" in row and "49.00 USD" in row and "12.25 USD" in row
    assert f"stripe-{usd['payment_intent']}-r1</code> 36.75 USD" in row and "credited" in row
    assert "4900 JPY" in _row(page, yen["payment_intent"])
    assert "12.500 KWD" in _row(page, dinar["payment_intent"])
    assert "<td>anna</td><td>3</td>" in page  # the API holds three transactions for anna


def test_parked_dead_lettered_and_orphan_reversals_are_shown(bridge: Bridge) -> None:
    stranger = s.checkout_session(amount_total=1000, customer="cus_stranger", email=None)
    bridge.post_stripe(s.event("checkout.session.completed", stranger))
    bridge.post_stripe(s.event("charge.refunded", s.charge(amount=700, amount_refunded=700, payment_intent="pi_x1")))
    bridge.add_referral(customer_key="user-2", partner_key="ben", stripe_customer_id="cus_2")
    bridge.inject_fault(422, 1)
    doomed = s.checkout_session(amount_total=1500, customer="cus_2")
    bridge.post_stripe(s.event("checkout.session.completed", doomed))
    bridge.drain()
    page = _page(bridge)
    parked = _row(page, stranger["payment_intent"])
    assert "stripe customer cus_stranger" in parked and "10.00 USD" in parked
    assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</td>", parked)
    assert "reversal kept: no sale seen yet" in _row(page, "stripe-pi_x1</code></td>")
    letter = _row(page, f"stripe-{doomed['payment_intent']}</code></td><td>sale")
    assert "affiliate_api_rejected" in letter and "422" in letter


def test_everything_shown_is_escaped(bridge: Bridge) -> None:
    hostile = "<script>alert(1)</script>"
    bridge.add_referral(customer_key=hostile, partner_key="p&q", stripe_customer_id="cus_x")
    bridge.post_stripe(s.event("checkout.session.completed", s.checkout_session(amount_total=100, customer="cus_x")))
    bridge.drain()
    page = _page(bridge)
    assert hostile not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "p&amp;q" in page


def test_faults_from_the_form_and_from_curl(bridge: Bridge) -> None:
    def page() -> str:
        return "page"

    status, body, headers = console.respond(
        "POST", "/console/faults", "", "*/*", b"status=503&count=2", page, bridge.sandbox
    )
    assert status == 200 and b"next 2" in body
    status, _, headers = console.respond(
        "POST", "/console/faults", "", "text/html", b"status=422", page, bridge.sandbox
    )
    assert status == 303 and headers["Location"] == "/"
    assert [(f.status, f.remaining) for f in bridge.sandbox.state.faults] == [(503, 2), (422, 1)]
    assert "503 for the next 2 call(s)" in _page(bridge)
    status, _, _ = console.respond("POST", "/console/faults", "clear=1", "text/html", b"", page, bridge.sandbox)
    assert status == 303 and bridge.sandbox.state.faults == []


@pytest.mark.parametrize(
    "form", [b"", b"status=abc", b"status=99", b"status=600", b"status=503&count=0", b"status=503&retry_after=-1"]
)
def test_a_bad_fault_form_is_refused(bridge: Bridge, form: bytes) -> None:
    status, body, _ = console.respond("POST", "/console/faults", "", "*/*", form, lambda: "", bridge.sandbox)
    assert status == 400 and b"must be a whole number" in body
    assert bridge.sandbox.state.faults == []


def test_without_the_sandbox_the_page_says_so_and_faults_are_refused() -> None:
    page = console.render(console.ConsoleData())
    assert "The real affiliate API is used" in page and "No payment forwarded yet" in page
    status, body, _ = console.respond("POST", "/console/faults", "", "*/*", b"status=503", lambda: "", None)
    assert status == 400 and b"needs the sandbox" in body
