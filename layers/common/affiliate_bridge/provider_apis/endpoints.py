"""When two webhook URLs name the same endpoint.

A Lambda function URL ends in ``/`` (``https://<id>.lambda-url.<region>.on.aws/``); the
same URL pasted by hand into Stripe's or Paddle's dashboard often does not, and scheme
and host are case-insensitive. ``register`` must update that endpoint rather than add a
second one, and the reconciler must recognise it as this stack's.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def endpoint_identity(url: str) -> tuple[str, str, str, str]:
    parts = urlsplit(url.strip())
    return parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), parts.query


def same_endpoint(a: object, b: object) -> bool:
    return (
        isinstance(a, str) and isinstance(b, str) and bool(a.strip()) and endpoint_identity(a) == endpoint_identity(b)
    )
