"""Only the ledger's events sit in the ``ByTransactionKey`` index; state and references
written before that change still read the same.

The index costs a second write for every write to an item in it (projection ALL). The
functions query it only for events (``Ledger.has_sale``) and explain reads events from
it, so the payment state (rewritten on every message) and the payment references name
their payment under another attribute.
"""

from __future__ import annotations

from typing import Any

from affiliate_bridge.storage import keys
from affiliate_bridge.storage.dynamo import from_item
from affiliate_bridge_dev import operations
from affiliate_bridge_dev import stripe_samples as s
from tests.integration.conftest import Bridge


def _pipeline(bridge: Bridge) -> tuple[dict[str, Any], dict[str, Any]]:
    bridge.add_referral(customer_key="idx-1", partner_key="ann", stripe_customer_id="cus_IDX")
    invoice = s.invoice(amount_paid=3000, customer="cus_IDX")
    link = s.invoice_payment(invoice_id=invoice["id"], payment_intent="pi_IDX", amount_paid=3000)
    for event in (
        s.event("invoice.paid", invoice),
        s.event("invoice_payment.paid", link),
        s.event(
            "charge.refunded", s.charge(amount=3000, amount_refunded=1000, payment_intent="pi_IDX", charge_id="ch_IDX")
        ),
    ):
        assert bridge.post_stripe(event)["statusCode"] == 200
        bridge.drain()
    return invoice, bridge.active_transactions()


def test_only_events_carry_the_index_key(bridge: Bridge) -> None:
    invoice, active = _pipeline(bridge)
    assert active == {f"stripe-{invoice['id']}-r1": (20.0, "idx-1")}
    items = [from_item(item) for item in bridge.table_items()]
    indexed = {item["pk"].split("#")[0] for item in items if "transaction_key" in item}
    assert indexed == {keys.EVENT.rstrip("#")}
    assert any(item["sk"] == keys.STATE_SK for item in items)  # the state exists, out of the index
    report = operations.explain(bridge.dynamodb, bridge.resources.table_name, f"stripe-{invoice['id']}")
    assert set(report.states) == {f"stripe-{invoice['id']}"}
    assert {e["event_type"] for e in report.events} >= {"invoice.paid", "charge.refunded"}


def test_state_and_references_stored_before_read_the_same(bridge: Bridge) -> None:
    """Rewrite every state and reference as the earlier version stored them, then go on:
    a second refund nets against the same payment, and explain still finds it by its
    payment intent."""
    invoice, _ = _pipeline(bridge)
    table = bridge.resources.table_name
    for item in bridge.table_items():
        values = {name: value for name, value in item.items() if name != "payment_key"}
        if "payment_key" in item and (item["sk"]["S"] == keys.STATE_SK or item["pk"]["S"].startswith("PAYREF")):
            bridge.dynamodb.put_item(TableName=table, Item={**values, "transaction_key": item["payment_key"]})
    assert all("payment_key" not in item for item in bridge.table_items())
    refund = s.charge(amount=3000, amount_refunded=2500, payment_intent="pi_IDX", charge_id="ch_IDX")
    assert bridge.post_stripe(s.event("charge.refunded", refund))["statusCode"] == 200
    bridge.drain()
    assert bridge.active_transactions() == {f"stripe-{invoice['id']}-r2": (5.0, "idx-1")}
    states = operations.explain(bridge.dynamodb, table, "pi_IDX").states
    assert states[f"stripe-{invoice['id']}"]["applied_minor"] == 500
