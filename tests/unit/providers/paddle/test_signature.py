"""Paddle-Signature checks on the upstream SDK vectors and constructed cases."""

from __future__ import annotations

from typing import Any

import pytest

from affiliate_bridge.errors import SignatureError
from affiliate_bridge.providers.paddle.signature import verify_paddle_signature
from affiliate_bridge_dev.senders import paddle_signature_header
from tests.conftest import fixture_bytes

BODY = b'{"event_id":"evt_1","event_type":"transaction.completed"}'
SECRET = "pdl_ntfset_01abc_secret"


def _body(vector: dict[str, Any]) -> bytes:
    if "body_inline" in vector:
        return str(vector["body_inline"]).encode()
    body = fixture_bytes(vector["body_file"])
    if "strip trailing newline" in vector.get("body_transform", ""):
        assert body.endswith(b"\n")
        body = body[:-1]
    return body


def test_upstream_vectors(vectors: dict[str, Any]) -> None:
    for vector in vectors["paddle"]:
        secrets = tuple(vector.get("secrets") or [vector["secret"]])
        ts = verify_paddle_signature(_body(vector), vector["header"], secrets, tolerance_seconds=None)
        assert vector["header"].startswith(f"ts={ts};")
    assert len(vectors["paddle"]) == 5


def test_vector_body_with_trailing_newline_fails(vectors: dict[str, Any]) -> None:
    vector = vectors["paddle"][0]
    with pytest.raises(SignatureError) as info:
        verify_paddle_signature(
            fixture_bytes(vector["body_file"]), vector["header"], (vector["secret"],), tolerance_seconds=None
        )
    assert info.value.code == "signature_mismatch"


def test_reserialised_body_fails(vectors: dict[str, Any]) -> None:
    # The node SDK vector: extra spaces in an otherwise equal JSON document must fail.
    vector = vectors["paddle"][4]
    spaced = b'{ "data": [ "1", "2" ]}'
    with pytest.raises(SignatureError):
        verify_paddle_signature(spaced, vector["header"], (vector["secret"],), tolerance_seconds=None)


def test_special_characters_vector_needs_the_exact_escapes(vectors: dict[str, Any]) -> None:
    import json

    vector = vectors["paddle"][1]
    body = _body(vector)
    reserialised = json.dumps(json.loads(body), ensure_ascii=False, separators=(",", ":")).encode()
    assert reserialised != body
    with pytest.raises(SignatureError):
        verify_paddle_signature(reserialised, vector["header"], (vector["secret"],), tolerance_seconds=None)


def test_rotation_multiple_h1_and_only_third_secret_matches(vectors: dict[str, Any]) -> None:
    vector = vectors["paddle"][2]
    with pytest.raises(SignatureError):
        verify_paddle_signature(b"hello-world", vector["header"], tuple(vector["secrets"][:2]), tolerance_seconds=None)
    assert verify_paddle_signature(b"hello-world", vector["header"], tuple(vector["secrets"]), tolerance_seconds=None)


def test_sandbox_and_live_secrets_side_by_side() -> None:
    sandbox, live = "pdl_ntfset_sandbox_key", "pdl_ntfset_live_key"
    for secret in (sandbox, live):
        header = paddle_signature_header(BODY, secret, timestamp=1_000)
        assert verify_paddle_signature(BODY, header, (sandbox, live), now=1_001) == 1_000
    with pytest.raises(SignatureError):
        verify_paddle_signature(BODY, paddle_signature_header(BODY, live, 1_000), (sandbox,), now=1_001)


def test_whitespace_and_unknown_keys_in_the_header() -> None:
    header = paddle_signature_header(BODY, SECRET, timestamp=1_000)
    ts, h1 = header.split(";")
    messy = f"  {ts} ; future=abc ;{h1}  ; "
    assert verify_paddle_signature(BODY, messy, (SECRET,), now=1_000) == 1_000


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "missing_header"),
        ("h1=abc", "malformed_header"),
        ("ts=soon;h1=abc", "malformed_header"),
        ("ts=1000;h1", "malformed_header"),
        ("ts=1000;v1=" + "0" * 64, "no_h1_signature"),
        ("ts=1000;h1=" + "0" * 64, "signature_mismatch"),
    ],
)
def test_header_problems(header: str | None, code: str) -> None:
    with pytest.raises(SignatureError) as info:
        verify_paddle_signature(BODY, header, (SECRET,), now=1_000)
    assert info.value.code == code


def test_tolerance_default_is_30_seconds_both_ways() -> None:
    header = paddle_signature_header(BODY, SECRET, timestamp=1_000)
    assert verify_paddle_signature(BODY, header, (SECRET,), now=1_030)
    assert verify_paddle_signature(BODY, header, (SECRET,), now=970)
    for now in (1_031, 969):
        with pytest.raises(SignatureError) as info:
            verify_paddle_signature(BODY, header, (SECRET,), now=now)
        assert info.value.code == "timestamp_outside_tolerance"
