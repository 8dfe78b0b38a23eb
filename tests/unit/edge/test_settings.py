"""Settings.from_env: every value a merchant can set, parsed or refused with its name."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from affiliate_bridge.edge.settings import Settings
from affiliate_bridge.errors import ConfigurationError


def test_defaults_without_any_variable() -> None:
    settings = Settings.from_env({})
    assert (settings.stripe_tolerance_seconds, settings.paddle_tolerance_seconds) == (300, 30)
    assert settings.commission_excludes_tax is True
    assert settings.attribution_last_touch is False
    assert (settings.retry_base_seconds, settings.retry_max_seconds) == (30, 900)
    assert settings.partnero_api_url == "https://api.partnero.com"
    assert settings.late_attribution_days == 7 and settings.ledger_ttl_days == 400


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), (" YES ", True), ("1", True), ("on", True), ("false", False), ("0", False), ("Off", False)],
)
def test_flags_read_the_usual_spellings(raw: str, expected: bool) -> None:
    assert Settings.from_env({"ATTRIBUTION_LAST_TOUCH": raw}).attribution_last_touch is expected


@pytest.mark.parametrize("raw", ["ture", "2", "enabled"])
def test_a_flag_that_is_neither_is_refused_by_name(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="COMMISSION_EXCLUDES_TAX"):
        Settings.from_env({"COMMISSION_EXCLUDES_TAX": raw})


def test_blank_means_the_default() -> None:
    settings = Settings.from_env({"STRIPE_TOLERANCE_SECONDS": "  ", "COMMISSION_EXCLUDES_TAX": ""})
    assert settings.stripe_tolerance_seconds == 300 and settings.commission_excludes_tax is True


@pytest.mark.parametrize("name", ["STRIPE_TOLERANCE_SECONDS", "PADDLE_TOLERANCE_SECONDS"])
@pytest.mark.parametrize("raw", ["0", "-5", "abc", "1.5"])
def test_tolerances_must_be_positive_whole_seconds(name: str, raw: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        Settings.from_env({name: raw})


@given(st.floats(min_value=0.001, max_value=3600, allow_nan=False))
def test_api_timeout_takes_any_positive_number(seconds: float) -> None:
    assert Settings.from_env({"PARTNERO_TIMEOUT_SECONDS": repr(seconds)}).partnero_timeout_seconds == seconds


def test_api_url_loses_its_trailing_slash() -> None:
    assert Settings.from_env({"PARTNERO_API_URL": "http://127.0.0.1:9/"}).partnero_api_url == "http://127.0.0.1:9"


def test_require_names_every_missing_variable() -> None:
    with pytest.raises(ConfigurationError, match="TABLE_NAME, QUEUE_URL"):
        Settings.from_env({}).require("table_name", "queue_url")
    Settings.from_env({"TABLE_NAME": "t", "QUEUE_URL": "q"}).require("table_name", "queue_url")
