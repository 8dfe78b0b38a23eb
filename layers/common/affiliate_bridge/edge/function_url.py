"""The Lambda function URL edge (payload format 2.0): raw bytes in, small JSON out.

Signatures are computed over the exact request body, so the body is returned as bytes,
base64-decoded when AWS encoded it, and never re-serialised. Header names arrive
lower-cased from function URLs; they are lower-cased again here so local callers that
build events by hand cannot get it wrong.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from affiliate_bridge.errors import RequestRejected

# Stripe documents no maximum event size; a large invoice stays well under this. Function
# URLs accept 6 MB, so a limit of our own keeps a hostile body from costing memory.
DEFAULT_MAX_BODY_BYTES = 1_048_576


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    source_ip: str | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def parse_event(event: Mapping[str, Any], max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> HttpRequest:
    """Turn a function URL event into an ``HttpRequest``; reject what is not one."""
    context = event.get("requestContext") or {}
    http = context.get("http") or {}
    method = str(http.get("method") or "").upper()
    path = str(http.get("path") or event.get("rawPath") or "/")
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        # Checked before decoding: base64 is 4/3 of the bytes it carries.
        if len(raw) > (max_body_bytes * 4) // 3 + 4:
            raise RequestRejected(413, "body_too_large", f"body over {max_body_bytes} bytes")
        try:
            body = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise RequestRejected(400, "bad_base64", "body is not valid base64") from exc
    else:
        body = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    if len(body) > max_body_bytes:
        raise RequestRejected(413, "body_too_large", f"body over {max_body_bytes} bytes")
    return HttpRequest(method=method, path=path, headers=headers, body=body, source_ip=http.get("sourceIp"))


def require_post(request: HttpRequest) -> None:
    if request.method != "POST":
        raise RequestRejected(405, "method_not_allowed", "only POST is accepted")


def json_response(
    status: int, payload: Mapping[str, Any], extra_headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A function URL response with a JSON body."""
    headers = {"content-type": "application/json"}
    if status == 405:
        headers["allow"] = "POST"
    if extra_headers:
        headers.update(extra_headers)
    return {"statusCode": status, "headers": headers, "body": json.dumps(payload, separators=(",", ":"))}


def rejection_response(exc: RequestRejected) -> dict[str, Any]:
    return json_response(exc.status, {"error": exc.code, "message": exc.message})


# Provider events nest about ten levels; anything far deeper is an attack on the parser
# (json.loads itself raises RecursionError at about a thousand).
MAX_JSON_DEPTH = 64


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Decode a verified body. Only called after the signature check, on the same bytes.

    Strict where Python's reader is lenient, because everything decoded here may be
    stored or sent on: NaN and Infinity are refused, integers past Python's 4,300-digit
    limit (ValueError) and deep nesting (RecursionError) are a 400, not a crash, and a
    string holding a lone UTF-16 surrogate (``"\\ud800"``), which no UTF-8 store or
    queue accepts, is refused too.
    """
    try:
        value = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise RequestRejected(400, "invalid_json", "body is not JSON") from exc
    if not isinstance(value, dict):
        raise RequestRejected(400, "invalid_json", "body is not a JSON object")
    _check_structure(value)
    return value


def _check_structure(root: dict[str, Any]) -> None:
    """Depth and surrogates, iteratively (a recursive walk is what we are guarding against)."""
    pending: list[tuple[Any, int]] = [(root, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise RequestRejected(400, "invalid_json", f"body nests deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, dict):
            for key, item in value.items():
                _check_text(key)
                pending.append((item, depth + 1))
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            _check_text(value)


def _check_text(text: str) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise RequestRejected(400, "invalid_json", "body has a string with a lone UTF-16 surrogate") from exc
