"""The lines a person reads while `make run` goes: one per request and per message."""

from __future__ import annotations

import json
import logging

import pytest

from affiliate_bridge.domain.money import format_minor
from affiliate_bridge_dev.terminal import TerminalLines, forwarder_line, request_line, say


def test_a_request_line_names_the_event_and_the_answer() -> None:
    body = json.dumps({"id": "evt_1", "type": "invoice.paid"}).encode()
    answer = json.dumps({"outcome": "enqueued", "transaction_key": "stripe-in_1"}).encode()
    line = request_line("/stripe", body, 200, answer, 0.012)
    assert "POST /stripe invoice.paid evt_1 -> 200 enqueued stripe-in_1" in line and line.endswith("[12 ms]")
    assert "\n" not in line


def test_a_refused_request_and_a_reason_are_said() -> None:
    refused = request_line("/stripe", b"garbage", 400, b'{"error":"signature_mismatch","message":"no"}', 0.001)
    assert "-> 400 signature_mismatch: no" in refused
    orphan = request_line("/stripe", b"{}", 200, b'{"outcome":"enqueued","reason":"no sale seen"}', 0.001)
    assert "(no sale seen)" in orphan


def test_hostile_bodies_stay_on_one_short_line() -> None:
    body = json.dumps({"type": "x" * 5000 + "\n", "id": ["not", "a", "string"]}).encode()
    line = request_line("/stripe", body, 400, b"\xff\xfe", 0.0)
    assert len(line) < 200 and "\n" not in line.rstrip("\n")


def test_forwarded_messages_read_as_sentences_with_amounts_by_currency() -> None:
    fields = {
        "transaction_key": "stripe-in_1",
        "kind": "reversal",
        "steps": ["DeleteTransaction", "CreateTransaction"],
        "applied_key": "stripe-in_1-r1",
        "applied_minor": 3675,
        "currency": "USD",
    }
    line = forwarder_line("message forwarded", fields)
    assert line is not None
    assert "reversal stripe-in_1: delete transaction, create transaction; API holds stripe-in_1-r1 = 36.75 USD" in line
    retry = forwarder_line(
        "affiliate API busy: retrying later", {"transaction_key": "k", "status": 503, "delay_seconds": 5}
    )
    assert retry is not None and "retry k in 5 s" in retry and "503" in retry
    assert forwarder_line("event accepted", {}) is None


def test_the_handler_adds_the_loggers_keys_and_shows_errors() -> None:
    lines: list[str] = []
    handler = TerminalLines(lambda: {"transaction_key": "paddle-txn_1"}, lines.append)
    logger = logging.getLogger("terminal-test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.info("message dead-lettered", extra={"reason": "affiliate_api_rejected", "status": 422, "detail": "bad"})
    logger.info("event accepted")
    logger.error("something broke")
    assert len(lines) == 2
    assert "dead-lettered paddle-txn_1: affiliate_api_rejected 422 bad" in lines[0]
    assert "error: something broke" in lines[1]


def test_amounts_follow_the_currency_exponent() -> None:
    assert format_minor(4900, "usd") == "49.00 USD"
    assert format_minor(4900, "JPY") == "4900 JPY"
    assert format_minor(1500, "kwd") == "1.500 KWD"
    assert format_minor(5, "eur") == "0.05 EUR"
    assert format_minor(7, "???") == "7 ??? (minor units)"


def test_escape_sequences_in_unsigned_bodies_never_reach_the_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    body = json.dumps({"type": "\x1b[2J\x1b[Hforged\nline", "id": "evt_\r1"}).encode()
    say(request_line("/stripe", body, 400, b'{"error":"signature_mismatch"}', 0.0))
    shown = capsys.readouterr().err
    assert "\x1b" not in shown and "\r" not in shown and shown.count("\n") == 1
