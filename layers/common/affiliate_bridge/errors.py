"""Every exception the package raises, in one place.

Each says who is at fault, because that decides the answer: the sender (a 4xx, nothing
retried), the deployment (a 5xx until an operator fixes it), or a dependency (a 5xx or
a retried message, until it recovers). Handlers catch these by meaning, never by module.
"""

from __future__ import annotations

# -- the sender: answered 4xx, never retried --------------------------------------------


class RequestRejected(Exception):
    """The request cannot be accepted; ``status`` is the HTTP answer, ``code`` a stable
    machine-readable reason that also names the metric and log entry."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class SignatureError(Exception):
    """The request is not provably from the provider. ``code`` says which check failed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class MalformedEvent(ValueError):
    """A correctly signed event lacks what its type promises; answered 400 so the
    provider's dashboard shows the failure instead of the bridge guessing."""


class CurrencyError(ValueError):
    """Not money the bridge can hold: a currency that is not an ISO 4217 code for money,
    or an amount beyond a 64-bit integer."""


class UnreadableMessage(ValueError):
    """A queue message this forwarder cannot read: permanent, goes to the dead-letter
    queue with the reason, to be redriven after an upgrade."""


# -- the deployment: answered 5xx until fixed --------------------------------------------


class ConfigurationError(RuntimeError):
    """A required setting is missing or malformed: a deployment mistake, answered 5xx."""


class SecretNotConfigured(ConfigurationError):
    """A secret is missing, empty or a placeholder: the function must not verify with it."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"secret {name} is not configured: {why}")
        self.name = name
        self.why = why


# -- a dependency or a race: the message is retried --------------------------------------


class StaleState(RuntimeError):
    """Someone else saved this payment since we read it; retry the message."""


class DeadlineReached(RuntimeError):
    """Not enough time left in this invocation to forward the record safely."""


class AffiliateApiError(Exception):
    """The affiliate API refused or failed a call; ``body`` is kept short for the ledger."""

    def __init__(self, message: str, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body[:500]


class RetryableError(AffiliateApiError):
    """Worth trying again later (5xx, 408/425/429, network); ``retry_after`` in seconds
    when the API said how long to wait."""

    def __init__(
        self, message: str, status: int | None = None, body: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(message, status, body)
        self.retry_after = retry_after


class PermanentError(AffiliateApiError):
    """The API will answer the same again: the message goes to the dead-letter queue."""


class UnknownCustomer(AffiliateApiError):
    """The API does not know the customer a transaction names: create it, then retry."""


class ProviderApiError(RuntimeError):
    """A payment provider's API (Stripe, Paddle) refused or failed a call made with the
    merchant's API key (register, backfill, the reconciler): said in one line."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ScheduledRunFailed(RuntimeError):
    """Some steps of a scheduled reconciler run failed; the others still ran. Raised at
    the end so Lambda counts the run as an error (its Errors alarm) after doing what it could."""

    def __init__(self, failed: dict[str, str]) -> None:
        super().__init__("; ".join(f"{step}: {reason}" for step, reason in failed.items()))
        self.failed = failed
