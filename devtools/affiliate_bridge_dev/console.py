"""The local stack's console: one server-rendered page that answers "what happened?".

Payments with their attribution and outcome, what the affiliate API holds per partner,
parked payments, dead letters and the sandbox's fault injection. Plain HTML and CSS, no
build step and no script; the page reloads itself every few seconds. Everything shown
comes from untrusted payloads (customer keys, partner keys, API answers), so every value
passes through ``html.escape``.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from affiliate_bridge.domain.money import format_minor
from affiliate_bridge.forwarding.state import PaymentState, from_record
from affiliate_bridge.storage import keys
from affiliate_bridge.storage.dynamo import from_item
from affiliate_bridge_dev.operations import list_dead_letters

REFRESH_SECONDS = 5
RECENT_EVENTS = 50


@dataclass
class ConsoleData:
    payments: list[PaymentState] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # ledger entries, newest first
    parked: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    sandbox: dict[str, Any] | None = None  # None: the real affiliate API is used
    faults: list[dict[str, Any]] = field(default_factory=list)

    def events_of(self, transaction_key: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("transaction_key") == transaction_key]


def _scan(dynamodb: Any, table: str) -> Iterable[dict[str, Any]]:
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = dynamodb.scan(**kwargs)
        yield from (from_item(item) for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def gather(dynamodb: Any, table: str, sqs: Any, dead_letter_queue_url: str, sandbox: Any | None) -> ConsoleData:
    """One scan of the table (a local table is small) and a peek at the dead letters."""
    data = ConsoleData()
    for item in _scan(dynamodb, table):
        if item["sk"] == keys.STATE_SK:
            data.payments.append(from_record(item))
        elif item["pk"].startswith(keys.EVENT):
            data.events.append(item)
        elif item["pk"].startswith(keys.PARKED):
            data.parked.append(item)
    data.events.sort(key=lambda e: e.get("last_seen_at", 0), reverse=True)
    first_seen = {e.get("transaction_key"): e.get("first_seen_at", 0) for e in reversed(data.events)}
    data.payments.sort(key=lambda p: first_seen.get(p.transaction_key, 0), reverse=True)
    for letter in list_dead_letters(sqs, dead_letter_queue_url):
        data.dead_letters.append({"message_id": letter.message_id, "body": letter.body, **letter.attributes})
    if sandbox is not None:
        exported = sandbox.state.export()
        data.sandbox = exported
        with sandbox.state.lock:
            data.faults = [vars(f).copy() for f in sandbox.state.faults if f.remaining > 0]
    return data


# -- faults ---------------------------------------------------------------------------------
class FormError(ValueError):
    pass


def apply_faults(method: str, body: bytes, sandbox: Any | None) -> str:
    """POST adds a fault (form fields status, count, retry_after); DELETE clears them."""
    if sandbox is None:
        raise FormError("fault injection needs the sandbox API (PARTNERO_API_KEY is set: the real API is used)")
    from affiliate_bridge_dev.partnero_sandbox import Fault

    if method == "DELETE":
        with sandbox.state.lock:
            sandbox.state.faults.clear()
        return "faults cleared"
    form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    status = _int_field(form, "status", None, 100, 599)
    count = _int_field(form, "count", 1, 1, 1000)
    retry_after = _int_field(form, "retry_after", None, 0, 43_200) if form.get("retry_after") else None
    with sandbox.state.lock:
        sandbox.state.faults.append(Fault(status=status, remaining=count, retry_after=retry_after))
    return f"the next {count} affiliate API call(s) answer {status}"


def _int_field(form: Mapping[str, str], name: str, default: int | None, low: int, high: int) -> int:
    raw = form.get(name, "").strip()
    if not raw and default is not None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise FormError(f"{name} must be a whole number from {low} to {high}, not {raw!r}")
    return int(raw)


Reply = tuple[int, bytes, dict[str, str]]
TEXT = {"content-type": "text/plain; charset=utf-8"}


def respond(command: str, path: str, query: str, accept: str, body: bytes, page: Any, sandbox: Any | None) -> Reply:
    """The console's HTTP answers: the page, or a fault change (a browser's form is sent
    back to the page; curl gets one line of text)."""
    if path == "/health":
        return 200, b'{"status":"ready"}', {"content-type": "application/json"}
    if path != "/console/faults":
        return 200, page().encode(), {"content-type": "text/html; charset=utf-8"}
    clear = command == "DELETE" or "clear=1" in query.split("&")
    if not clear and command != "POST":
        return 405, b"POST (add a fault) or DELETE (clear them)\n", {**TEXT, "Allow": "POST, DELETE"}
    try:
        notice = apply_faults("DELETE" if clear else "POST", body, sandbox)
    except FormError as exc:
        return 400, f"{exc}\n".encode(), TEXT
    if "text/html" in accept:
        return 303, b"", {"Location": "/"}
    return 200, f"{notice}\n".encode(), TEXT


# -- rendering ------------------------------------------------------------------------------
def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _when(seconds: object) -> str:
    """UTC, without the zone: every time column's header says UTC."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(float(seconds)))


