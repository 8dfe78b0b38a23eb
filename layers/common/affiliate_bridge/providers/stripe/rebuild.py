"""Events rebuilt from Stripe's object lists, for payments older than its 30 days of events.

``backfill --since`` further back than Stripe keeps events lists the objects instead
(read at ``LINKED_OBJECTS_VERSION``, whose objects name each other) and rebuilds the
event that would have reached the webhook, so it takes the webhook's path like any
other. A rebuilt event's id names the object, the event type and the state it was
rebuilt from (``rebuilt:charge.refunded:ch_1:500``): running again rebuilds the same id,
which the ledger knows, while a later partial refund or a closed dispute is a new id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Object kinds, in the order a backfill feeds them: sales before what reverses them.
OBJECT_KINDS = ("checkout.session", "invoice", "charge", "dispute")
CLOSED_DISPUTE = frozenset({"won", "lost"})


def _event(event_type: str, obj: Mapping[str, Any], state: str, created: int, api_version: str) -> dict[str, Any]:
    return {
        "id": f"rebuilt:{event_type}:{obj['id']}:{state}",
        "object": "event",
        "api_version": api_version,
        "created": created,
        "data": {"object": dict(obj)},
        "livemode": bool(obj.get("livemode")),
        "type": event_type,
    }


def _paid_at(invoice: Mapping[str, Any]) -> int:
    transitions = invoice.get("status_transitions")
    paid_at = transitions.get("paid_at") if isinstance(transitions, Mapping) else None
    return int(paid_at or invoice.get("created") or 0)


def rebuilt_event(kind: str, obj: Mapping[str, Any], api_version: str, now: int) -> dict[str, Any] | None:
    """The event Stripe sent (or would have) for this object's current state; None when
    the object moved no money the bridge counts (an unpaid invoice, a charge with no
    refund, an open checkout session)."""
    if not isinstance(obj.get("id"), str):
        return None
    if kind == "invoice" and obj.get("status") == "paid":
        return _event("invoice.paid", obj, "paid", _paid_at(obj), api_version)
    if kind == "checkout.session" and obj.get("status") == "complete" and obj.get("payment_status") == "paid":
        return _event("checkout.session.completed", obj, "paid", int(obj.get("created") or 0), api_version)
    if kind == "charge" and int(obj.get("amount_refunded") or 0) > 0:
        return _event("charge.refunded", obj, str(obj["amount_refunded"]), now, api_version)
    if kind == "dispute":
        status = str(obj.get("status") or "")
        event_type = "charge.dispute.closed" if status in CLOSED_DISPUTE else "charge.dispute.updated"
        # Dispute updates are ordered by the event's time: a rebuilt one is as of now.
        return _event(event_type, obj, status, now, api_version)
    return None
