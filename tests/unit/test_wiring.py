"""wiring: each provider is built with its own settings and its own secret's name."""

from __future__ import annotations

import pytest

from affiliate_bridge import wiring
from affiliate_bridge.edge.settings import Settings
from affiliate_bridge.errors import SecretNotConfigured
from affiliate_bridge.providers.stripe.provider import StripeProvider


def test_each_provider_gets_its_own_tolerance_and_rules() -> None:
    settings = Settings.from_env(
        {
            "STRIPE_TOLERANCE_SECONDS": "200",
            "PADDLE_TOLERANCE_SECONDS": "45",
            "CUSTOMER_KEY_FIELD": "uid",
            "STRIPE_PAYMENT_INTENT_SALES": "true",
        }
    )
    stripe, paddle = wiring.build_provider("stripe", settings), wiring.build_provider("paddle", settings)
    assert (stripe.tolerance_seconds, paddle.tolerance_seconds) == (200, 45)
    assert stripe.rules.customer_key_field == paddle.rules.customer_key_field == "uid"
    assert isinstance(stripe, StripeProvider) and stripe.options.payment_intent_sales is True
    assert sorted(wiring.PAYMENT_PROVIDERS) == ["paddle", "stripe"]


@pytest.mark.parametrize("name", sorted(wiring.PAYMENT_PROVIDERS))
def test_each_provider_reads_its_own_secret(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for other in wiring.PAYMENT_PROVIDERS:
        monkeypatch.setenv(f"{other.upper()}_WEBHOOK_SECRET", f"whsec_{other}_test_fixture_only")
    provider = wiring.build_provider(name, Settings.from_env({}))
    assert provider.secrets() == (f"whsec_{name}_test_fixture_only",)
    monkeypatch.setenv(f"{name.upper()}_WEBHOOK_SECRET", "replace-me")
    with pytest.raises(SecretNotConfigured):
        provider.secrets()
