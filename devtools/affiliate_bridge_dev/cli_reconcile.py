"""``reconcile [--since DATE] [--fix]``: what the ledger says the affiliate API holds,
against the API's own listing (``recovery.reconcile``).

Prints the drift as a table. ``--fix`` sends each drifting payment an observation
through the transactions queue; the forwarder moves the API back exactly as it would
after any message, in order with whatever is already queued for that payment.
Exit code: 0 when nothing drifts (or everything found was sent to be fixed), 1 when
drift remains.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from typing import Any

from affiliate_bridge.domain.money import format_minor
from affiliate_bridge.recovery.reconcile import Comparison, Drift
from affiliate_bridge_dev.cli_backfill import iso_date
from affiliate_bridge_dev.cli_output import table
from affiliate_bridge_dev.targets import Target, TargetError, handler_settings


def _amount(minor: int | None, currency: str | None) -> str:
    if minor is None:
        return "-"
    if minor < 0:
        return "unreadable"
    return format_minor(minor, currency) if currency else str(minor)


def _row(drift: Drift) -> dict[str, Any]:
    return {
        "drift": str(drift.kind),
        "payment": drift.transaction_key,
        "api_transaction": drift.api_key,
        "ledger": _amount(drift.expected_minor, drift.currency),
        "api": _amount(drift.held_minor, drift.currency),
        "partner": drift.partner_key,
    }


def _api_key(target: Target) -> str:
    from affiliate_bridge_dev.provider_access import api_key

    value = target.config.get("PARTNERO_API_KEY") if target.is_local else None
    return value or api_key("PARTNERO_API_KEY", target)


def report(comparison: Comparison) -> None:
    table([_row(d) for d in comparison.drifts], ["drift", "payment", "api_transaction", "ledger", "api", "partner"])
    notes = [f"compared {comparison.compared} payment(s): {len(comparison.drifts)} drift(s)"]
    if comparison.in_flight:
        notes.append(f"{comparison.in_flight} with a call in flight skipped (the forwarder settles them)")
    if comparison.foreign:
        notes.append(f"{comparison.foreign} API transaction(s) under keys the bridge never makes left out")
    print("; ".join(notes))


def run_reconcile(args: argparse.Namespace, target: Target) -> int:
    from affiliate_bridge.edge.settings import Settings
    from affiliate_bridge.storage.reconcile_log import ReconcileLog
    from affiliate_bridge.wiring import build_reconciler

    settings = Settings.from_env(handler_settings(target, "ForwarderFunction"))
    if not settings.partnero_api_url:
        raise TargetError("no PARTNERO_API_URL for the target")
    key = _api_key(target)
    dynamodb = target.client("dynamodb")
    reconciler = build_reconciler(settings, dynamodb, target.client("sqs"), lambda: key)
    comparison = reconciler.compare(args.since)
    report(comparison)
    fixed = 0
    if args.fix and comparison.observations:
        fixed = reconciler.fix(comparison, f"cli-{int(time.time())}-{uuid.uuid4().hex[:8]}")
        print(f"sent {fixed} correction(s) to the queue: the forwarder moves the API back (explain <payment> shows it)")
    unfixable = [d for d in comparison.drifts if not d.fixable]
    if unfixable:
        print(f"{len(unfixable)} transaction(s) not in the ledger (expired, or made by hand): left alone")
    ReconcileLog(dynamodb, settings.table_name).record(len(comparison.drifts), comparison.compared, fixed, "cli")
    if not comparison.drifts:
        return 0
    return 0 if args.fix and not unfixable else 1


def add_reconcile_parser(commands: Any, resolve_target: Callable[[argparse.Namespace], Target]) -> None:
    parser = commands.add_parser(
        "reconcile",
        help="compare the affiliate API with the ledger; --fix moves the API back",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--since", type=iso_date, help="only payments from this ISO date on (default: all)")
    parser.add_argument("--fix", action="store_true", help="send the corrections through the queue")

    def run(args: argparse.Namespace) -> int:
        return run_reconcile(args, resolve_target(args))

    parser.set_defaults(func=run)
