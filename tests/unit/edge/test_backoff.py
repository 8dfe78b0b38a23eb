"""backoff_seconds: how long a message waits before the forwarder tries it again."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from affiliate_bridge.edge.forwarder_batch import SQS_MAX_VISIBILITY_SECONDS, backoff_seconds


def test_doubles_from_the_base_per_delivery_up_to_the_cap() -> None:
    waits = [backoff_seconds(n, None, base_seconds=30, max_seconds=900) for n in range(1, 8)]
    assert waits == [30, 60, 120, 240, 480, 900, 900]


def test_the_apis_retry_after_wins_when_longer() -> None:
    assert backoff_seconds(1, 120.5, base_seconds=30, max_seconds=900) == 120
    assert backoff_seconds(3, 10, base_seconds=30, max_seconds=900) == 120


def test_never_beyond_what_sqs_allows() -> None:
    assert backoff_seconds(1, 10**9, base_seconds=30, max_seconds=900) == SQS_MAX_VISIBILITY_SECONDS


@given(
    count=st.integers(min_value=0, max_value=10_000),
    retry_after=st.none() | st.floats(min_value=0, max_value=10**7, allow_nan=False),
    base=st.integers(min_value=1, max_value=600),
    cap=st.integers(min_value=1, max_value=86_400),
)
def test_bounded_and_monotonic(count: int, retry_after: float | None, base: int, cap: int) -> None:
    wait = backoff_seconds(count, retry_after, base, cap)
    assert 0 < wait <= SQS_MAX_VISIBILITY_SECONDS
    assert wait >= min(int(retry_after or 0), SQS_MAX_VISIBILITY_SECONDS)
    assert backoff_seconds(count + 1, retry_after, base, cap) >= wait
