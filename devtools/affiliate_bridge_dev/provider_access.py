"""Where the CLI finds a provider's API key and base URL, and keeps a signing secret.

Keys: ``STRIPE_API_KEY`` / ``PADDLE_API_KEY`` from the environment, then the local
``.env``, then (``--stack``) the stack's own API key secrets (the ones the scheduled
reconciler reads). Base URLs: ``STRIPE_API_BASE`` / ``PADDLE_API_URL`` the same way.

Signing secrets: locally in ``.env`` (the running stack takes them up within a second);
for ``--stack`` in the stack's Secrets Manager secret. A new secret is stored in front
of the one in use, comma-separated, so deliveries signed with either verify while the
provider switches; the next change drops the older one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from affiliate_bridge.edge.secrets import unusable_reason
from affiliate_bridge_dev.local_config import read_dotenv, write_dotenv_value
from affiliate_bridge_dev.targets import Target, TargetError

KEY_HELP = {
    "STRIPE_API_KEY": "a Stripe restricted key (read: events, invoices, charges, disputes, checkout sessions;"
    " write: webhook endpoints, only to register)",
    "PADDLE_API_KEY": "a Paddle API key (read: events, transactions, adjustments, notifications;"
    " write: notification settings to register, notifications to replay)",
    "PARTNERO_API_KEY": "the affiliate API key",
}
# Stack outputs naming the secrets the CLI reads or writes, by variable.
SECRET_OUTPUTS = {
    "STRIPE_API_KEY": "StripeApiKeySecretArn",
    "PADDLE_API_KEY": "PaddleApiKeySecretArn",
    "STRIPE_WEBHOOK_SECRET": "StripeWebhookSecretArn",
    "PADDLE_WEBHOOK_SECRET": "PaddleWebhookSecretArn",
    "PARTNERO_API_KEY": "PartneroApiKeySecretArn",
}


def _dotenv(target: Target) -> dict[str, str]:
    return read_dotenv(target.dotenv_path or Path(".env")) if target.is_local else {}


def setting(name: str, target: Target) -> str | None:
    """A non-secret setting of the CLI itself (an API base URL)."""
    return os.environ.get(name) or _dotenv(target).get(name) or None


def _stack_secret(target: Target, name: str) -> str | None:
    arn = target.outputs.get(SECRET_OUTPUTS[name])
    if not arn:
        return None
    client = target.client("secretsmanager")
    try:
        value = client.get_secret_value(SecretId=arn).get("SecretString")
    except client.exceptions.ResourceNotFoundException:
        return None  # created without a value: not set yet
    return str(value) if value else None


def api_key(name: str, target: Target) -> str:
    value = os.environ.get(name) or _dotenv(target).get(name)
    if not value and not target.is_local:
        value = _stack_secret(target, name)
    if not value or unusable_reason(value):
        raise TargetError(f"no usable {name}: set it in the environment ({KEY_HELP[name]})")
    return value


@dataclass(frozen=True)
class SigningSecret:
    """One provider's webhook signing secret, where the target keeps it."""

    name: str  # STRIPE_WEBHOOK_SECRET | PADDLE_WEBHOOK_SECRET
    target: Target

    @property
    def where(self) -> str:
        if self.target.is_local:
            return f"{self.target.dotenv_path or Path('.env')} as {self.name}"
        return f"the secret {self.target.outputs.get(SECRET_OUTPUTS[self.name], '?')}"

    def current(self) -> tuple[str, ...]:
        if self.target.is_local:
            raw = self.target.config.get(self.name) or _dotenv(self.target).get(self.name) or ""
        else:
            raw = _stack_secret(self.target, self.name) or ""
        return tuple(part.strip() for part in raw.split(",") if part.strip() and not unusable_reason(part.strip()))

    def rotated(self, new: str) -> str:
        """The value to store: the new secret, then the one in use before it (if any)."""
        previous = [value for value in self.current() if value != new][:1]
        return ",".join([new, *previous])

    def store(self, value: str) -> None:
        if self.target.is_local:
            write_dotenv_value(self.target.dotenv_path or Path(".env"), self.name, value)
            return
        arn = self.target.outputs.get(SECRET_OUTPUTS[self.name])
        if not arn:
            raise TargetError(f"stack {self.target.name} has no output {SECRET_OUTPUTS[self.name]}")
        self.target.client("secretsmanager").put_secret_value(SecretId=arn, SecretString=value)
