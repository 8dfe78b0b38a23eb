"""Secrets: Secrets Manager in the cloud, plain environment variables only locally.

For a secret named ``X`` the cloud template sets ``X_ARN``; the value is fetched
once through Powertools' parameters utility and cached for ``SECRET_CACHE_SECONDS``
(default 300 s, so a rotation reaches warm containers within five minutes). Local runs
and tests set ``X`` itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from affiliate_bridge.settings import ConfigurationError

DEFAULT_CACHE_SECONDS = 300


def resolve_secret(name: str, env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    arn = env.get(f"{name}_ARN")
    if arn:
        # Imported here: only functions that read a cloud secret pay for this import.
        from aws_lambda_powertools.utilities import parameters

        max_age = int(env.get("SECRET_CACHE_SECONDS", DEFAULT_CACHE_SECONDS))
        fetched = parameters.get_secret(arn, max_age=max_age)
        if isinstance(fetched, bytes):
            fetched = fetched.decode("utf-8")
        return str(fetched).strip()
    local = env.get(name)
    if local:
        return local.strip()
    raise ConfigurationError(f"secret {name} is not configured (set {name} locally or {name}_ARN in the cloud)")
