"""What SQS sees of a message: its group (ordering) and its deduplication id."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from affiliate_bridge.domain.facts import ReversalFacts
from affiliate_bridge.domain.messages import TransactionMessage
from affiliate_bridge.storage.transactions_queue import deduplication_id, message_group_id

SQS_ID = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}")


def _message(event_id: str, key: str, provider: str = "stripe") -> TransactionMessage:
    return TransactionMessage(
        provider, event_id, "charge.refunded", key, 0, reversal=ReversalFacts("refund", "ch_1", 100, "EUR")
    )


def test_the_same_event_for_the_same_payment_has_the_same_id() -> None:
    assert deduplication_id(_message("evt_1", "stripe-in_1")) == deduplication_id(_message("evt_1", "stripe-in_1"))


def test_another_event_payment_or_provider_changes_it() -> None:
    ids = {
        deduplication_id(_message("evt_1", "stripe-in_1")),
        deduplication_id(_message("evt_2", "stripe-in_1")),
        deduplication_id(_message("evt_1", "stripe-in_2")),
        deduplication_id(_message("evt_1", "stripe-in_1", provider="paddle")),
    }
    assert len(ids) == 4


@given(st.text(min_size=1, max_size=300), st.text(min_size=1, max_size=300))
def test_every_id_is_one_sqs_accepts(event_id: str, key: str) -> None:
    assert SQS_ID.fullmatch(deduplication_id(_message(event_id, key)))
    assert SQS_ID.fullmatch(message_group_id(key))


def test_a_group_id_sqs_accepts_is_kept_as_is() -> None:
    assert message_group_id("stripe-in_1MtHbELkdIwHu7ix") == "stripe-in_1MtHbELkdIwHu7ix"
    digest = message_group_id("customer-José Núñez")
    assert digest.startswith("sha256-") and digest == message_group_id("customer-José Núñez")
