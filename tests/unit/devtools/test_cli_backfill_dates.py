"""backfill's --since/--until: any text is a date in range or a one-line refusal."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from affiliate_bridge_dev.cli_backfill import _day, iso_date


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2026-11-01", 1793491200), ("2026-11-01T12:00", 1793534400), ("2026-11-01T12:00Z", 1793534400)],
)
def test_iso_dates_are_utc_unless_an_offset_says_otherwise(text: str, expected: int) -> None:
    assert iso_date(text) == expected


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00+23:59", "yesterday", "2026-13-01"])
def test_out_of_range_or_malformed_is_refused_in_one_line(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as info:
        iso_date(text)
    assert "\n" not in str(info.value)


@given(st.text(max_size=40) | st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()))
def test_whatever_is_accepted_can_be_shown_back(text: str) -> None:
    try:
        seconds = iso_date(text)
    except argparse.ArgumentTypeError:
        return
    assert _day(seconds) == datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")
