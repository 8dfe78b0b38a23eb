"""Secrets: Secrets Manager in the cloud, plain environment variables only locally.

For a secret named ``X`` the cloud template sets ``X_ARN``; the value is fetched
once through Powertools' parameters utility and cached for ``SECRET_CACHE_SECONDS``
(default 300 s, so a rotation reaches warm containers within five minutes). Local runs
and tests set ``X`` itself.

Fail closed. The function URLs are public, so a secret anybody can guess is as good as
none: a missing secret (no value stored yet: the template creates the provider-issued
ones empty), an empty or whitespace one, a known placeholder (``replace-me``, ...) or one
shorter than ``MIN_SECRET_LENGTH`` is never used to verify anything. It raises
``SecretNotConfigured``; the functions answer 500 ``not_configured`` (the provider keeps
retrying until the operator sets it) and count ``SecretNotConfigured`` with the secret's
name, which an alarm per secret watches.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from affiliate_bridge.errors import SecretNotConfigured

DEFAULT_CACHE_SECONDS = 300
# Stripe's whsec_ and Paddle's pdl_ntfset_ secrets are over 30 characters, generated
# tokens 40; 16 keeps every real secret and refuses words a person would type in.
MIN_SECRET_LENGTH = 16
# Values people put in while they mean "not set yet", compared case-insensitively after
# removing everything but letters and digits ("replace-me", "REPLACE_ME", "<changeme>").
_PLACEHOLDER_WORDS = frozenset(
    {
        "replaceme",
        "changeme",
        "placeholder",
        "secret",
        "password",
        "todo",
        "tbd",
        "none",
        "null",
        "undefined",
        "empty",
        "unset",
        "notset",
        "example",
        "dummy",
        "test",
        "xxx",
        "yoursecrethere",
        "insertsecrethere",
        "whsec",
        "pdlntfset",
        "yourkeyhere",
        "yourkey",
        "yourapikey",
        "apikey",
        "key",
    }
)
# The providers' own prefixes (signing secrets, API keys): what follows one is checked
# like a whole value, so a live key prefix followed by x's, or "<your key>", fails closed too.
_PROVIDER_PREFIX = re.compile(r"^(?:whsec_|pdl_ntfset_|[spr]k_(?:test|live)_|pdl_(?:sdbx|live)_apikey_)", re.IGNORECASE)
# Documentation shapes: "whsec_...", "<your secret>", "${STRIPE_SECRET}", "xxxxxxxx".
_PLACEHOLDER_SHAPES = re.compile(
    r"\.\.\.|…|^<.*>$|^\$\{.*\}$|^\{\{.*\}\}$|^(.)\1*$|replace[-_ ]?me|change[-_ ]?me", re.IGNORECASE
)


def _placeholder(text: str) -> bool:
    return (
        not text
        or bool(_PLACEHOLDER_SHAPES.search(text))
        or re.sub(r"[^a-z0-9]", "", text.lower()) in _PLACEHOLDER_WORDS
    )


def unusable_reason(value: str) -> str | None:
    """Why ``value`` may not be used as a secret, or None when it may."""
    stripped = value.strip()
    if not stripped:
        return "empty"
    if any(_placeholder(part) for part in (stripped, _PROVIDER_PREFIX.sub("", stripped))):
        return "a placeholder"
    if len(stripped) < MIN_SECRET_LENGTH:
        return f"shorter than {MIN_SECRET_LENGTH} characters"
    return None


def _read(name: str, env: Mapping[str, str]) -> str:
    arn = env.get(f"{name}_ARN")
    if arn:
        # Imported here: only functions that read a cloud secret pay for this import.
        from aws_lambda_powertools.utilities import parameters

        max_age = int(env.get("SECRET_CACHE_SECONDS", DEFAULT_CACHE_SECONDS))
        try:
            fetched = parameters.get_secret(arn, max_age=max_age)
        except parameters.exceptions.GetParameterError as exc:
            # The template creates provider-issued secrets with no value at all: Secrets
            # Manager then answers ResourceNotFoundException ("no AWSCURRENT version"),
            # which means "not set yet". Throttling or a missing permission stay ordinary
            # failures (500 internal_error), so the alarm names only real omissions.
            if "ResourceNotFound" not in str(exc) and "AWSCURRENT" not in str(exc):
                raise
            raise SecretNotConfigured(name, "Secrets Manager holds no value for it yet") from exc
        return fetched.decode("utf-8", "replace") if isinstance(fetched, bytes) else str(fetched)
    return env.get(name, "")


def resolve_secrets(name: str, env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Every usable value of secret ``name`` (comma-separated during a rotation).

    A placeholder beside a real secret is dropped, never tried; with no usable value
    left this raises ``SecretNotConfigured``.
    """
    values = [part.strip() for part in _read(name, os.environ if env is None else env).split(",")]
    usable = tuple(value for value in values if unusable_reason(value) is None)
    if not usable:
        reasons = sorted({unusable_reason(value) or "" for value in values})
        raise SecretNotConfigured(
            name, f"{' / '.join(reasons)} (set {name} locally, or put a value in the secret {name}_ARN names)"
        )
    return usable


def resolve_secret(name: str, env: Mapping[str, str] | None = None) -> str:
    """A secret that has exactly one value in use (an API key, a bearer token)."""
    return resolve_secrets(name, env)[0]
