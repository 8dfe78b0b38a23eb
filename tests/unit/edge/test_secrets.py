"""No guessable secret is ever handed out: every function fails closed instead."""

import pytest

from affiliate_bridge.edge.secrets import MIN_SECRET_LENGTH, resolve_secret, resolve_secrets
from affiliate_bridge.errors import SecretNotConfigured
from tests.fake_keys import paddle_key, stripe_key

REAL = "whsec_test_fixture_value_only"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "\t\n",
        ",",
        " , ",
        "replace-me",
        "REPLACE_ME",
        " replace-me ",
        "changeme",
        "<your-signing-secret>",
        "whsec_...",
        "pdl_ntfset_…",
        "${STRIPE_WEBHOOK_SECRET}",
        "xxxxxxxxxxxxxxxxxxxxxxxx",
        "placeholder",
        "short-secret",
        "a" * (MIN_SECRET_LENGTH - 1),
        "replace-me,changeme",
        stripe_key("x" * 16, live=True),
        stripe_key("X" * 20, live=True, restricted=True),
        stripe_key("<your key>"),
        stripe_key("YOUR_KEY_HERE", live=True),
        paddle_key("x" * 8, live=True),
        "whsec_" + "x" * 24,  # a placeholder of a real secret's length
        "pdl_ntfset_REPLACE_ME_PLEASE",
    ],
)
def test_unusable_values_fail_closed(value: str) -> None:
    with pytest.raises(SecretNotConfigured) as info:
        resolve_secrets("STRIPE_WEBHOOK_SECRET", {"STRIPE_WEBHOOK_SECRET": value})
    assert info.value.name == "STRIPE_WEBHOOK_SECRET"


@pytest.mark.parametrize(
    "value",
    [
        stripe_key("fake_abcdefghijklmnopqrstuvwx"),
        stripe_key("fake_zyxwvutsrqponmlkjihg", live=True, restricted=True),
        paddle_key("fake_abcdefghijklmn"),
    ],
)
def test_real_shaped_keys_are_usable(value: str) -> None:
    assert resolve_secret("STRIPE_API_KEY", {"STRIPE_API_KEY": value}) == value


def test_missing_variable_fails_closed() -> None:
    with pytest.raises(SecretNotConfigured):
        resolve_secret("REFERRALS_API_TOKEN", {})


def test_a_placeholder_beside_a_real_secret_is_dropped_not_tried() -> None:
    assert resolve_secrets("X", {"X": f"replace-me, {REAL} ,"}) == (REAL,)
    assert resolve_secrets("X", {"X": f"{REAL},whsec_test_fixture_rotated"}) == (REAL, "whsec_test_fixture_rotated")


def test_local_defaults_are_usable() -> None:
    from affiliate_bridge_dev.local_config import DEFAULTS

    for name in ("STRIPE_WEBHOOK_SECRET", "PADDLE_WEBHOOK_SECRET", "REFERRALS_API_TOKEN", "PARTNERO_WEBHOOK_SECRET"):
        assert resolve_secrets(name, DEFAULTS)


def test_timeouts_take_decimals_and_refuse_nonsense() -> None:
    from affiliate_bridge.edge.settings import Settings
    from affiliate_bridge.errors import ConfigurationError

    assert Settings.from_env({"PARTNERO_TIMEOUT_SECONDS": "2.5"}).partnero_timeout_seconds == 2.5
    for bad in ("0", "-1", "nan", "inf", "ten"):
        with pytest.raises(ConfigurationError):
            Settings.from_env({"PARTNERO_TIMEOUT_SECONDS": bad})
    for name in ("STRIPE_TOLERANCE_SECONDS", "PADDLE_TOLERANCE_SECONDS"):
        for bad in ("0", "-30"):
            with pytest.raises(ConfigurationError):
                Settings.from_env({name: bad})
