"""affiliate-bridge: operate a bridge from a terminal (the local stack, or a deployed stack).

  affiliate-bridge referrals add --customer-key user-1 --partner-key anna
  affiliate-bridge send stripe --type invoice.paid --customer cus_123
  affiliate-bridge send stripe --type charge.refunded --refunded 1225   (the last payment sent)
  affiliate-bridge send paddle --help                     (what Paddle events it can send)
  affiliate-bridge explain user-1                         (or an event id, or a payment id)
  affiliate-bridge dlq list | dlq show MESSAGE_ID | dlq redrive --all
  affiliate-bridge register stripe | register paddle     (the webhook endpoint, idempotent)
  affiliate-bridge backfill stripe --since 2026-11-01     (payments that never arrived)
  affiliate-bridge reconcile [--fix] | status

The target is the local stack started by make run (found through .local-stack/endpoints.json)
unless --stack NAME names a deployed CloudFormation stack (AWS credentials and region from
the usual places: AWS_PROFILE, AWS_REGION, ~/.aws).
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

from affiliate_bridge.errors import AffiliateApiError, ProviderApiError
from affiliate_bridge_dev.cli_backfill import add_backfill_parsers
from affiliate_bridge_dev.cli_errors import BROKEN_PIPE, COULD_NOT_ASK, describe
from affiliate_bridge_dev.cli_output import table
from affiliate_bridge_dev.cli_reconcile import add_reconcile_parser
from affiliate_bridge_dev.cli_register import add_register_parsers
from affiliate_bridge_dev.cli_send import add_send_parsers, provider_id
from affiliate_bridge_dev.cli_status import add_status_parser
from affiliate_bridge_dev.local_config import load_config
from affiliate_bridge_dev.operations import age, explain, list_dead_letters, list_referrals, queue_count, redrive
from affiliate_bridge_dev.targets import Target, TargetError, local_target, stack_target


def _target(args: argparse.Namespace) -> Target:
    if args.stack:
        return stack_target(args.stack, args.region)
    return local_target(Path(args.state_dir))


def _token(args: argparse.Namespace, target: Target) -> str:
    """--token, else the running local stack's REFERRALS_API_TOKEN, else the environment."""
    value = args.token or target.config.get("REFERRALS_API_TOKEN")
    if not value and target.is_local:
        value = load_config()["REFERRALS_API_TOKEN"]
    if not value:
        raise TargetError(f"no referrals token for {target.name}: pass --token")
    return value.split(",")[0].strip()


# -- referrals ---------------------------------------------------------------------------
def cmd_referrals_add(args: argparse.Namespace) -> int:
    target = _target(args)
    url = args.url or target.referrals_url
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
    token = _token(args, target)
    try:
        response = requests.post(str(url), json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    except requests.ConnectionError:
        raise TargetError(f"cannot reach the bridge at {url}: is `make run` running?") from None
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
                "message_id": letter.origin_message_id,
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
        if letter.named(args.message_id):
            shown = {
                "message_id": letter.origin_message_id,
                "sqs_message_id": letter.message_id,
                "attributes": letter.attributes,
                "body": _summary(letter.body),
            }
            print(json.dumps(shown, indent=2))
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
    for index, letter in enumerate(moved, 1):
        print(f"[{index}/{len(moved)}] redriven {letter.origin_message_id} ({letter.transaction_key})", file=sys.stderr)
    print(f"redriven {len(moved)} message(s) to the transactions queue")
    missing = {wanted for wanted in args.message_ids or () if not any(letter.named(wanted) for letter in moved)}
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
    from affiliate_bridge_dev.explain_report import build, render

    target = _target(args)
    result = explain(target.client("dynamodb"), target.table_name, args.id)
    if not result.found:
        print(f"nothing recorded for {args.id}", file=sys.stderr)
        return 1
    letters = list_dead_letters(target.client("sqs"), target.dead_letter_queue_url) if result.transaction_keys else []
    report = build(result, letters)
    print(json.dumps(report, indent=2) if args.json else render(report), end="\n" if args.json else "")
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

    add_send_parsers(commands, _target)
    add_register_parsers(commands, _target)
    add_backfill_parsers(commands, _target)
    add_reconcile_parser(commands, _target)
    add_status_parser(commands, _target)

    referrals = commands.add_parser("referrals", help="add or list referrals").add_subparsers(
        dest="action", required=True, metavar="{add,list}"
    )
    add = referrals.add_parser("add", help="record a signup: which partner referred this customer")
    add.add_argument("--customer-key", required=True, help="your id for the customer (opaque is best)")
    add.add_argument("--partner-key", required=True, help="the partner's key (the partnero_partner cookie)")
    add.add_argument("--email", help="the customer's email (stored only as a SHA-256 hash)")
    add.add_argument("--stripe-customer-id", type=provider_id("cus"), help="the customer's Stripe id, cus_...")
    add.add_argument("--paddle-customer-id", type=provider_id("ctm"), help="the customer's Paddle id, ctm_...")
    add.add_argument("--url", help="referrals URL (default: the target bridge's)")
    add.add_argument("--token", help="Bearer token (default: the one the running local stack accepts)")
    add.set_defaults(func=cmd_referrals_add)
    referrals.add_parser("list", help="every referral in the table, oldest first").set_defaults(func=cmd_referrals_list)

    dlq = commands.add_parser("dlq", help="messages the forwarder gave up on: list, show, redrive")
    actions = dlq.add_subparsers(dest="action", required=True, metavar="{list,show,redrive}")
    actions.add_parser(
        "list", help="every dead letter: message id (as explain shows it), payment, reason, when"
    ).set_defaults(func=cmd_dlq_list)
    show = actions.add_parser("show", help="one dead letter in full: the API's answer and the message")
    show.add_argument("message_id", help="a message id from dlq list or explain")
    show.set_defaults(func=cmd_dlq_show)
    again = actions.add_parser("redrive", help="move dead letters back to the queue, in order, once fixed")
    again.add_argument("message_ids", nargs="*", help="message ids from dlq list (or use --all)")
    again.add_argument("--all", action="store_true", help="every dead letter, even past ten in one FIFO group")
    again.set_defaults(func=cmd_dlq_redrive)

    explain_cmd = commands.add_parser(
        "explain", help="was it credited, and why: a verdict, then every decision recorded"
    )
    explain_cmd.add_argument(
        "id", help="an event id (evt_...), a payment id (pi_, in_, txn_), a transaction key or a customer key"
    )
    explain_cmd.add_argument("--json", action="store_true", help="the same as a JSON document, for scripts")
    explain_cmd.set_defaults(func=cmd_explain)
    return parser


def _iso_ms(value: Any) -> str:
    if not isinstance(value, int):
        return "unknown time"
    return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # a closed pipe shows here, inside the try
        return code
    except (TargetError, ProviderApiError, AffiliateApiError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return COULD_NOT_ASK
    except BrokenPipeError:
        # Piped into head: stop quietly-ish; the shell reports 141 as for SIGPIPE.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print("affiliate-bridge: output closed early (piped into head?)", file=sys.stderr)
        return BROKEN_PIPE
    except Exception as exc:
        message = describe(exc, args)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return COULD_NOT_ASK


if __name__ == "__main__":
    sys.exit(main())
