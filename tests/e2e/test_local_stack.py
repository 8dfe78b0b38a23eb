"""`make run` as a user meets it: real processes, real sockets, the CLI."""

from __future__ import annotations

import json
import random
import time

import requests

from affiliate_bridge_dev import stripe_samples as s
from tests.e2e.conftest import Harness


def test_starts_prints_its_urls_and_forwards_a_referred_payment_once(harness: Harness) -> None:
    stack = harness.start()
    banner = "\n".join(stack.stderr)
    assert f"POST {stack.url}/stripe" in banner and f"POST {stack.url}/referrals" in banner
    assert harness.api.url in banner
    assert requests.get(stack.url + "/health", timeout=5).json()["status"] == "ready"

    assert harness.referral(customer_key="user-1", partner_key="anna", stripe_customer_id="cus_E2E").status_code == 201
    session = s.checkout_session(amount_total=4900, mode="subscription", customer="cus_E2E")
    invoice = s.invoice(amount_paid=4900, invoice_id=session["invoice"], customer="cus_E2E")
    deliveries = [s.event("checkout.session.completed", session), s.event("invoice.paid", invoice)]
    deliveries += deliveries  # Stripe retries
    random.Random(3).shuffle(deliveries)
    for event in deliveries:
        response = harness.stripe(event)
        assert response.status_code == 200, response.text
    key = f"stripe-{session['invoice']}"
    harness.wait_for(lambda: key in harness.active())
    assert harness.active() == {key: (49.0, "user-1")}
    assert harness.api_state()["customers"]["user-1"]["partner"] == "anna"

    # The terminal: readable lines, one per request and per message; JSON goes to the file.
    time.sleep(0.5)
    terminal = [line.removeprefix("[affiliate-bridge] ") for line in stack.stderr]
    requests_seen = [line for line in terminal if " POST /stripe " in line]
    assert len(requests_seen) == len(deliveries), terminal
    assert all(" -> 200 enqueued " + key in line for line in requests_seen)
    assert any(f"forwarded sale {key}" in line and "49.00 USD" in line for line in terminal), terminal
    assert not [line for line in terminal if line.lstrip().startswith("{")], "JSON on the terminal"
    logged = [json.loads(line) for line in (stack.state_dir / "bridge.log").read_text().splitlines()]
    assert any(entry.get("message") == "message forwarded" for entry in logged)
    assert any("_aws" in entry for entry in logged), "EMF metrics belong in the log file"


def test_signature_rotation_and_bad_signature_over_http(harness: Harness) -> None:
    harness.start()
    event = s.event("invoice.paid", s.invoice(amount_paid=100, customer="cus_x"))
    assert harness.stripe(event, secret="whsec_e2e_secret_one").status_code == 200
    assert harness.stripe(event, secret="whsec_e2e_secret_two").status_code == 200
    bad = harness.stripe(event, secret="whsec_someone_else")
    assert bad.status_code == 400 and bad.json()["error"] == "signature_mismatch"
    assert requests.get(f"http://127.0.0.1:{harness.port}/stripe", timeout=5).status_code == 405


def test_affiliate_api_fails_a_few_times_then_recovers(harness: Harness) -> None:
    harness.start()
    harness.referral(customer_key="user-2", partner_key="ben", stripe_customer_id="cus_F")
    requests.post(harness.api.url + "/_sandbox/faults", json={"status": 503, "count": 3, "retry_after": 1}, timeout=5)
    session = s.checkout_session(amount_total=2500, customer="cus_F")
    assert harness.stripe(s.event("checkout.session.completed", session)).status_code == 200
    key = f"stripe-{session['payment_intent']}"
    harness.wait_for(lambda: key in harness.active(), timeout=45)
    assert harness.active() == {key: (25.0, "user-2")}


def test_permanent_failure_ends_in_the_dead_letter_queue_and_is_redriven(harness: Harness) -> None:
    harness.start()
    harness.referral(customer_key="user-3", partner_key="cleo", stripe_customer_id="cus_D")
    requests.post(harness.api.url + "/_sandbox/faults", json={"status": 422, "count": 1}, timeout=5)
    session = s.checkout_session(amount_total=1000, customer="cus_D")
    harness.stripe(s.event("checkout.session.completed", session))
    key = f"stripe-{session['payment_intent']}"

    def dead_lettered() -> bool:
        return key in harness.cli("dlq", "list").stdout

    harness.wait_for(dead_lettered)
    listing = harness.cli("dlq", "list").stdout
    assert "affiliate_api_rejected" in listing and "422" in listing
    assert harness.active() == {}
    waiting = harness.cli("explain", key)
    assert waiting.stdout.startswith(f"{key}: dead letter"), waiting.stdout
    ledger_message_id = json.loads(harness.cli("explain", key, "--json").stdout)["payments"][0]["events"][0][
        "message_id"
    ]
    assert ledger_message_id in listing  # dlq list names it as explain does
    redriven = harness.cli("dlq", "redrive", "--all")
    assert redriven.returncode == 0 and "redriven 1 message" in redriven.stdout
    harness.wait_for(lambda: key in harness.active())
    assert "(none)" in harness.cli("dlq", "list").stdout

    explained = harness.cli("explain", key)
    assert explained.returncode == 0, explained.stderr
    assert explained.stdout.startswith(f"{key}: credited"), explained.stdout
    assert "Credited 10.00 USD to partner cleo" in explained.stdout and "rule provider_customer_id" in explained.stdout
    assert "refused 422" in explained.stdout and "ok 201" in explained.stdout  # both calls, in order
    assert all(len(line) <= 100 for line in explained.stdout.splitlines())


