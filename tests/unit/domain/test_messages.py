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
        schema_version=2 if entry else 1,
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
    body["schema_version"] = 2
    with pytest.raises(UnreadableMessage):
        TransactionMessage.from_json(json.dumps(body))


@pytest.mark.parametrize(("version", "with_entry"), [(1, True), (2, False), (3, True), (True, False), ("1", False)])
def test_a_version_that_does_not_go_with_the_entry_is_refused(version: object, with_entry: bool) -> None:
    """A version-1 reader (the forwarder before this one) would forward a sale and drop
    its entry, so a sale with an entry is version 2; and 2 without one is no message we
    write."""
    entry = EventEntry("enqueued", "sale") if with_entry else None
    body = json.loads(_sale(entry).to_json())
    body["schema_version"] = version
    with pytest.raises(UnreadableMessage):
        TransactionMessage.from_json(json.dumps(body))


def test_a_sale_with_an_entry_is_version_2_and_every_other_message_version_1() -> None:
    from affiliate_bridge.domain.events import CustomerRefs, Payment
    from affiliate_bridge.domain.messages import sale_message
    from affiliate_bridge.domain.money import Money
    from affiliate_bridge.domain.referrals import Attribution, AttributionRule

    money = Money(1000, "USD")
    payment = Payment("stripe", "evt_1", "invoice.paid", "stripe-in_1", money, money, 1, CustomerRefs())
    attribution = Attribution("user-1", "anna", AttributionRule.PROVIDER_CUSTOMER)
    with_entry = sale_message(payment, attribution, entry=EventEntry("enqueued", "sale"))
    assert json.loads(with_entry.to_json())["schema_version"] == 2
    assert json.loads(sale_message(payment, attribution).to_json())["schema_version"] == 1


@pytest.mark.parametrize("version", [1.0, 2.0, "2", None])
def test_a_version_that_is_not_a_whole_number_is_refused(version: object) -> None:
    entry = EventEntry("enqueued", "sale") if version == 2 else None
    body = json.loads(_sale(entry).to_json())
    body["schema_version"] = version
    with pytest.raises(UnreadableMessage, match="unknown schema_version"):
        TransactionMessage.from_json(json.dumps(body))


def test_a_message_of_another_shape_is_named_by_its_own_version() -> None:
    body = json.loads(_sale(EventEntry("enqueued", "sale")).to_json())
    del body["provider"]
    with pytest.raises(UnreadableMessage, match="schema 2"):
        TransactionMessage.from_json(json.dumps(body))
