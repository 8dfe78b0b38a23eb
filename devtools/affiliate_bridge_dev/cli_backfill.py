"""``backfill stripe|paddle --since DATE [--until DATE]``: payments that never reached
the bridge, fetched from the provider's API and fed through the webhook's own path.

Stripe keeps events for 30 days: a window inside them is read from the Events API (only
the types the bridge reads); a window reaching further back is rebuilt from the object
lists (checkout sessions, invoices, charges with their refunds, disputes). Paddle's
event log is read the same way. Every event goes through the ledger check first, so a
second run changes nothing (``recovery.replay``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from affiliate_bridge.recovery.replay import Replayed, Replayer, ReplayStatus
from affiliate_bridge_dev.cli_output import Progress, table
from affiliate_bridge_dev.provider_access import api_key, setting
from affiliate_bridge_dev.targets import Target, handler_settings

STRIPE_EVENT_DAYS = 30
# A window starting this close to Stripe's 30 days still uses events (they are kept for
# 30 days exactly; the listing is made within a minute of this check).
EVENT_WINDOW_MARGIN_SECONDS = 3600


def iso_date(text: str) -> int:
    """``2026-11-01`` or ``2026-11-01T12:00`` (UTC unless an offset is given), as unix seconds."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date (2026-11-01 or 2026-11-01T12:00)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        seconds = int(when.timestamp())
        datetime.fromtimestamp(seconds, UTC)  # shown back later: must be a year 1-9999 in UTC too
    except (OverflowError, ValueError, OSError):
        raise argparse.ArgumentTypeError(f"{text!r} is out of range") from None
    return seconds


def _window(args: argparse.Namespace) -> tuple[int, int | None]:
    now = int(time.time())
    if args.since > now:
        raise SystemExit(f"--since {_day(args.since)} is in the future")
    if args.until is not None and args.until <= args.since:
        raise SystemExit("--until must be after --since")
    return args.since, args.until


def _replayer(provider: str, target: Target) -> Replayer:
    from affiliate_bridge.edge.settings import Settings
    from affiliate_bridge.wiring import build_replayer

    settings = Settings.from_env(handler_settings(target))
    return build_replayer(provider, settings, target.client("dynamodb"), target.client("sqs"))


# -- sources -------------------------------------------------------------------------------
def stripe_events(target: Target, since: int, until: int | None, say: Callable[[str], None]) -> list[dict[str, Any]]:
    from affiliate_bridge.provider_apis.stripe_api import LINKED_OBJECTS_VERSION, StripeApi
    from affiliate_bridge.providers.stripe.events import HANDLED_EVENTS
    from affiliate_bridge.providers.stripe.rebuild import OBJECT_KINDS, rebuilt_event

    api = StripeApi(api_key("STRIPE_API_KEY", target), setting("STRIPE_API_BASE", target))
    oldest_event = int(time.time()) - STRIPE_EVENT_DAYS * 86_400 + EVENT_WINDOW_MARGIN_SECONDS
    if since >= oldest_event:
        say("reading Stripe's Events API (the types the bridge reads)")
        return api.events(since, until, HANDLED_EVENTS)
    say(
        f"--since is older than Stripe's {STRIPE_EVENT_DAYS} days of events: rebuilding from checkout sessions,"
        " invoices, charges (with their refunds) and disputes"
    )
    now = int(time.time())
    rebuilt: list[dict[str, Any]] = []
    for kind in OBJECT_KINDS:  # sales first, then what reverses them
        found = [rebuilt_event(kind, obj, LINKED_OBJECTS_VERSION, now) for obj in api.objects(kind, since, until)]
        rebuilt += sorted((event for event in found if event), key=lambda event: int(event["created"]))
    return rebuilt


def paddle_events(target: Target, since: int, until: int | None, say: Callable[[str], None]) -> list[dict[str, Any]]:
    from affiliate_bridge.provider_apis.paddle_api import PaddleApi
    from affiliate_bridge.providers.paddle.events import HANDLED_EVENTS

    api = PaddleApi(api_key("PADDLE_API_KEY", target), setting("PADDLE_API_URL", target))
    say(f"reading Paddle's event log at {api.base_url} (the types the bridge reads)")
    return [event for event in api.events(HANDLED_EVENTS) if _inside(event.get("occurred_at"), since, until)]


def _inside(occurred_at: object, since: int, until: int | None) -> bool:
    if not isinstance(occurred_at, str):
        return False
    try:
        when = iso_date(occurred_at)
    except argparse.ArgumentTypeError:
        return False
    return when >= since and (until is None or when < until)


# -- the run -------------------------------------------------------------------------------
def feed(replayer: Replayer, events: Iterable[dict[str, Any]], total: int) -> Iterator[Replayed]:
    progress = Progress("backfill", total)
    try:
        for done, event in enumerate(events, 1):
            yield replayer.replay(event)
            progress.update(done)
    finally:
        progress.close()


def summary(results: list[Replayed]) -> dict[str, int]:
    new = [r for r in results if r.status is ReplayStatus.NEW]
    return {
        "seen": len(results),
        "new": len(new),
        "credited": sum(r.credited for r in new),
        "already_known": sum(r.status is ReplayStatus.KNOWN for r in results),
        "unattributed": sum(r.unattributed for r in new),
        "rejected": sum(r.status is ReplayStatus.REJECTED for r in results),
    }


def run_backfill(args: argparse.Namespace, target: Target) -> int:
    since, until = _window(args)

    def say(line: str) -> None:
        print(line, flush=True)

    source = stripe_events if args.provider == "stripe" else paddle_events
    events = source(target, since, until, say)
    say(f"{len(events)} event(s) between {_day(since)} and {_day(until) if until else 'now'}")
    replayer = _replayer(args.provider, target)
    results = list(feed(replayer, events, len(events)))
    fed = [r for r in results if r.status is not ReplayStatus.KNOWN]
    if fed:
        table(
            [
                {
                    "event": r.event_id,
                    "type": r.event_type,
                    "status": str(r.status),
                    "outcome": r.outcome,
                    "reason": r.reason,
                }
                for r in fed
            ],
            ["event", "type", "status", "outcome", "reason"],
        )
    totals = summary(results)
    table([totals], list(totals))
    return 1 if totals["rejected"] else 0


def _day(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


def add_backfill_parsers(commands: Any, resolve_target: Callable[[argparse.Namespace], Target]) -> None:
    backfill = commands.add_parser(
        "backfill",
        help="feed payments the bridge never received, from the provider's API (idempotent)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    providers = backfill.add_subparsers(dest="provider", required=True, metavar="{stripe,paddle}")
    for name, key in (("stripe", "STRIPE_API_KEY, STRIPE_API_BASE"), ("paddle", "PADDLE_API_KEY, PADDLE_API_URL")):
        parser = providers.add_parser(name, help=f"events from {name.title()}'s API (key and server: {key})")
        parser.add_argument("--since", required=True, type=iso_date, help="start, an ISO date or time (UTC)")
        parser.add_argument("--until", type=iso_date, help="end (exclusive), an ISO date or time (default: now)")
        parser.set_defaults(func=_bound(resolve_target))


def _bound(resolve_target: Callable[[argparse.Namespace], Target]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        return run_backfill(args, resolve_target(args))

    return run
