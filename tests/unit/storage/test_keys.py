"""The key formats: distinct per kind, sortable by time, and readable back."""

from __future__ import annotations

from affiliate_bridge.storage import keys


def test_each_kind_of_item_has_its_own_key() -> None:
    made = [
        keys.referral("c"),
        keys.alias("email", "c"),
        keys.profile("stripe", "c"),
        keys.payment_ref("stripe", "c"),
        keys.event("stripe", "c"),
        keys.payment_state("c"),
        keys.parked("email", "c", "c"),
        keys.released("c"),
        keys.conflict("c", 1.0),
        keys.stale("c", 1.0),
        keys.attempt("c", 1.0),
    ]
    assert len(set(made)) == len(made)


def test_time_sort_keys_sort_by_time() -> None:
    times = [9.5, 10.25, 100.0, 1_700_000_000.123456]
    assert sorted(keys.attempt("k", t).sk for t in times) == [keys.attempt("k", t).sk for t in times]
    assert all(keys.conflict("c", t).sk.startswith(keys.CONFLICT) for t in times)


def test_ids_read_back_from_keys() -> None:
    assert keys.customer_key_of(keys.referral("user#1").pk) == "user#1"
    assert keys.event_id_of(keys.event("paddle", "evt_01#x").pk) == "evt_01#x"
    assert keys.parked("email", "h", "stripe-in_1").pk == keys.parked_under("email", "h")