def test_queued_messages_survive_a_restart(harness: Harness) -> None:
    stack = harness.start()
    harness.referral(customer_key="user-4", partner_key="dora", stripe_customer_id="cus_R")
    requests.post(harness.api.url + "/_sandbox/faults", json={"status": 503, "count": 10_000}, timeout=5)
    session = s.checkout_session(amount_total=7700, customer="cus_R")
    event = s.event("checkout.session.completed", session)
    assert harness.stripe(event).status_code == 200
    harness.wait_for(lambda: harness.api_state()["requests"] >= 1)
    assert stack.stop() == 0
    assert any("1 queued" in line for line in stack.stderr), stack.stderr[-5:]

    requests.delete(harness.api.url + "/_sandbox/faults", timeout=5)
    restarted = harness.start()
    assert any("restored" in line for line in restarted.stderr)
    key = f"stripe-{session['payment_intent']}"
    harness.wait_for(lambda: key in harness.active(), timeout=45)
    assert harness.active() == {key: (77.0, "user-4")}
    # The referral survived too: a renewal is attributed without a new /referrals call.
    renewal = s.checkout_session(amount_total=7700, customer="cus_R")
    assert harness.stripe(s.event("checkout.session.completed", renewal)).json()["outcome"] == "enqueued"
    explained = harness.cli("explain", event["id"])
    assert explained.returncode == 0 and key in explained.stdout


def test_cli_sends_signed_events_and_manages_referrals(harness: Harness) -> None:
    harness.start()
    added = harness.cli(
        "referrals", "add", "--customer-key", "user-5", "--partner-key", "eve", "--stripe-customer-id", "cus_C"
    )
    assert added.returncode == 0 and '"created"' in added.stdout
    conflict = harness.cli("referrals", "add", "--customer-key", "user-5", "--partner-key", "mallory")
    assert conflict.returncode == 1 and "409" in conflict.stdout
    listed = harness.cli("referrals", "list")
    assert "user-5" in listed.stdout and "eve" in listed.stdout and "mallory" not in listed.stdout
    sent = harness.cli("send", "stripe", "--type", "invoice.paid", "--amount", "1999", "--customer", "cus_C")
    assert sent.returncode == 0 and "enqueued" in sent.stdout
    harness.wait_for(lambda: any(v == (19.99, "user-5") for v in harness.active().values()))
    event_file = harness.tmp / "event.json"
    event_file.write_text(json.dumps(s.event("invoice.paid", s.invoice(amount_paid=500, customer="cus_nobody"))))
    from_file = harness.cli("send", "stripe", "--file", str(event_file))
    assert from_file.returncode == 0 and "unattributed" in from_file.stdout


def test_paddle_route_and_cli_send_paddle(harness: Harness) -> None:
    harness.extra_env["PADDLE_WEBHOOK_SECRET"] = "pdl_ntfset_e2e_secret"
    harness.start()
    harness.referral(customer_key="user-6", partner_key="fay", paddle_customer_id="ctm_01e2e")
    sent = harness.cli("send", "paddle", "--amount", "3000", "--tax", "500", "--customer", "ctm_01e2e")
    assert sent.returncode == 0 and "enqueued" in sent.stdout, sent.stdout + sent.stderr
    transaction_key = json.loads(sent.stdout.split(" ", 2)[2])["transaction_key"]
    harness.wait_for(lambda: transaction_key in harness.active())
    assert harness.active()[transaction_key] == (25.0, "user-6")
    refund = harness.cli(
        "send",
        "paddle",
        "--type",
        "adjustment.updated",
        "--transaction",
        transaction_key.removeprefix("paddle-"),
        "--refunded",
        "3000",
    )
    assert refund.returncode == 0 and "enqueued" in refund.stdout
    harness.wait_for(lambda: transaction_key not in harness.active())
    wrong = harness.cli("send", "paddle", "--amount", "100", "--secret", "pdl_ntfset_not_ours")
    assert wrong.returncode == 1 and "signature_mismatch" in wrong.stdout