def _money(minor: object, currency: object) -> str:
    if not isinstance(minor, int) or isinstance(minor, bool) or not isinstance(currency, str):
        return "-"
    return format_minor(minor, currency)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], empty: str) -> str:
    if not rows:
        return f'<p class="empty">{_e(empty)}</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _outcome(state: PaymentState, events: Sequence[Mapping[str, Any]], dead: bool) -> str:
    if dead:
        return '<span class="bad">in the dead-letter queue</span>'
    if state.merged_into:
        return f'<span class="muted">moved to <code>{_e(state.merged_into)}</code></span>'
    if state.pending is not None:
        return '<span class="warn">API call in doubt: checked on the next delivery</span>'
    if state.applied_key:
        return '<span class="ok">credited</span>'
    if state.sale is None:
        return '<span class="warn">reversal kept: no sale seen yet</span>'
    if state.desired_minor() == 0:
        return '<span class="muted">fully reversed</span>'
    return '<span class="warn">not credited yet</span>'


def _payment_row(state: PaymentState, events: Sequence[Mapping[str, Any]], dead: bool) -> list[str]:
    sale, currency = state.sale, state.currency
    first = min((e.get("first_seen_at", 0) for e in events), default=0)
    reversed_minor = state.reversals.total_reversed()
    return [
        _e(_when(first)),
        f"<code>{_e(state.transaction_key)}</code>",
        _e(sale.customer_key if sale else "-"),
        _e(sale.partner_key if sale else "-"),
        _e(sale.attribution_rule if sale else "-"),
        _e(_money(sale.paid_minor, currency) if sale else "-"),
        _e(_money(sale.commissionable_minor, currency) if sale else "-"),
        _e(_money(reversed_minor, currency) if reversed_minor else "-"),
        f"<code>{_e(state.applied_key)}</code> {_e(_money(state.applied_minor, currency))}"
        if state.applied_key
        else "nothing",
        _outcome(state, events, dead),
    ]


def _payments(data: ConsoleData) -> str:
    dead = {_letter_body(letter).get("transaction_key") for letter in data.dead_letters}
    rows = [
        _payment_row(state, data.events_of(state.transaction_key), state.transaction_key in dead)
        for state in data.payments
    ]
    headers = ["first seen (UTC)", "payment", "customer", "partner", "rule", "paid", "commissionable", "reversed"]
    return _table([*headers, "API holds", "outcome"], rows, "No payment forwarded yet.")


def _events(data: ConsoleData) -> str:
    rows = [
        [
            _e(_when(e.get("last_seen_at"))),
            _e(e.get("provider")),
            _e(e.get("event_type")),
            f"<code>{_e(keys.event_id_of(e['pk']))}</code>",
            _e(e.get("outcome")),
            f"<code>{_e(e.get('transaction_key') or '-')}</code>",
            _e(e.get("partner_key") or "-"),
            _e(e.get("reason") or ""),
        ]
        for e in data.events[:RECENT_EVENTS]
    ]
    headers = ["last seen (UTC)", "provider", "type", "event", "outcome", "payment", "partner", "reason"]
    return _table(headers, rows, "No webhook received yet.")


def _held(transaction: Mapping[str, Any]) -> str:
    return (
        f"<code>{_e(transaction.get('key'))}</code> {_e(transaction.get('amount'))}"
        f" (customer {_e(transaction.get('customer'))})"
    )


def _holdings(data: ConsoleData) -> str:
    if data.sandbox is None:
        return '<p class="empty">The real affiliate API is used (PARTNERO_API_KEY is set): ask it.</p>'
    per_partner: dict[str, list[dict[str, Any]]] = {}
    for transaction in data.sandbox.get("transactions", {}).values():
        if transaction.get("deleted_at") is None:
            per_partner.setdefault(str(transaction.get("partner")), []).append(transaction)
    rows = [
        [
            _e(partner),
            _e(len(held)),
            _e(f"{sum(float(t.get('amount') or 0) for t in held):.2f}"),
            "<br>".join(_held(transaction) for transaction in held),
        ]
        for partner, held in sorted(per_partner.items())
    ]
    return _table(["partner", "transactions", "total (API amounts)", "held"], rows, "The API holds nothing yet.")


