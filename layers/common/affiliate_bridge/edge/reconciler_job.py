"""ReconcilerFunction: an outage longer than the providers' retries heals by itself.

On a schedule (template parameter ``SelfHealing``, off by default):

1. Stripe: events of the types the bridge reads, from the last ``SELF_HEAL_WINDOW_HOURS``,
   that Stripe could not deliver (``delivery_success=false``) are fed through the
   webhook's path (``recovery.replay``: the ledger check makes this idempotent, so an
   event Stripe delivers later anyway is not counted twice);
2. Paddle: notifications to this stack's destination in status ``failed`` are replayed
   by Paddle itself (``POST /notifications/{id}/replay``): the ordinary signed webhook
   path then takes them;
3. reconcile (``RECONCILE_ON_SCHEDULE``): the drift between the ledger and the affiliate
   API is published as ``ReconcileDrift`` (an alarm watches it) and, with
   ``RECONCILE_FIX``, sent to the forwarder to move the API back.

A provider whose API key secret holds no value is skipped with a log line: a Stripe-only
shop sets only the Stripe key.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from affiliate_bridge.edge import observability as obs
from affiliate_bridge.edge.secrets import resolve_secret
from affiliate_bridge.edge.settings import read_flag, read_int
from affiliate_bridge.errors import ScheduledRunFailed, SecretNotConfigured
from affiliate_bridge.provider_apis.endpoints import same_endpoint
from affiliate_bridge.recovery.reconcile import Reconciler
from affiliate_bridge.recovery.replay import Replayer, ReplayStatus


@dataclass(frozen=True)
class HealSettings:
    window_hours: int
    reconcile: bool
    fix: bool
    stripe_api_base: str | None
    paddle_api_url: str | None
    paddle_webhook_url: str | None  # this stack's Paddle destination: only its notifications are replayed

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HealSettings:
        env = os.environ if env is None else env
        return cls(
            window_hours=max(1, read_int(env, "SELF_HEAL_WINDOW_HOURS", 72)),
            reconcile=read_flag(env, "RECONCILE_ON_SCHEDULE", True),
            fix=read_flag(env, "RECONCILE_FIX", False),
            stripe_api_base=env.get("STRIPE_API_BASE") or None,
            paddle_api_url=env.get("PADDLE_API_URL") or None,
            paddle_webhook_url=env.get("PADDLE_WEBHOOK_URL") or None,
        )


def _key(name: str) -> str | None:
    try:
        return resolve_secret(name)
    except SecretNotConfigured:
        obs.logger.info(f"{name} holds no value: skipped", extra={"secret": name})
        return None


@dataclass(frozen=True)
class ReconcilerJob:
    settings: HealSettings
    replayers: Mapping[str, Replayer]
    reconciler: Reconciler
    record_run: Callable[[int, int, int], None]

    def run(self) -> dict[str, Any]:
        """Every step runs whatever another one met (a revoked Stripe key must not stop
        Paddle's replays or the drift check); a failed step is reported and the run
        raises at the end, so the ReconcilerErrors alarm sees it."""
        since = int(time.time()) - self.settings.window_hours * 3600
        steps: list[tuple[str, Callable[[], dict[str, int] | None]]] = [
            ("stripe", lambda: self._with_key("STRIPE_API_KEY", lambda key: self._stripe(key, since))),
            ("paddle", lambda: self._with_key("PADDLE_API_KEY", lambda key: self._paddle(key, since))),
        ]
        if self.settings.reconcile:
            steps.append(("reconcile", self._reconcile))
        report: dict[str, Any] = {}
        failed: dict[str, str] = {}
        for name, step in steps:
            try:
                outcome = step()
            except Exception as exc:  # one step's failure is reported, the next still runs
                obs.logger.exception(f"reconciler: {name} failed; the other steps still run", extra={"step": name})
                failed[name] = str(exc)[:300] or type(exc).__name__
                report[name] = {"error": failed[name]}
                continue
            if outcome is not None:
                report[name] = outcome
        obs.logger.info("reconciler run", extra={"report": report})
        if failed:
            raise ScheduledRunFailed(failed)
        return report

    @staticmethod
    def _with_key(name: str, step: Callable[[str], dict[str, int]]) -> dict[str, int] | None:
        key = _key(name)
        return step(key) if key else None

    def _stripe(self, api_key: str, since: int) -> dict[str, int]:
        from affiliate_bridge.provider_apis.stripe_api import StripeApi
        from affiliate_bridge.providers.stripe.events import HANDLED_EVENTS

        api = StripeApi(api_key, self.settings.stripe_api_base)
        undelivered = api.events(since, None, HANDLED_EVENTS, delivery_success=False)
        results = [self.replayers["stripe"].replay(event) for event in undelivered]
        new = sum(result.status is ReplayStatus.NEW for result in results)
        obs.metrics.add_metric(name=obs.RECOVERED, unit="Count", value=new)
        return {"undelivered": len(undelivered), "recovered": new}

    def _paddle(self, api_key: str, since: int) -> dict[str, int]:
        from affiliate_bridge.provider_apis.paddle_api import PaddleApi

        api = PaddleApi(api_key, self.settings.paddle_api_url)
        destination = self.settings.paddle_webhook_url
        ours = [str(s["id"]) for s in api.notification_settings() if same_endpoint(s.get("destination"), destination)]
        if not ours:
            obs.logger.warning("no Paddle destination points at this stack: run `affiliate-bridge register paddle`")
            return {"failed": 0, "replayed": 0}
        failed = [n for n in api.failed_notifications(since, ours) if not n.get("replayed_at")]
        for notification in failed:
            api.replay(str(notification["id"]))
        obs.metrics.add_metric(name=obs.REPLAYS_REQUESTED, unit="Count", value=len(failed))
        return {"failed": len(failed), "replayed": len(failed)}

    def _reconcile(self) -> dict[str, int]:
        comparison = self.reconciler.compare()
        fixed = self.reconciler.fix(comparison, f"scheduled-{uuid.uuid4().hex[:12]}") if self.settings.fix else 0
        obs.metrics.add_metric(name=obs.RECONCILE_DRIFT, unit="Count", value=len(comparison.drifts))
        self.record_run(len(comparison.drifts), comparison.compared, fixed)
        return {"compared": comparison.compared, "drift": len(comparison.drifts), "fixed": fixed}
