"""Compare what the ledger says the affiliate API holds with what the API lists.

Each payment state names the transaction the forwarder left at the API
(``applied_key``, ``applied_minor``). The API's own listing is the other side. Drift is
one of:

* missing: the API lists nothing under the key the ledger names;
* deleted outside the bridge: the API lists it as deleted;
* amount differs: it holds another amount (changed by hand);
* unexpected: it holds another transaction of the same payment (a stale revision the
  ledger believes deleted).

``fix`` sends each drifting payment an observation through the queue, in the payment's
group, so the forwarder moves the API back exactly as it would after any message (and
in order with anything already queued for that payment). Transactions under a bridge
key whose payment the ledger no longer holds (its entries expire after LEDGER_TTL_DAYS)
are reported as unknown and never touched: nothing the ledger cannot explain is deleted.
Payments with a call in flight (``pending``) are skipped: the forwarder settles them.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from affiliate_bridge.domain.facts import ObservedFacts
from affiliate_bridge.domain.messages import observation_message
from affiliate_bridge.domain.money import minor_unit_exponent
from affiliate_bridge.errors import CurrencyError
from affiliate_bridge.forwarding.state import PaymentState
from affiliate_bridge.ports import AffiliateListing, HeldTransaction, PaymentStateListing, Queue

_REVISION = re.compile(r"-r\d+$")


class DriftKind(enum.StrEnum):
    MISSING = "missing"
    DELETED = "deleted outside the bridge"
    AMOUNT_DIFFERS = "amount differs"
    UNEXPECTED = "unexpected"
    UNKNOWN = "not in the ledger"


@dataclass(frozen=True)
class Drift:
    kind: DriftKind
    transaction_key: str  # the payment's key
    api_key: str  # the transaction at the API the drift is about
    expected_minor: int | None
    held_minor: int | None
    currency: str | None
    partner_key: str | None = None

    @property
    def fixable(self) -> bool:
        return self.kind is not DriftKind.UNKNOWN


@dataclass(frozen=True)
class Comparison:
    drifts: tuple[Drift, ...]
    compared: int  # payments whose API side was compared
    in_flight: int  # skipped: a call to the API is in flight
    foreign: int  # API transactions under keys the bridge never makes
    observations: dict[str, ObservedFacts] = field(default_factory=dict)


def payment_key_of(api_key: str) -> str:
    """``stripe-in_1-r2`` -> ``stripe-in_1``: revisions belong to their payment."""
    return _REVISION.sub("", api_key)


def to_minor(amount: str, currency: str | None) -> int | None:
    """The API's decimal text in minor units, None when it is no amount in ``currency``."""
    if not currency:
        return None
    try:
        return int(Decimal(amount).scaleb(minor_unit_exponent(currency)).to_integral_value())
    except (InvalidOperation, CurrencyError, ValueError):
        return None


def _group(held: Iterable[HeldTransaction], prefixes: tuple[str, ...]) -> tuple[dict[str, list[HeldTransaction]], int]:
    groups: dict[str, list[HeldTransaction]] = {}
    foreign = 0
    for row in held:
        if not row.key.startswith(prefixes):
            foreign += 1
            continue
        groups.setdefault(payment_key_of(row.key), []).append(row)
    return groups, foreign


def _payment_drifts(state: PaymentState, rows: list[HeldTransaction]) -> tuple[list[Drift], ObservedFacts]:
    active = {row.key: row for row in rows if not row.deleted}
    deleted = {row.key for row in rows if row.deleted}
    currency = state.currency
    partner = state.sale.partner_key if state.sale else None
    drifts: list[Drift] = []
    held = {key: to_minor(row.amount, currency or row.currency) for key, row in active.items()}
    applied = state.applied_key
    if applied is not None:
        if applied not in active:
            kind = DriftKind.DELETED if applied in deleted else DriftKind.MISSING
            drifts.append(Drift(kind, state.transaction_key, applied, state.applied_minor, None, currency, partner))
        elif held[applied] != state.applied_minor:
            drifts.append(
                Drift(
                    DriftKind.AMOUNT_DIFFERS,
                    state.transaction_key,
                    applied,
                    state.applied_minor,
                    held[applied],
                    currency,
                    partner,
                )
            )
    for key in sorted(active):
        if key != applied:
            drifts.append(Drift(DriftKind.UNEXPECTED, state.transaction_key, key, 0, held[key], currency, partner))
    # An amount the bridge cannot read counts as -1: never equal to what the ledger names.
    observed = ObservedFacts(applied, tuple(sorted((key, -1 if v is None else v) for key, v in held.items())))
    return drifts, observed


def compare(
    states: Iterable[PaymentState],
    held: Iterable[HeldTransaction],
    providers: tuple[str, ...],
    since: int | None = None,
) -> Comparison:
    groups, foreign = _group(held, tuple(f"{name}-" for name in providers))
    drifts: list[Drift] = []
    observations: dict[str, ObservedFacts] = {}
    compared = in_flight = 0
    for state in states:
        rows = groups.pop(state.transaction_key, [])
        if state.merged_into is not None or (since is not None and state.sale_occurred_at < since):
            continue  # its API rows were taken out of the groups too: not reported as unknown
        if state.pending is not None:
            in_flight += 1
            continue
        compared += 1
        found, observed = _payment_drifts(state, rows)
        if found:
            drifts += found
            observations[state.transaction_key] = observed
    for key, rows in sorted(groups.items()):
        for row in rows:
            if not row.deleted and (since is None or (row.created_at or 0) >= since):
                drifts.append(Drift(DriftKind.UNKNOWN, key, row.key, None, to_minor(row.amount, row.currency), None))
    return Comparison(tuple(drifts), compared, in_flight, foreign, observations)


@dataclass(frozen=True)
class Reconciler:
    states: PaymentStateListing
    api: AffiliateListing
    queue: Queue
    providers: tuple[str, ...]

    def compare(self, since: int | None = None) -> Comparison:
        return compare(self.states.all_states(), self.api.list_transactions(), self.providers, since)

    def fix(self, comparison: Comparison, run_id: str) -> int:
        """One observation per drifting payment the ledger holds; the forwarder acts on it."""
        for transaction_key, observed in sorted(comparison.observations.items()):
            provider = transaction_key.split("-", 1)[0]
            self.queue.send(observation_message(provider, transaction_key, observed, run_id))
        return len(comparison.observations)