def _identifier(parked_pk: str) -> str:
    """``PARKED#stripe_customer#cus_1`` -> ``stripe customer cus_1``."""
    kind, _, value = parked_pk.removeprefix(keys.PARKED).partition("#")
    return f"{kind.replace('_', ' ')} {value}"


def _parked(data: ConsoleData) -> str:
    rows = [
        [
            _e(_identifier(p["pk"])),
            f"<code>{_e(p.get('parked_transaction_key'))}</code>",
            _e(_money(p.get("paid_minor"), p.get("currency"))),
            _e(_when(p.get("occurred_at"))),
            _e(_when(p.get(keys.TTL_ATTRIBUTE))),
        ]
        for p in data.parked
    ]
    headers = ["waiting for a referral of", "payment", "paid", "paid at (UTC)", "parked until (UTC)"]
    return _table(headers, rows, "No payment is waiting for a referral.")


def _letter_body(letter: Mapping[str, Any]) -> dict[str, Any]:
    try:
        body = json.loads(letter["body"])
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _dead_letters(data: ConsoleData) -> str:
    rows = []
    for letter in data.dead_letters:
        body = _letter_body(letter)
        rows.append(
            [
                f"<code>{_e(letter.get('source_message_id') or letter['message_id'])}</code>",
                f"<code>{_e(body.get('transaction_key') or '-')}</code>",
                _e(body.get("kind") or "-"),
                _e(letter.get("failure_reason") or "retries exhausted"),
                _e(letter.get("failure_status") or "-"),
                _e(str(letter.get("failure_detail") or "")[:200]),
                _e(_when(int(letter["failed_at"])) if str(letter.get("failed_at", "")).isdigit() else "-"),
            ]
        )
    headers = ["message", "payment", "kind", "reason", "status", "detail", "failed at (UTC)"]
    return _table(headers, rows, "The dead-letter queue is empty.")


def _faults(data: ConsoleData, notice: str | None) -> str:
    if data.sandbox is None:
        return '<p class="empty">Fault injection needs the sandbox API.</p>'
    current = ", ".join(
        f"{f['status']} for the next {f['remaining']} call(s)"
        + (f" (Retry-After {f['retry_after']} s)" if f.get("retry_after") is not None else "")
        for f in data.faults
    )
    return f"""
<p>{_e(notice) + "<br>" if notice else ""}Injected now: {_e(current or "none")}</p>
<form method="post" action="/console/faults">
  <label>status <input name="status" value="503" size="4"></label>
  <label>count <input name="count" value="1" size="3"></label>
  <label>Retry-After <input name="retry_after" value="" size="4" placeholder="s"></label>
  <button type="submit">make the next calls fail</button>
</form>
<form method="post" action="/console/faults?clear=1"><button type="submit">clear faults</button></form>
<p class="muted">422 (or any 4xx but 408/425/429) sends the message straight to the dead-letter queue;
503, 429 or 408 are retried with backoff. From a terminal:
<code>curl -X POST http://127.0.0.1:3000/console/faults -d status=422 -d count=1</code>,
<code>curl -X DELETE http://127.0.0.1:3000/console/faults</code>.</p>"""


STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d2330;background:#fafbfc}
h1{font-size:20px;margin:0 0 .2em} h2{font-size:16px;margin:1.6em 0 .4em}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #e3e6ea;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f2f5;font-weight:600} code{font-size:12px}
.ok{color:#137333;font-weight:600} .warn{color:#b06000;font-weight:600} .bad{color:#b3261e;font-weight:600}
.muted,.empty{color:#68707d} td:first-child{white-space:nowrap} code{word-break:break-all}
form{display:inline-block;margin-right:1em} input{font:inherit}
"""


def render(data: ConsoleData, notice: str | None = None, now: float | None = None) -> str:
    stamp = _when(time.time() if now is None else now)
    sections = [
        ("Payments", _payments(data)),
        ("Affiliate API holdings per partner", _holdings(data)),
        ("Parked payments", _parked(data)),
        ("Dead letters", _dead_letters(data)),
        ("Recent webhook events", _events(data)),
        ("Fault injection (sandbox API)", _faults(data, notice)),
    ]
    body = "".join(f"<h2>{_e(title)}</h2>{content}" for title, content in sections)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>affiliate-bridge console</title>
<meta http-equiv="refresh" content="{REFRESH_SECONDS}"><style>{STYLE}</style></head>
<body><h1>affiliate-bridge console</h1>
<p class="muted">Local stack, {_e(stamp)}. Reloads every {REFRESH_SECONDS} s.
Ask why with <code>affiliate-bridge explain &lt;id&gt;</code>.</p>{body}</body></html>
"""
