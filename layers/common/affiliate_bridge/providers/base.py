"""One payment provider's webhook, as one object: verify, then read.

The webhook endpoint (``edge.webhook_endpoint``) is the same for every provider and asks
its provider four things: is this request signed by you (``verify``), what is the
event's id and type (for the ledger, even when the event is refused), and what does it
mean (``normalise``). Adding a provider is a new subclass and a line in ``wiring``;
nothing shared changes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from affiliate_bridge.domain.events import EventRules, NormalisedEvent
from affiliate_bridge.providers.reading import nonempty_str


class SignedRequest(Protocol):
    """The parts of an HTTP request a signature covers (``edge.function_url.HttpRequest``)."""

    @property
    def body(self) -> bytes: ...

    def header(self, name: str) -> str | None: ...


@dataclass(frozen=True)
class WebhookProvider(ABC):
    name: ClassVar[str]
    signature_header: ClassVar[str]
    id_field: ClassVar[str]  # where the payload names its event id
    type_field: ClassVar[str]  # and its event type

    # The provider's signing secrets, resolved per request so a rotation or a fixed
    # placeholder takes effect without a cold start (raises SecretNotConfigured).
    secrets: Callable[[], tuple[str, ...]]
    tolerance_seconds: int
    rules: EventRules = field(default_factory=EventRules)

    def verify(self, request: SignedRequest) -> None:
        """Raise ``SignatureError`` unless the raw body is signed by this provider."""
        self.check_signature(request.body, request.header(self.signature_header), self.secrets())

    def event_id(self, payload: Mapping[str, Any]) -> str | None:
        return nonempty_str(payload.get(self.id_field))

    def event_type(self, payload: Mapping[str, Any]) -> str | None:
        return nonempty_str(payload.get(self.type_field))

    @abstractmethod
    def check_signature(self, body: bytes, header: str | None, secrets: tuple[str, ...]) -> None: ...

    @abstractmethod
    def normalise(self, payload: Mapping[str, Any]) -> NormalisedEvent:
        """What the verified event means; raises ``MalformedEvent`` when it lacks what its
        type promises."""
