"""`affiliate-bridge explain`: "was this credited, and why" in one glance.

The report starts with a verdict in plain words (credited how much, to which partner,
under which key; or why not), then the facts behind it as rows: the referral, each
payment's refunds and disputes, the webhook events, the calls to the affiliate API.
Times are dates (UTC), amounts follow their currency, message ids are the ones `dlq list`
shows, and every line fits a 100-column terminal. ``--json`` gives the same for scripts.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from affiliate_bridge.domain.money import format_minor
from affiliate_bridge.forwarding.state import PaymentState, from_record
from affiliate_bridge.storage import keys
from affiliate_bridge_dev.operations import DeadLetter, Explanation

WIDTH = 100
# The forwarder's answer when the API does not know the customer yet: the normal first
# step of a first sale, followed by the create. Not a failure.
UNKNOWN_CUSTOMER = "UnknownCustomer"
RETRYABLE = "RetryableError"


@dataclass(frozen=True)
class Verdict:
    code: str
    text: str


@dataclass
class PaymentView:
    transaction_key: str
    state: PaymentState | None
    events: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


def when(seconds: object) -> str:
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(float(seconds)))


def money(minor: object, currency: str | None) -> str:
    if not isinstance(minor, int) or isinstance(minor, bool):
        return "-"
    return format_minor(minor, currency) if currency else f"{minor} (minor units)"


# -- verdicts -------------------------------------------------------------------------------
def _credited(view: PaymentView, state: PaymentState) -> Verdict:
    sale, currency = state.sale, state.currency
    held = money(state.applied_minor, currency)
    text = f"Credited {held} to partner {sale.partner_key if sale else '?'} under key {state.applied_key}"
    reversed_minor = state.reversals.total_reversed()
    if sale and reversed_minor:
        text += (
            f": {money(sale.paid_minor, currency)} paid, {money(reversed_minor, currency)} refunded or lost in"
            " disputes, so the commission base is the kept share"
        )
    return Verdict("credited", text + ".")


def _from_state(view: PaymentView, state: PaymentState) -> Verdict | None:
    if state.merged_into:
        return Verdict("moved", f"Its facts moved to payment {state.merged_into}: explain {state.merged_into}.")
    if state.pending is not None:
        return Verdict(
            "in_doubt",
            f"A {state.pending.call} of {state.pending.key} may or may not have reached the affiliate API;"
            " the next delivery reads the API first, so it is never doubled.",
        )
    if state.applied_key:
        return _credited(view, state)
    if state.sale is None:
        return Verdict(
            "reversal_without_sale",
            "A refund or dispute was recorded, but no sale has been seen for this payment (yet): it is kept"
            " and applied when the sale arrives.",
        )
    if state.desired_minor() == 0:
        reversed_minor = money(state.reversals.total_reversed(), state.currency)
        return Verdict("reversed", f"Reversed in full ({reversed_minor}): the affiliate API holds nothing for it.")
    return None


def _from_events(view: PaymentView) -> Verdict:
    outcomes = {str(e.get("outcome")): e for e in view.events}
    for outcome, code, lead in (
        ("unattributed", "unattributed", "Not credited: "),
        ("skipped_zero_amount", "skipped", "Skipped: "),
        ("rejected", "rejected", "Rejected: "),
        ("ignored", "ignored", "Ignored: "),
    ):
        if outcome in outcomes and not ({"enqueued", "enqueued_late"} & set(outcomes)):
            return Verdict(code, lead + str(outcomes[outcome].get("reason") or outcome) + ".")
    if {"enqueued", "enqueued_late"} & set(outcomes):
        return Verdict("queued", "Accepted and queued; the forwarder has not processed it yet.")
    return Verdict("recorded", "Recorded; nothing was sent for it.")


def _retrying(last: Mapping[str, Any]) -> Verdict:
    return Verdict(
        "retrying",
        f"Retrying: the affiliate API answered {last.get('status') or 'nothing'} at {when(last.get('at'))}"
        f" ({last.get('detail') or 'busy'}); SQS delivers it again after a backoff.",
    )


def payment_verdict(view: PaymentView) -> Verdict:
    if view.dead_letters:
        letter = view.dead_letters[0]
        reason = letter.attributes.get("failure_reason", "retries exhausted")
        status = letter.attributes.get("failure_status")
        detail = letter.attributes.get("failure_detail") or ""
        return Verdict(
            "dead_letter",
            f"Waiting in the dead-letter queue: {reason}{f' ({status})' if status else ''}: {detail[:120]}"
            f" (message {letter.origin_message_id}). Fix the cause, then: affiliate-bridge dlq redrive --all",
        )
    if view.attempts and view.attempts[-1].get("result") == RETRYABLE:
        return _retrying(view.attempts[-1])
    if view.state is not None:
        verdict = _from_state(view, view.state)
        if verdict is not None:
            return verdict
    return _from_events(view)


def event_verdict(event: Mapping[str, Any]) -> Verdict:
    outcome = str(event.get("outcome"))
    reason = event.get("reason")
    text = {
        "ignored": f"Ignored: {reason or 'not an event that moves commission'}.",
        "rejected": f"Rejected as malformed (400): {reason}.",
        "profile_updated": "The customer's email (as a hash) was recorded for attribution.",
        "linked": "Linked a payment id to its payment, so later refunds find it.",
    }.get(outcome, f"Recorded as {outcome}{f': {reason}' if reason else ''}.")
    return Verdict(outcome, text)


# -- building the report --------------------------------------------------------------------
def payment_views(explanation: Explanation, letters: Sequence[DeadLetter]) -> list[PaymentView]:
    views = []
    for transaction_key in explanation.transaction_keys:
        item = explanation.states.get(transaction_key)
        views.append(
            PaymentView(
                transaction_key,
                from_record(dict(item)) if item else None,
                [e for e in explanation.events if e.get("transaction_key") == transaction_key],
                sorted(explanation.attempts.get(transaction_key, []), key=lambda a: a.get("at", 0)),
                [letter for letter in letters if letter.transaction_key == transaction_key],
            )
        )
    return views


def _event_json(event: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "event_id": keys.event_id_of(event["pk"]),
        "provider": event.get("provider"),
        "type": event.get("event_type"),
        "outcome": event.get("outcome"),
        "reason": event.get("reason"),
        "transaction_key": event.get("transaction_key"),
        "partner_key": event.get("partner_key"),
        "attribution_rule": event.get("attribution_rule"),
        "attribution_trail": event.get("attribution_trail") or [],
        "message_id": event.get("message_id"),
        "deliveries": event.get("deliveries"),
        "first_seen": when(event.get("first_seen_at")),
        "last_seen": when(event.get("last_seen_at")),
    }


def _payment_json(view: PaymentView) -> dict[str, Any]:
    state, verdict = view.state, payment_verdict(view)
    sale = state.sale if state else None
    return {
        "transaction_key": view.transaction_key,
        "verdict": {"code": verdict.code, "text": verdict.text},
        "currency": state.currency if state else None,
        "customer_key": sale.customer_key if sale else None,
        "partner_key": sale.partner_key if sale else None,
        "attribution_rule": sale.attribution_rule if sale else None,
        "paid_minor": sale.paid_minor if sale else None,
        "commissionable_minor": sale.commissionable_minor if sale else None,
        "applied_key": state.applied_key if state else None,
        "applied_minor": state.applied_minor if state else 0,
        "refunds": [{"id": k, "amount_minor": v} for k, v in (state.reversals.refunds if state else {}).items()],
        "disputes": [
            {"id": k, "amount_minor": d.get("amount"), "status": d.get("status"), "at": when(d.get("at"))}
            for k, d in (state.reversals.disputes if state else {}).items()
        ],
        "events": [_event_json(e) for e in view.events],
        "attempts": [
            {**{k: v for k, v in a.items() if k not in ("pk", "sk")}, "at": when(a.get("at"))} for a in view.attempts
        ],
        "dead_letters": [{"message_id": letter.origin_message_id, **letter.attributes} for letter in view.dead_letters],
    }


def build(explanation: Explanation, letters: Sequence[DeadLetter]) -> dict[str, Any]:
    """The JSON document: stable keys, times as UTC dates, amounts in minor units."""
    views = payment_views(explanation, letters)
    shown = {view.transaction_key for view in views}
    # An alias key whose facts moved to a payment that is shown anyway adds nothing.
    views = [v for v in views if not (v.state and v.state.merged_into and v.state.merged_into in shown)]
    payments = [_payment_json(view) for view in views]
    loose = [_event_json(e) for e in explanation.events if not e.get("transaction_key")]
    if len(payments) == 1:
        verdict = payments[0]["verdict"]
    elif payments:
        verdict = {"code": f"{len(payments)} payments", "text": f"{len(payments)} payments, each with its verdict."}
    elif explanation.events:
        found = event_verdict(explanation.events[0])
        verdict = {"code": found.code, "text": found.text}
    else:
        verdict = {"code": "referral_only", "text": "A referral is recorded; no payment names this customer yet."}
    referral = explanation.referral
    return {
        "query": explanation.query,
        "verdict": verdict,
        "referral": None
        if referral is None
        else {
            "customer_key": keys.customer_key_of(referral["pk"]),
            "partner_key": referral.get("partner_key"),
            "status": "deleted" if referral.get("deleted") else "active",
            "source": referral.get("source"),
            "since": when(referral.get("created_at")),
            "conflicts": [
                {"claimed_by": c.get("claimed_partner_key"), "kept": c.get("kept_partner_key"), "at": when(c.get("at"))}
                for c in explanation.conflicts
            ],
            "stale_deliveries": [when(s.get("at")) for s in explanation.stale],
        },
        "payments": payments,
        "events": loose,
    }


# -- text -----------------------------------------------------------------------------------
def _wrap(text: str, indent: str = "  ") -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent + "  ") or [indent]


def _fit(cells: Sequence[str], widths: Sequence[int]) -> str:
    parts = []
    for cell, width in zip(cells, widths, strict=True):
        parts.append(cell if len(cell) <= width else cell[: width - 1] + "~")
        parts[-1] = parts[-1].ljust(width)
    return ("  " + "  ".join(parts)).rstrip()


def _referral_lines(referral: Mapping[str, Any]) -> list[str]:
    lines = _wrap(
        f"Referral: customer {referral['customer_key']} -> partner {referral['partner_key']}"
        f" ({referral['status']}, since {referral['since']}, from {referral['source']})",
        "",
    )
    for conflict in referral["conflicts"]:
        lines += _wrap(f"{conflict['claimed_by']} claimed it on {conflict['at']}; {conflict['kept']} kept it")
    for at in referral["stale_deliveries"]:
        lines += _wrap(f"a platform delivery on {at} was older than one already applied: it changed nothing")
    return lines


ANSWERS = {"ok": "ok", "duplicate": "already there", "PermanentError": "refused", RETRYABLE: "busy, retried"}


def _attempt_lines(attempt: Mapping[str, Any], currency: str | None) -> list[str]:
    """Two lines per call: what was asked and answered, then the key (keys are long)."""
    result = str(attempt.get("result"))
    if result == UNKNOWN_CUSTOMER:
        answer = "customer not there yet (normal: created next)"
    else:
        answer = f"{ANSWERS.get(result, result)} {attempt.get('status') or ''}".strip()
    call = str(attempt.get("call") or "?").replace(" /v1/", " ").split("/")[0]
    amount = money(attempt.get("amount_minor"), currency) if attempt.get("amount_minor") is not None else ""
    first = _fit([str(attempt.get("at")), call, amount, answer], (20, 20, 14, 38))
    return [first, f"{' ' * 24}key {attempt.get('key')}"]


def _payment_lines(payment: Mapping[str, Any]) -> list[str]:
    currency = payment["currency"]
    lines = ["", f"Payment {payment['transaction_key']}"]
    lines += _wrap(payment["verdict"]["text"])
    if payment["paid_minor"] is not None:
        lines += _wrap(
            f"customer {payment['customer_key']}, partner {payment['partner_key']}, rule"
            f" {payment['attribution_rule']}; paid {money(payment['paid_minor'], currency)}, commissionable"
            f" {money(payment['commissionable_minor'], currency)}"
        )
    reversals = [["refund", r["id"], money(r["amount_minor"], currency), "", ""] for r in payment["refunds"]]
    reversals += [
        ["dispute", d["id"], money(d["amount_minor"], currency), str(d["status"]), d["at"]] for d in payment["disputes"]
    ]
    if reversals:
        lines += ["  Refunds and disputes:"] + [_fit(r, (8, 34, 16, 10, 20)) for r in reversals]
    if payment["attempts"]:
        lines.append("  Calls to the affiliate API:")
        for attempt in payment["attempts"]:
            lines += _attempt_lines(attempt, currency)
    return lines + _event_lines(payment["events"])


def _event_lines(events: Sequence[Mapping[str, Any]]) -> list[str]:
    if not events:
        return []
    lines = ["  Webhook events (signature verified):"]
    for event in events:
        lines.append(
            _fit([event["first_seen"], str(event["type"]), str(event["outcome"]), event["event_id"]], (20, 28, 13, 30))
        )
        details = [f"message {event['message_id']}" if event["message_id"] else ""]
        if event["attribution_rule"]:
            details.append(f"rule {event['attribution_rule']}")
        if event["reason"]:
            details.append(str(event["reason"]))
        text = "; ".join(d for d in details if d)
        if text:
            lines += _wrap(text, " " * 24)
    return lines


def render(report: Mapping[str, Any]) -> str:
    lines = [f"{report['query']}: {report['verdict']['code'].replace('_', ' ')}"]
    if len(report["payments"]) > 1:
        for payment in report["payments"]:
            lines += _wrap(f"{payment['transaction_key']}: {payment['verdict']['code'].replace('_', ' ')}")
    elif not report["payments"]:
        lines += _wrap(report["verdict"]["text"])
    if report["referral"]:
        lines += ["", *_referral_lines(report["referral"])]
    for payment in report["payments"]:
        lines += _payment_lines(payment)
    if report["events"]:
        lines += ["", *_event_lines(report["events"])]
    return "\n".join(line.rstrip() for line in lines) + "\n"
