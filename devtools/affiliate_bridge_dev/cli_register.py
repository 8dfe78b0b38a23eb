"""``register stripe`` / ``register paddle``: the stack's webhook URL as the provider's
endpoint, with the events the bridge reads, and its signing secret where the stack
reads it. Idempotent: an endpoint at the same URL is updated, never duplicated.

Stripe shows an endpoint's signing secret only when it is created; Paddle shows its
destination's secret key on every read. So a Stripe endpoint that exists while the stack
holds no usable secret for it cannot be repaired by an update: ``--recreate`` deletes it
and creates it again (deliveries in flight to the old one are retried by Stripe to the
new one only if they are re-sent; backfill recovers them).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from affiliate_bridge.edge.secrets import unusable_reason
from affiliate_bridge.provider_apis.endpoints import same_endpoint
from affiliate_bridge.providers.paddle.events import REGISTERED_EVENTS as PADDLE_EVENTS
from affiliate_bridge.providers.stripe.events import REGISTERED_EVENTS as STRIPE_EVENTS
from affiliate_bridge.providers.stripe.events import TESTED_API_VERSION
from affiliate_bridge_dev.provider_access import SigningSecret, api_key, setting
from affiliate_bridge_dev.targets import Target, TargetError, local_target, offline_local_target

DESCRIPTION = "affiliate-bridge"


def say(line: str) -> None:
    print(line, flush=True)


def _url(args: argparse.Namespace, target: Target | None, provider: str) -> str:
    url = args.url or (target and (target.stripe_url if provider == "stripe" else target.paddle_url))
    if not url:
        raise TargetError(f"no {provider} webhook URL: pass --url, or --stack NAME of a deployed stack")
    return str(url)


def _store(secret: SigningSecret, new: str, dry_run: bool) -> None:
    if unusable_reason(new):
        raise TargetError(f"the provider returned a signing secret the bridge would refuse ({unusable_reason(new)})")
    if new in secret.current()[:1]:
        say(f"signing secret: unchanged in {secret.where}")
        return
    if dry_run:
        say(f"would store the new signing secret in {secret.where} (the one in use kept beside it)")
        return
    secret.store(secret.rotated(new))
    say(f"signing secret: stored in {secret.where} (the one in use before it kept beside it)")
    if secret.target.is_local:
        _wait_for_pickup(secret, new)


def _wait_for_pickup(secret: SigningSecret, new: str) -> None:
    """The running local stack watches .env; its endpoints.json then names the new value."""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            running = local_target(secret.target.state_dir or Path(".local-stack"))
        except TargetError:
            break
        if new in running.config.get(secret.name, "").split(","):
            say("the running stack took it up (no restart needed)")
            return
        time.sleep(0.2)
    say(f"restart `make run` to use it ({secret.name} set in its environment wins over .env)")


# -- Stripe --------------------------------------------------------------------------------
def register_stripe(args: argparse.Namespace, target: Target | None) -> int:
    from affiliate_bridge.provider_apis.stripe_api import StripeApi

    assert target is not None
    url = _url(args, target, "stripe")
    api = StripeApi(api_key("STRIPE_API_KEY", target), setting("STRIPE_API_BASE", target))
    secret = SigningSecret("STRIPE_WEBHOOK_SECRET", target)
    same = [endpoint for endpoint in api.webhook_endpoints() if same_endpoint(endpoint.get("url"), url)]
    if same and (args.recreate or not secret.current()):
        # Taken in a dry run too, saying what the real run would do (or refuse).
        if not args.recreate:
            raise TargetError(
                f"{same[0]['id']} exists at {url}, but {secret.where} holds no usable signing secret and Stripe"
                " shows it only at creation: copy it from the Dashboard, or pass --recreate"
            )
        for endpoint in same:
            endpoint_id = str(endpoint["id"])
            _act(args.dry_run, f"delete {endpoint_id} (--recreate)", partial(api.delete_webhook_endpoint, endpoint_id))
        same = []
    if not same:
        return _create_stripe(api, url, secret, args.dry_run)
    for extra in same[1:]:
        extra_id = str(extra["id"])
        _act(
            args.dry_run, f"delete duplicate {extra_id} at the same URL", partial(api.delete_webhook_endpoint, extra_id)
        )
    return _update_stripe(api, same[0], url, args.dry_run)


def _act(dry_run: bool, what: str, action: Callable[[], Any]) -> None:
    if dry_run:
        say(f"would {what}")
        return
    action()
    say(f"{what}: done")


def _create_stripe(api: Any, url: str, secret: SigningSecret, dry_run: bool) -> int:
    if dry_run:
        say(
            f"would create a webhook endpoint at {url}: API version {TESTED_API_VERSION},"
            f" events {', '.join(STRIPE_EVENTS)}"
        )
        say(f"would store its signing secret in {secret.where}")
        return 0
    created = api.create_webhook_endpoint(url, STRIPE_EVENTS, TESTED_API_VERSION, DESCRIPTION)
    say(f"created {created['id']} at {url}: API version {TESTED_API_VERSION}, {len(STRIPE_EVENTS)} events")
    if not created.get("secret"):
        raise TargetError(f"Stripe returned no signing secret for {created['id']}: copy it from the Dashboard")
    _store(secret, str(created["secret"]), dry_run)
    return 0


def _update_stripe(api: Any, endpoint: dict[str, Any], url: str, dry_run: bool) -> int:
    events = sorted(endpoint.get("enabled_events") or [])
    wanted = sorted(STRIPE_EVENTS)
    if endpoint.get("api_version") and endpoint["api_version"] != TESTED_API_VERSION:
        say(
            f"note: {endpoint['id']} sends API version {endpoint['api_version']}; the bridge is tested with"
            f" {TESTED_API_VERSION} (and reads both payload generations). Stripe cannot change an endpoint's"
            " version: --recreate makes a new one"
        )
    if events == wanted and endpoint.get("status") != "disabled" and endpoint.get("description") == DESCRIPTION:
        say(f"{endpoint['id']} at {url} is up to date: {len(wanted)} events")
        return 0
    missing = sorted(set(wanted) - set(events))
    extra = sorted(set(events) - set(wanted))
    change = (
        "; ".join(
            part
            for part in (
                f"add {', '.join(missing)}" if missing else "",
                f"remove {', '.join(extra)}" if extra else "",
                "enable it" if endpoint.get("status") == "disabled" else "",
            )
            if part
        )
        or "set its description"
    )
    _act(
        dry_run,
        f"update {endpoint['id']} at {url} ({change})",
        lambda: api.update_webhook_endpoint(endpoint["id"], wanted, DESCRIPTION),
    )
    return 0


# -- Paddle --------------------------------------------------------------------------------
def register_paddle(args: argparse.Namespace, target: Target | None) -> int:
    from affiliate_bridge.provider_apis.paddle_api import PaddleApi

    assert target is not None
    url = _url(args, target, "paddle")
    api = PaddleApi(api_key("PADDLE_API_KEY", target), setting("PADDLE_API_URL", target))
    secret = SigningSecret("PADDLE_WEBHOOK_SECRET", target)
    same = [
        s
        for s in api.notification_settings()
        if same_endpoint(s.get("destination"), url) and s.get("type", "url") == "url"
    ]
    wanted = list(PADDLE_EVENTS)
    if not same:
        if args.dry_run:
            say(f"would create a notification destination at {url}: events {', '.join(wanted)} ({api.base_url})")
            say(f"would store its secret key in {secret.where}")
            return 0
        created = api.create_notification_setting(url, wanted, DESCRIPTION)
        say(f"created {created.get('id')} at {url}: {len(wanted)} events ({api.base_url})")
        _store(secret, str(created.get("endpoint_secret_key") or ""), False)
        return 0
    setting_ = same[0]
    for extra in same[1:]:
        say(f"note: {extra.get('id')} is a second destination at the same URL: deactivate it in Paddle")
    names = sorted(str(e.get("name") if isinstance(e, dict) else e) for e in setting_.get("subscribed_events") or [])
    if names == sorted(wanted) and setting_.get("active", True):
        say(f"{setting_.get('id')} at {url} is up to date: {len(wanted)} events")
    else:
        _act(
            args.dry_run,
            f"update {setting_.get('id')} at {url} (events {', '.join(wanted)}, active)",
            lambda: api.update_notification_setting(str(setting_["id"]), url, wanted, DESCRIPTION),
        )
    _store(secret, str(setting_.get("endpoint_secret_key") or ""), args.dry_run)
    return 0


def add_register_parsers(commands: Any, resolve_target: Callable[[argparse.Namespace], Target]) -> None:
    register = commands.add_parser(
        "register",
        help="make the stack's webhook URL a Stripe endpoint or Paddle destination (idempotent)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    providers = register.add_subparsers(dest="provider", required=True, metavar="{stripe,paddle}")
    for name, action, extra in (
        ("stripe", register_stripe, "STRIPE_API_KEY (test or live), STRIPE_API_BASE to point elsewhere"),
        ("paddle", register_paddle, "PADDLE_API_KEY (sandbox or live by its prefix), PADDLE_API_URL"),
    ):
        parser = providers.add_parser(name, help=f"create or update the {name} endpoint; key from {extra}")
        parser.add_argument("--url", help="the webhook URL (default: the target stack's)")
        parser.add_argument("--dry-run", action="store_true", help="print what would change; change nothing")
        if name == "stripe":
            parser.add_argument(
                "--recreate", action="store_true", help="delete the endpoint at this URL and create it again"
            )
        parser.set_defaults(func=_bound(action, resolve_target))


def _bound(
    action: Callable[[argparse.Namespace, Target | None], int], resolve_target: Callable[[argparse.Namespace], Target]
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            target = resolve_target(args)
        except TargetError:
            if args.stack or not args.url:
                raise
            target = offline_local_target(Path(args.state_dir))  # make run is stopped: .env only
        return action(args, target)

    return run
