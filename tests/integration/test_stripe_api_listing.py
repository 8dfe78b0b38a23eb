"""Backfill's event listing trusts only what it asked for, whatever the server filters.

Against the fake Stripe over a real socket, once filtering as Stripe does and once as
a Stripe-compatible server that ignores ``types`` and ``created`` (stripe-mock answers
fixed fixtures): the same events come back, each once, oldest first.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from affiliate_bridge.provider_apis.stripe_api import MAX_TYPES_PER_LIST, StripeApi
from affiliate_bridge_dev import fake_stripe_api
from affiliate_bridge_dev.fake_stripe_api import FakeStripeServer, start_fake_stripe
from tests.fake_keys import stripe_key

KEY = stripe_key("listing")
NOW = int(time.time())
TYPES = [f"kind.{n}" for n in range(MAX_TYPES_PER_LIST + 5)]  # two requests' worth


@pytest.fixture(scope="module")
def server() -> Iterator[FakeStripeServer]:
    fake = start_fake_stripe(KEY)
    yield fake
    fake.shutdown()


EVENTS = st.lists(
    st.tuples(st.sampled_from([*TYPES, "other.type"]), st.integers(min_value=-200, max_value=200)),
    max_size=30,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=EVENTS, window=st.tuples(st.integers(-150, 0), st.integers(1, 150)), ignores_filters=st.booleans())
def test_only_asked_types_inside_the_window_each_once_oldest_first(
    server: FakeStripeServer,
    monkeypatch: pytest.MonkeyPatch,
    events: list[tuple[str, int]],
    window: tuple[int, int],
    ignores_filters: bool,
) -> None:
    state = server.state
    with state.lock:
        state.events.clear()
    for n, (kind, offset) in enumerate(events):
        state.emit({"id": f"evt_{n}", "type": kind, "created": NOW + offset, "data": {"object": {}}}, deliver=False)
    if ignores_filters:
        monkeypatch.setattr(fake_stripe_api, "_events", lambda state, params: list(state.events.values()))
    since, until = NOW + window[0], NOW + window[1]
    listed = StripeApi(KEY, server.url).events(since, until, TYPES)
    monkeypatch.undo()
    expected = sorted(
        (f"evt_{n}" for n, (kind, offset) in enumerate(events) if kind in TYPES and since <= NOW + offset < until),
        key=lambda event_id: NOW + events[int(event_id.removeprefix("evt_"))][1],
    )
    assert sorted(e["id"] for e in listed) == sorted(expected)
    assert [e["created"] for e in listed] == sorted(e["created"] for e in listed)
    assert len({e["id"] for e in listed}) == len(listed)
