"""Configuration from environment variables, read once per container.

Every knob has a documented name and default (README, "Configuration"). Secrets are not
read here: ``secrets.resolve_secret`` fetches them lazily, so a function that never needs
the affiliate API key never pays for fetching it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from affiliate_bridge.edge.function_url import DEFAULT_MAX_BODY_BYTES
from affiliate_bridge.errors import ConfigurationError
from affiliate_bridge.providers.paddle.signature import DEFAULT_TOLERANCE_SECONDS as PADDLE_TOLERANCE_SECONDS
from affiliate_bridge.providers.stripe.signature import DEFAULT_TOLERANCE_SECONDS


def read_flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(f"{name} must be true or false, not {raw!r}")


def read_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be an integer, not {raw!r}") from exc


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a number of seconds, not {raw!r}") from exc
    if not 0 < value < float("inf"):
        raise ConfigurationError(f"{name} must be a positive number of seconds, not {raw!r}")
    return value


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    value = read_int(env, name, default)
    if value <= 0:
        raise ConfigurationError(f"{name} must be a positive number of seconds, not {value}")
    return value


@dataclass(frozen=True)
class Settings:
    table_name: str
    queue_url: str
    dead_letter_queue_url: str
    stripe_tolerance_seconds: int
    paddle_tolerance_seconds: int
    max_body_bytes: int
    commission_excludes_tax: bool
    customer_key_field: str
    partner_key_field: str
    stripe_payment_intent_sales: bool
    stripe_client_reference_is_partner_key: bool
    late_attribution_days: int
    create_customer_on_referral: bool
    partnero_api_url: str
    partnero_timeout_seconds: float
    ledger_ttl_days: int
    attribution_last_touch: bool
    retry_base_seconds: int
    retry_max_seconds: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            table_name=env.get("TABLE_NAME", ""),
            queue_url=env.get("QUEUE_URL", ""),
            dead_letter_queue_url=env.get("DEAD_LETTER_QUEUE_URL", ""),
            # Replay protection: a zero tolerance would accept a delivery signed years ago.
            stripe_tolerance_seconds=_positive_int(env, "STRIPE_TOLERANCE_SECONDS", DEFAULT_TOLERANCE_SECONDS),
            paddle_tolerance_seconds=_positive_int(env, "PADDLE_TOLERANCE_SECONDS", PADDLE_TOLERANCE_SECONDS),
            max_body_bytes=read_int(env, "MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            commission_excludes_tax=read_flag(env, "COMMISSION_EXCLUDES_TAX", True),
            customer_key_field=env.get("CUSTOMER_KEY_FIELD", "customer_key"),
            partner_key_field=env.get("PARTNER_KEY_FIELD", "partner_key"),
            stripe_payment_intent_sales=read_flag(env, "STRIPE_PAYMENT_INTENT_SALES", False),
            stripe_client_reference_is_partner_key=read_flag(env, "STRIPE_CLIENT_REFERENCE_IS_PARTNER_KEY", False),
            late_attribution_days=read_int(env, "LATE_ATTRIBUTION_DAYS", 7),
            create_customer_on_referral=read_flag(env, "CREATE_CUSTOMER_ON_REFERRAL", False),
            partnero_api_url=env.get("PARTNERO_API_URL", "https://api.partnero.com").rstrip("/"),
            partnero_timeout_seconds=_positive_float(env, "PARTNERO_TIMEOUT_SECONDS", 10.0),
            ledger_ttl_days=read_int(env, "LEDGER_TTL_DAYS", 400),
            attribution_last_touch=read_flag(env, "ATTRIBUTION_LAST_TOUCH", False),
            retry_base_seconds=read_int(env, "RETRY_BASE_SECONDS", 30),
            retry_max_seconds=read_int(env, "RETRY_MAX_SECONDS", 900),
        )

    def require(self, *names: str) -> None:
        """Fail at the first invocation with a message naming the missing variable."""
        missing = [name for name in names if not getattr(self, name)]
        if missing:
            raise ConfigurationError("missing configuration: " + ", ".join(n.upper() for n in missing))
