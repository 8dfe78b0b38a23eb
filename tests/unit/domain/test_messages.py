"""The queue message's ledger entry (``EventEntry``): it survives the queue as written,
and a message whose entry is not of its shape is refused, never half read."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from affiliate_bridge.domain.facts import SaleFacts
from affiliate_bridge.domain.messages import EventEntry, TransactionMessage
from affiliate_bridge.errors import UnreadableMessage

_text = st.text(min_size=1, max_size=40)
_entries = st.builds(
    EventEntry,
    outcome=_text,
    payment_kind=st.sampled_from(["sale", "reversal"]),
    attribution_rule=st.none() | _text,
    attribution_trail=st.lists(_text, max_size=5).map(tuple),
    partner_key=st.none() | _text,
    customer_key=st.none() | _text,
    reason=st.none() | _text,
)


def _sale(entry: EventEntry | None) -> TransactionMessage:
    return TransactionMessage(
        provider="stripe",
        event_id="evt_1",
        event_type="invoice.paid",
        transaction_key="stripe-in_1",
        occurred_at=1_700_000_000,
        sale=SaleFacts(1000, 1000, "USD", "user-1", "anna", "provider_customer_id"),
        entry=entry,
    )


@given(_entries | st.none())
def test_the_entry_reads_back_as_it_was_sent(entry: EventEntry | None) -> None:
    message = _sale(entry)
    assert TransactionMessage.from_json(message.to_json()) == message


@pytest.mark.parametrize(
    "entry",
    [
        "enqueued",
        ["enqueued"],
        {"payment_kind": "sale"},  # no outcome
        {"outcome": "enqueued", "payment_kind": "sale", "attribution_trail": "customer_key:absent"},
        {"outcome": "enqueued", "payment_kind": "sale", "surprise": 1},
    ],
)
def test_an_entry_of_another_shape_makes_the_message_unreadable(entry: object) -> None:
    body = json.loads(_sale(None).to_json())
    body["entry"] = entry
    with pytest.raises(UnreadableMessage):
        TransactionMessage.from_json(json.dumps(body))
