"""Realistic Paddle Billing notifications for the CLI's ``send paddle``, tests and benchmarks.

Shapes follow Paddle's notification payloads (the envelope, ``data.details.totals`` with
amounts as strings in the lowest denomination, adjustments with ``action`` and
``status``); ids are random per call.
"""

from __future__ import annotations

import secrets
import time
from typing import Any


def new_id(prefix: str) -> str:
    return f"{prefix}_01{secrets.token_hex(13)}"


def _iso(ts: float | None = None) -> str:
    now = time.time() if ts is None else ts
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1e6) % 1_000_000:06d}Z"


def notification(event_type: str, data: dict[str, Any], occurred_at: float | None = None) -> dict[str, Any]:
    return {
        "event_id": new_id("evt"),
        "event_type": event_type,
        "occurred_at": _iso(occurred_at),
        "notification_id": new_id("ntf"),
        "data": data,
    }


def transaction(
    *,
    total: int,
    tax: int = 0,
    currency: str = "USD",
    customer_id: str | None = None,
    custom_data: dict[str, str] | None = None,
    transaction_id: str | None = None,
    status: str = "completed",
) -> dict[str, Any]:
    subtotal = total - tax
    totals = {
        "subtotal": str(subtotal),
        "discount": "0",
        "tax": str(tax),
        "total": str(total),
        "credit": "0",
        "credit_to_balance": "0",
        "balance": "0",
        "grand_total": str(total),
        "grand_total_tax": str(tax),
        "fee": str(total // 20),
        "earnings": str(total - tax - total // 20),
        "currency_code": currency,
    }
    return {
        "id": transaction_id or new_id("txn"),
        "status": status,
        "customer_id": customer_id or new_id("ctm"),
        "currency_code": currency,
        "custom_data": custom_data,
        "origin": "web",
        "collection_mode": "automatic",
        "details": {"totals": totals},
    }


def adjustment(
    *,
    transaction_id: str,
    total: int,
    action: str = "refund",
    status: str = "approved",
    currency: str = "USD",
    adjustment_id: str | None = None,
    customer_id: str | None = None,
) -> dict[str, Any]:
    return {
        "id": adjustment_id or new_id("adj"),
        "action": action,
        "type": "partial",
        "transaction_id": transaction_id,
        "customer_id": customer_id or new_id("ctm"),
        "reason": "requested by customer",
        "currency_code": currency,
        "status": status,
        "totals": {
            "subtotal": str(total),
            "tax": "0",
            "total": str(total),
            "fee": "0",
            "earnings": str(total),
            "currency_code": currency,
        },
    }


def customer(*, customer_id: str, email: str) -> dict[str, Any]:
    return {"id": customer_id, "name": "Test Buyer", "email": email, "status": "active", "custom_data": None}