def test_late_referral_platform_webhook_and_checkout_partner_key_over_http(harness: Harness) -> None:
    from affiliate_bridge_dev.senders import partnero_signature_header

    harness.extra_env["PARTNERO_WEBHOOK_SECRET"] = "e2e-platform-secret"
    harness.start()
    # Payment first, referral later: released once the referral arrives.
    early = s.checkout_session(amount_total=1200, customer="cus_EARLY")
    assert harness.stripe(s.event("checkout.session.completed", early)).json()["outcome"] == "unattributed"
    late = harness.referral(customer_key="user-7", partner_key="gil", stripe_customer_id="cus_EARLY")
    assert late.status_code == 201 and late.json()["released_payments"] == [f"stripe-{early['payment_intent']}"]
    # The platform's own webhook instead of a backend call.
    body = json.dumps(
        {"event": "customer.created", "data": {"key": "user-8", "partner": "hana", "email": "h@example.com"}}
    ).encode()
    platform = requests.post(
        f"http://127.0.0.1:{harness.port}/partnero",
        data=body,
        headers={
            "Content-Type": "application/json",
            "Signature": partnero_signature_header(body, "e2e-platform-secret"),
        },
        timeout=10,
    )
    assert platform.status_code == 200 and platform.json()["outcome"] == "created"
    by_email = s.checkout_session(amount_total=2000, email="h@example.com")
    assert harness.stripe(s.event("checkout.session.completed", by_email)).json()["outcome"] == "enqueued"
    # Checkout-only: a partner key on the payment creates the referral and the customer.
    checkout_only = s.checkout_session(amount_total=3000, customer="cus_SHOP", metadata={"partner_key": "ida"})
    assert harness.stripe(s.event("checkout.session.completed", checkout_only)).json()["outcome"] == "enqueued"
    harness.wait_for(lambda: len(harness.active()) == 3)
    assert harness.active() == {
        f"stripe-{early['payment_intent']}": (12.0, "user-7"),
        f"stripe-{by_email['payment_intent']}": (20.0, "user-8"),
        f"stripe-{checkout_only['payment_intent']}": (30.0, "cus_SHOP"),
    }
    partners = {k: c["partner"] for k, c in harness.api_state()["customers"].items()}
    assert partners == {"user-7": "gil", "user-8": "hana", "cus_SHOP": "ida"}
    explained = harness.cli("explain", f"stripe-{early['payment_intent']}")
    assert "late:provider_customer_id" in explained.stdout
    conflict = harness.referral(customer_key="user-7", partner_key="mallory")
    assert conflict.status_code == 409
    customer = harness.cli("explain", "user-7")
    assert "partner gil" in customer.stdout and "mallory claimed it" in customer.stdout


def test_a_message_waiting_out_a_retry_delay_survives_a_restart(harness: Harness) -> None:
    """In flight with a ten-minute backoff at the moment of Ctrl-C: invisible to any SQS
    receive, it must still be saved and forwarded after the restart."""
    harness.extra_env.update(RETRY_BASE_SECONDS="600", RETRY_MAX_SECONDS="600")
    stack = harness.start()
    harness.referral(customer_key="user-5", partner_key="eve", stripe_customer_id="cus_W")
    requests.post(harness.api.url + "/_sandbox/faults", json={"status": 503, "count": 1}, timeout=5)
    session = s.checkout_session(amount_total=4200, customer="cus_W")
    assert harness.stripe(s.event("checkout.session.completed", session)).status_code == 200
    harness.wait_for(lambda: harness.api_state()["requests"] >= 1)
    time.sleep(0.5)  # the forwarder has set the ten-minute visibility
    assert stack.stop() == 0
    assert any("1 queued" in line for line in stack.stderr), stack.stderr[-5:]
    restarted = harness.start()
    assert any("restored" in line for line in restarted.stderr)
    key = f"stripe-{session['payment_intent']}"
    harness.wait_for(lambda: key in harness.active(), timeout=30)
    assert harness.active() == {key: (42.0, "user-5")}


def test_a_bad_content_length_is_refused_without_a_traceback(harness: Harness) -> None:
    import socket

    stack = harness.start()
    answers = []
    for length in ("abc", "-5", "99999999999", "1e3"):
        with socket.create_connection(("127.0.0.1", harness.port), timeout=10) as conn:
            conn.sendall(f"POST /stripe HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n{{}}".encode())
            answers.append(conn.recv(200).split(b"\r\n")[0])
    assert answers == [b"HTTP/1.1 400 Bad Request"] * 2 + [b"HTTP/1.1 413 Request Entity Too Large"] + [
        b"HTTP/1.1 400 Bad Request"
    ]
    assert requests.get(stack.url + "/health", timeout=5).status_code == 200  # still serving
    time.sleep(0.3)
    assert not [line for line in stack.stderr if "Traceback" in line or "Exception" in line], stack.stderr
