"""``affiliate-bridge``: operate a bridge from a terminal (local stack or deployed stack).

    affiliate-bridge send stripe --type invoice.paid --amount 4900 --customer cus_123
    affiliate-bridge send paddle --type transaction.completed --amount 4900 --customer ctm_123
    affiliate-bridge referrals add --customer-key user-1 --partner-key anna
    affiliate-bridge referrals list
    affiliate-bridge explain evt_1Pgc76B7WZ01zgkWwyRHS12y
    affiliate-bridge dlq list | dlq show MESSAGE_ID | dlq redrive [--all | MESSAGE_ID ...]

The target is the local stack (``make run``) unless ``--stack NAME`` names a deployed
CloudFormation stack (AWS credentials from the usual places).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from affiliate_bridge.storage import keys
from affiliate_bridge_dev import paddle_samples, stripe_samples
from affiliate_bridge_dev.local_config import load_config
from affiliate_bridge_dev.operations import age, explain, list_dead_letters, list_referrals, queue_count, redrive
from affiliate_bridge_dev.senders import paddle_signature_header, stripe_signature_header
from affiliate_bridge_dev.targets import Target, TargetError, local_target, stack_target


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], out: Any = None) -> None:
    """Left-aligned columns sized to their content; '-' for missing values."""
    out = out or sys.stdout
    cells = [[str(row.get(c)) if row.get(c) not in (None, "") else "-" for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)), file=out)
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)), file=out)
    if not rows:
        print("(none)", file=out)


def _target(args: argparse.Namespace) -> Target:
    if args.stack:
        return stack_target(args.stack, args.region)
    return local_target(Path(args.state_dir))


def _secret(name: str, given: str | None) -> str:
    if given:
        return given
    value = os.environ.get(name) or load_config()[name]
    return value.split(",")[0].strip()


# -- send --------------------------------------------------------------------------------
def _stripe_event(args: argparse.Namespace) -> dict[str, Any]:
    api_version = stripe_samples.LEGACY if args.api_version == "legacy" else stripe_samples.BASIL
    metadata = {"customer_key": args.customer_key} if args.customer_key else {}
    kind = args.type
    if kind == "checkout.session.completed":
        obj = stripe_samples.checkout_session(
            amount_total=args.amount,
            currency=args.currency,
            tax=args.tax,
            mode=args.mode,
            customer=args.customer,
            email=args.email,
            payment_intent=args.payment_intent,
            invoice=args.invoice,
            metadata=metadata,
        )
    elif kind == "invoice.paid":
        obj = stripe_samples.invoice(
            amount_paid=args.amount,
            currency=args.currency,
            tax=args.tax,
            customer=args.customer,
            email=args.email,
            invoice_id=args.invoice,
            payment_intent=args.payment_intent,
            api_version=api_version,
            metadata=metadata,
        )
    elif kind == "charge.refunded":
        obj = stripe_samples.charge(
            amount=args.amount,
            amount_refunded=args.refunded if args.refunded is not None else args.amount,
            currency=args.currency,
            payment_intent=args.payment_intent,
            invoice_id=args.invoice,
            customer=args.customer,
            api_version=api_version,
        )
    elif kind == "charge.dispute.closed":
        obj = stripe_samples.dispute(
            amount=args.amount,
            status=args.dispute_status,
            charge_id=stripe_samples.new_id("ch"),
            payment_intent=args.payment_intent,
            currency=args.currency,
        )
    elif kind == "invoice_payment.paid":
        if not (args.invoice and args.payment_intent):
            raise SystemExit("invoice_payment.paid needs --invoice and --payment-intent")
        obj = stripe_samples.invoice_payment(
            invoice_id=args.invoice, payment_intent=args.payment_intent, amount_paid=args.amount
        )
    else:
        raise SystemExit(f"no sample for {kind}: pass --file with the event JSON")
    return stripe_samples.event(kind, obj, api_version)


def _paddle_event(args: argparse.Namespace) -> dict[str, Any]:
    kind = args.type
    custom = {"customer_key": args.customer_key} if args.customer_key else None
    if kind in ("transaction.completed", "transaction.paid"):
        data = paddle_samples.transaction(
            total=args.amount,
            tax=args.tax,
            currency=args.currency.upper(),
            customer_id=args.customer,
            custom_data=custom,
            transaction_id=args.transaction,
            status="completed" if kind == "transaction.completed" else "paid",
        )
    elif kind in ("adjustment.created", "adjustment.updated"):
        if not args.transaction:
            raise SystemExit(f"{kind} needs --transaction txn_...")
        data = paddle_samples.adjustment(
            transaction_id=args.transaction,
            total=args.refunded if args.refunded is not None else args.amount,
            action=args.action,
            status=args.status,
            currency=args.currency.upper(),
        )
    elif kind in ("customer.created", "customer.updated"):
        if not (args.customer and args.email):
            raise SystemExit(f"{kind} needs --customer ctm_... and --email")
        data = paddle_samples.customer(customer_id=args.customer, email=args.email)
    else:
        raise SystemExit(f"no sample for {kind}: pass --file with the notification JSON")
    return paddle_samples.notification(kind, data)


def cmd_send(args: argparse.Namespace) -> int:
    paddle = args.provider == "paddle"
    if args.type is None:
        args.type = "transaction.completed" if paddle else "checkout.session.completed"
    # A file is sent byte for byte: the signature covers exactly what is on disk.
    if args.file:
        body = Path(args.file).read_bytes()
    else:
        body = json.dumps(_paddle_event(args) if paddle else _stripe_event(args), indent=2).encode()
    target_url = None if args.url else (_target(args).paddle_url if paddle else _target(args).stripe_url)
    url = args.url or target_url
    if not url:
        raise SystemExit("no URL: pass --url")
    if paddle:
        secret = _secret("PADDLE_WEBHOOK_SECRET", args.secret)
        headers = {"Content-Type": "application/json", "Paddle-Signature": paddle_signature_header(body, secret)}
    else:
        secret = _secret("STRIPE_WEBHOOK_SECRET", args.secret)
        headers = {"Content-Type": "application/json", "Stripe-Signature": stripe_signature_header(body, secret)}
    event = json.loads(body)
    kind, event_id = (
        (event.get("event_type"), event.get("event_id")) if paddle else (event.get("type"), event.get("id"))
    )
    print(f"-> POST {url}  {kind}  {event_id}", file=sys.stderr)
    response = requests.post(url, data=body, headers=headers, timeout=30)
    print(f"<- {response.status_code} {response.text}")
    return 0 if response.ok else 1


# -- referrals ---------------------------------------------------------------------------
def cmd_referrals_add(args: argparse.Namespace) -> int:
    url = args.url or _target(args).referrals_url
    body = {
        k: v
        for k, v in {
            "customer_key": args.customer_key,
            "partner_key": args.partner_key,
            "email": args.email,
            "stripe_customer_id": args.stripe_customer_id,
            "paddle_customer_id": args.paddle_customer_id,
        }.items()
        if v
    }
    token = _secret("REFERRALS_API_TOKEN", args.token)
    response = requests.post(str(url), json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    print(f"<- {response.status_code} {response.text}")
    return 0 if response.status_code in (200, 201) else 1


def cmd_referrals_list(args: argparse.Namespace) -> int:
    target = _target(args)
    rows = list_referrals(target.client("dynamodb"), target.table_name)
    for row in rows:
        row["since"] = age(row.get("created_at"))
        row["status"] = "deleted" if row.get("deleted") else "active"
    table(
        rows, ["customer_key", "partner_key", "stripe_customer_id", "paddle_customer_id", "source", "status", "since"]
    )
    return 0


# -- dead letters ------------------------------------------------------------------------
def _summary(body: str) -> dict[str, Any]:
    try:
        message = json.loads(body)
    except json.JSONDecodeError:
        return {}
    return message if isinstance(message, dict) else {}


def cmd_dlq_list(args: argparse.Namespace) -> int:
    target = _target(args)
    rows = []
    for letter in list_dead_letters(target.client("sqs"), target.dead_letter_queue_url):
        message = _summary(letter.body)
        rows.append(
            {
                "message_id": letter.message_id,
                "transaction_key": message.get("transaction_key"),
                "kind": message.get("kind"),
                "reason": letter.attributes.get("failure_reason", "retries exhausted"),
                "status": letter.attributes.get("failure_status"),
                "failed": age(int(letter.attributes["failed_at"])) if letter.attributes.get("failed_at") else "-",
            }
        )
    table(rows, ["message_id", "transaction_key", "kind", "reason", "status", "failed"])
    held = queue_count(target.client("sqs"), target.dead_letter_queue_url)
    if held != len(rows):
        print(
            f"listed {len(rows)} of the {held} dead letters SQS counts: a FIFO group hands out no more"
            " than the ones above until they are removed; `dlq redrive --all` moves them all, in order",
            file=sys.stderr,
        )
    return 0


def cmd_dlq_show(args: argparse.Namespace) -> int:
    target = _target(args)
    for letter in list_dead_letters(target.client("sqs"), target.dead_letter_queue_url):
        if letter.message_id == args.message_id:
            print(
                json.dumps(
                    {"message_id": letter.message_id, "attributes": letter.attributes, "body": _summary(letter.body)},
                    indent=2,
                )
            )
            return 0
    print(f"no dead letter {args.message_id}", file=sys.stderr)
    return 1


def cmd_dlq_redrive(args: argparse.Namespace) -> int:
    if not args.all and not args.message_ids:
        raise SystemExit("name message ids to redrive, or pass --all")
    target = _target(args)
    moved = redrive(
        target.client("sqs"),
        target.dead_letter_queue_url,
        target.queue_url,
        None if args.all else set(args.message_ids),
    )
    for index, message_id in enumerate(moved, 1):
        print(f"[{index}/{len(moved)}] redriven {message_id}", file=sys.stderr)
    print(f"redriven {len(moved)} message(s) to the transactions queue")
    missing = set(args.message_ids or ()) - set(moved)
    left = queue_count(target.client("sqs"), target.dead_letter_queue_url)
    if missing:
        print(
            f"not redriven (not found, or behind other dead letters of its FIFO group): {', '.join(sorted(missing))}",
            file=sys.stderr,
        )
        return 1
    if args.all and left:
        print(f"{left} dead letter(s) still counted by SQS (arrived meanwhile?)", file=sys.stderr)
    return 0


# -- explain -----------------------------------------------------------------------------
def cmd_explain(args: argparse.Namespace) -> int:
    target = _target(args)
    result = explain(target.client("dynamodb"), target.table_name, args.id)
    if not result.found:
        print(f"nothing recorded for {args.id}")
        return 1
    print(f"== {args.id}")
    if result.referral:
        referral = result.referral
        status = "deleted" if referral.get("deleted") else "active"
        print(
            f"\nReferral: customer {args.id} -> partner {referral.get('partner_key')} ({status}, source"
            f" {referral.get('source')}, {age(referral.get('created_at'))})"
        )
        for conflict in result.conflicts:
            print(
                f"  conflict: {conflict.get('claimed_partner_key')} claimed it {age(conflict.get('at'))};"
                f" {conflict.get('kept_partner_key')} kept it (first touch)"
            )
        for stale in result.stale:
            print(
                f"  stale platform delivery {age(stale.get('at'))}: it was written at"
                f" {_iso_ms(stale.get('delivery_at_ms'))}, a newer one ({_iso_ms(stale.get('applied_at_ms'))})"
                " was already applied, so it changed nothing"
            )
    print("\nEvents (signature verified; every decision recorded):")
    table(
        [
            {
                "event": keys.event_id_of(e["pk"]),
                "type": e.get("event_type"),
                "outcome": e.get("outcome"),
                "rule": e.get("attribution_rule"),
                "trail": " > ".join(e.get("attribution_trail") or []),
                "partner": e.get("partner_key"),
                "message_id": e.get("message_id"),
                "deliveries": e.get("deliveries"),
                "reason": e.get("reason"),
            }
            for e in result.events
        ],
        ["event", "type", "outcome", "rule", "trail", "partner", "message_id", "deliveries", "reason"],
    )
    for transaction_key in result.transaction_keys:
        state = result.states.get(transaction_key)
        print(f"\nPayment {transaction_key}:")
        if state:
            sale = state.get("sale") or {}
            currency = state.get("currency") or ""
            print(
                f"  sale: {sale.get('commissionable_minor', '-')} of {sale.get('paid_minor', '-')} {currency} (minor"
                f" units) for customer {sale.get('customer_key', '-')}, partner {sale.get('partner_key', '-')}"
            )
            print(f"  refunds: {state.get('refunds') or {}}  disputes: {state.get('disputes') or {}}")
            applied = state.get("applied_key") or "nothing"
            print(f"  at the affiliate API: {applied} ({state.get('applied_minor', 0)} minor units)")
        else:
            print("  no forwarder state (not enqueued, or not processed yet)")
        attempts = result.attempts.get(transaction_key, [])
        if attempts:
            print("  forward attempts:")
            table(
                [{**a, "when": age(a.get("at"))} for a in attempts],
                ["when", "call", "key", "amount_minor", "status", "result", "event_id"],
            )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="affiliate-bridge", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stack", help="deployed CloudFormation stack name (default: the local stack)")
    parser.add_argument("--region", help="AWS region of --stack")
    parser.add_argument(
        "--state-dir", default=os.environ.get("LOCAL_STATE_DIR", ".local-stack"), help="local stack state directory"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    send = commands.add_parser("send", help="sign and send a test webhook event")
    send.add_argument("provider", choices=["stripe", "paddle"])
    send.add_argument("--file", help="event JSON to send as is (signed on its exact bytes)")
    send.add_argument("--type", help="event type to build (default: a sale)")
    send.add_argument("--amount", type=int, default=4900, help="amount in minor units (cents)")
    send.add_argument("--currency", default="usd")
    send.add_argument("--tax", type=int, default=0)
    send.add_argument("--mode", default="payment", choices=["payment", "subscription"])
    send.add_argument("--customer", help="provider customer id (cus_... / ctm_...)")
    send.add_argument("--customer-key", help="your customer key, put in metadata")
    send.add_argument("--email")
    send.add_argument("--invoice")
    send.add_argument("--payment-intent")
    send.add_argument("--refunded", type=int, help="charge.refunded: cumulative amount refunded; adjustment: its total")
    send.add_argument("--transaction", help="Paddle transaction id (txn_...)")
    send.add_argument("--action", default="refund", choices=["refund", "chargeback", "chargeback_reverse", "credit"])
    send.add_argument("--status", default="approved", choices=["approved", "pending_approval", "rejected"])
    send.add_argument("--dispute-status", default="lost", choices=["lost", "won", "needs_response"])
    send.add_argument("--api-version", default="basil", choices=["basil", "legacy"])
    send.add_argument("--url", help="webhook URL (default: the target's)")
    send.add_argument("--secret", help="signing secret (default: STRIPE_/PADDLE_WEBHOOK_SECRET)")
    send.set_defaults(func=cmd_send)

    referrals = commands.add_parser("referrals", help="add or list referrals").add_subparsers(
        dest="action", required=True
    )
    add = referrals.add_parser("add", help="POST /referrals")
    add.add_argument("--customer-key", required=True)
    add.add_argument("--partner-key", required=True)
    add.add_argument("--email")
    add.add_argument("--stripe-customer-id")
    add.add_argument("--paddle-customer-id")
    add.add_argument("--url")
    add.add_argument("--token", help="default: REFERRALS_API_TOKEN")
    add.set_defaults(func=cmd_referrals_add)
    referrals.add_parser("list", help="every referral in the table").set_defaults(func=cmd_referrals_list)

    dlq = commands.add_parser("dlq", help="dead letters").add_subparsers(dest="action", required=True)
    dlq.add_parser("list").set_defaults(func=cmd_dlq_list)
    show = dlq.add_parser("show")
    show.add_argument("message_id")
    show.set_defaults(func=cmd_dlq_show)
    again = dlq.add_parser("redrive")
    again.add_argument("message_ids", nargs="*")
    again.add_argument("--all", action="store_true")
    again.set_defaults(func=cmd_dlq_redrive)

    explain_cmd = commands.add_parser("explain", help="every decision taken for an event or payment id")
    explain_cmd.add_argument("id", help="event id (evt_...), payment id (in_, pi_) or transaction key")
    explain_cmd.set_defaults(func=cmd_explain)
    return parser


def _iso_ms(value: Any) -> str:
    if not isinstance(value, int):
        return "unknown time"
    return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except TargetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except requests.ConnectionError as exc:
        print(f"error: cannot reach the bridge: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
