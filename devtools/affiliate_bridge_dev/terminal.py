"""What `make run` shows a person: one readable line per request and per forwarded message.

The handlers log as they do in Lambda (Powertools JSON lines, EMF metric blobs); the
local stack sends those to a file, and this module turns the few records a person
follows into short lines on the terminal. Nothing here changes what the handlers log.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from affiliate_bridge.domain.money import format_minor

Say = Callable[[str], None]


def printable(text: str) -> str:
    """Request bodies are untrusted, even unsigned ones: an escape sequence in an event
    type must not repaint the operator's terminal or forge a line."""
    return "".join(c if c.isprintable() else "?" for c in text)


def say(message: str) -> None:
    print(f"[affiliate-bridge] {printable(message)}", file=sys.stderr, flush=True)


def _clock() -> str:
    return time.strftime("%H:%M:%S")


def _json(raw: bytes | str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def request_line(path: str, request_body: bytes, status: int, response_body: bytes, elapsed: float) -> str:
    """``10:03:04 POST /stripe invoice.paid evt_1 -> 200 enqueued stripe-in_1 (12 ms)``."""
    sent, answer = _json(request_body), _json(response_body)
    what = [str(sent[k]) for k in ("type", "event_type", "id", "event_id") if isinstance(sent.get(k), str)]
    if path in ("/referrals", "/partnero") and isinstance(sent.get("customer_key"), str):
        what = [f"customer {sent['customer_key']}"]
    outcome = [str(answer[k]) for k in ("outcome", "error", "transaction_key") if answer.get(k)]
    line = f"{_clock()} POST {path} {' '.join(what)[:90]} -> {status} {' '.join(outcome)}".replace("  ", " ")
    if answer.get("reason") and status < 400:
        line += f" ({answer['reason']})"
    elif answer.get("message") and status >= 400:
        line += f": {answer['message']}"
    return f"{line} [{elapsed * 1000:.0f} ms]"


def _amount(fields: Mapping[str, Any]) -> str:
    minor, currency = fields.get("applied_minor"), fields.get("currency")
    if isinstance(minor, int) and isinstance(currency, str):
        return format_minor(minor, currency)
    return str(minor)


def _words(step: str) -> str:
    """``DeleteTransaction`` -> ``delete transaction``."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", step).lower()


def forwarder_line(message: str, fields: Mapping[str, Any]) -> str | None:
    """One line for a record a person follows; None for the rest (they stay in the file)."""
    key = fields.get("transaction_key") or "?"
    if message == "message forwarded":
        if fields.get("kind") == "relink":
            return f"{_clock()} relinked {key}: facts filed under it now follow its payment"
        held = fields.get("applied_key")
        holds = f"API holds {held} = {_amount(fields)}" if held else "API holds nothing for it"
        steps = ", ".join(_words(step) for step in fields.get("steps") or []) or "no API call needed"
        return f"{_clock()} forwarded {fields.get('kind')} {key}: {steps}; {holds}"
    if message == "affiliate API busy: retrying later":
        return f"{_clock()} retry {key} in {fields.get('delay_seconds')} s: the API answered {fields.get('status')}"
    if message == "message dead-lettered":
        return (
            f"{_clock()} dead-lettered {key}: {fields.get('reason')} {fields.get('status') or ''}"
            f" {str(fields.get('detail') or '')[:80]} (affiliate-bridge dlq list)"
        ).replace("  ", " ")
    if message.startswith("reversal kept for a payment without a sale"):
        return f"{_clock()} kept a reversal of {key}: no sale seen for it yet; it applies when the sale arrives"
    if message == "message failed: SQS will retry it":
        return f"{_clock()} failed {key}: {fields.get('reason')} (SQS retries; traceback in the log file)"
    return None


class TerminalLines(logging.Handler):
    """A second handler on the Powertools logger: the JSON lines still go to the file."""

    def __init__(self, current_keys: Callable[[], Mapping[str, Any]], out: Say = say) -> None:
        super().__init__(level=logging.INFO)
        self._current_keys = current_keys
        self._out = out

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = {**self._current_keys(), **record.__dict__}
            line = forwarder_line(record.getMessage(), fields)
            if line is None and record.levelno >= logging.ERROR:
                line = f"{_clock()} {record.levelname.lower()}: {record.getMessage()}"
            if line:
                self._out(line)
        except Exception:  # a terminal nicety must never break a handler
            self.handleError(record)
