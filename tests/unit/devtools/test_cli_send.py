"""The send command's arguments: each provider's own types, real ids only, last payment."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from affiliate_bridge_dev.cli import build_parser
from affiliate_bridge_dev.cli_send import PADDLE_TYPES, STRIPE_TYPES, LastPayments, build_stripe, provider_id


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_each_provider_lists_its_own_event_types(capsys: pytest.CaptureFixture[str]) -> None:
    stripe, paddle = _help(capsys, "send", "stripe"), _help(capsys, "send", "paddle")
    assert stripe != paddle
    assert all(kind in stripe for kind in STRIPE_TYPES) and not any(kind in stripe for kind in PADDLE_TYPES)
    assert all(kind in paddle for kind in PADDLE_TYPES)
    assert "--partner-key" in stripe and "--partner-key" in paddle


@pytest.mark.parametrize(
    "argv",
    [
        ["send", "--help"],
        ["send", "stripe", "--help"],
        ["send", "paddle", "--help"],
        ["referrals", "add", "--help"],
        ["--help"],
    ],
)
def test_help_fits_a_terminal_and_shows_no_markup(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    text = _help(capsys, *argv[:-1])
    assert "``" not in text
    too_wide = [line for line in text.splitlines() if len(line) > 100]
    assert too_wide == []


@pytest.mark.parametrize(
    "argv",
    [
        ["send", "stripe", "--payment-intent", "pi_..."],
        ["send", "stripe", "--invoice", "in_123 "],
        ["send", "stripe", "--customer", "pi_123"],
        ["send", "paddle", "--transaction", "txn_01..."],
        ["referrals", "add", "--customer-key", "u", "--partner-key", "p", "--stripe-customer-id", "cus_..."],
        ["send", "stripe", "--amount", "-1"],
        ["send", "stripe", "--amount", "49.00"],
        ["send", "stripe", "--type", "payment_intent.created"],
        ["send", "paddle", "--type", "charge.refunded"],
    ],
)
def test_placeholders_and_nonsense_are_refused_before_anything_is_sent(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "error:" in error and "Traceback" not in error


@given(st.text(min_size=1, max_size=40))
def test_an_id_is_accepted_only_as_prefix_underscore_letters_and_digits(value: str) -> None:
    parse = provider_id("pi")
    real = value.startswith("pi_") and value[3:].isascii() and value[3:].isalnum()
    if real:
        assert parse(value) == value
    else:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(value)


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["send", "stripe", *argv])


def test_an_invoice_sale_is_followed_by_its_link_and_a_refund_reaches_it(tmp_path: Path) -> None:
    events, payment = build_stripe(_args("--type", "invoice.paid", "--amount", "4900", "--customer", "cus_1"), {}, {})
    assert [e["type"] for e in events] == ["invoice.paid", "invoice_payment.paid"]
    assert payment is not None
    invoice, link = events[0]["data"]["object"], events[1]["data"]["object"]
    assert link["invoice"] == invoice["id"] and payment["transaction_key"] == f"stripe-{invoice['id']}"
    memory = LastPayments(tmp_path / "last.json")
    memory.write("local", "stripe", payment)
    (refund,), _ = build_stripe(
        _args("--type", "charge.refunded", "--refunded", "1225"), {}, memory.read("local", "stripe")
    )
    charge = refund["data"]["object"]
    assert charge["payment_intent"] == link["payment"]["payment_intent"]
    assert (charge["amount"], charge["amount_refunded"], charge["currency"]) == (4900, 1225, "usd")


def test_a_reversal_without_a_payment_says_what_to_do() -> None:
    from affiliate_bridge_dev.targets import TargetError

    with pytest.raises(TargetError, match="send a sale first"):
        build_stripe(_args("--type", "charge.refunded"), {}, {})


def test_partner_and_customer_keys_use_the_running_stacks_field_names() -> None:
    fields = {"CUSTOMER_KEY_FIELD": "uid", "PARTNER_KEY_FIELD": "ref"}
    (event,), _ = build_stripe(_args("--customer-key", "user-9", "--partner-key", "anna"), fields, {})
    assert event["data"]["object"]["metadata"] == {"uid": "user-9", "ref": "anna"}


def test_a_damaged_memory_file_is_treated_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "last.json"
    for content in ("not json", "[]", json.dumps({"local": []}), json.dumps({"local": {"stripe": 3}})):
        path.write_text(content, encoding="utf-8")
        assert LastPayments(path).read("local", "stripe") == {}
        LastPayments(path).write("local", "stripe", {"transaction_key": "stripe-pi_1"})
        assert LastPayments(path).read("local", "stripe") == {"transaction_key": "stripe-pi_1"}
