"""Stripe-Signature checks, on the fixture vectors and constructed cases."""

from __future__ import annotations

from typing import Any

import pytest

from affiliate_bridge.errors import SignatureError
from affiliate_bridge.providers.signing import split_secrets
from affiliate_bridge.providers.stripe.signature import verify_stripe_signature
from affiliate_bridge_dev.senders import stripe_signature_header
from tests.conftest import fixture_bytes

SECRET = "whsec_test_secret"
BODY = b'{"id":"evt_1","type":"invoice.paid"}'


def _stripe_vectors(vectors: dict[str, Any]) -> list[dict[str, Any]]:
    return list(vectors["stripe"])


def test_fixture_vectors(vectors: dict[str, Any]) -> None:
    checked = 0
    for vector in _stripe_vectors(vectors):
        body = fixture_bytes(vector["body_file"])
        expect = vector.get("expect", "valid")
        if expect.startswith("valid"):
            assert (
                verify_stripe_signature(body, vector["header"], (vector["secret"],), tolerance_seconds=None)
                == vector["timestamp"]
            )
        else:
            with pytest.raises(SignatureError) as info:
                verify_stripe_signature(body, vector["header"], (vector["secret"],), tolerance_seconds=None)
            assert info.value.code == "no_v1_signature"
        checked += 1
    assert checked == 4


def test_fixture_vector_is_refused_with_default_tolerance(vectors: dict[str, Any]) -> None:
    vector = _stripe_vectors(vectors)[0]
    with pytest.raises(SignatureError) as info:
        verify_stripe_signature(fixture_bytes(vector["body_file"]), vector["header"], (vector["secret"],))
    assert info.value.code == "timestamp_outside_tolerance"


def test_one_changed_byte_fails(vectors: dict[str, Any]) -> None:
    vector = _stripe_vectors(vectors)[1]
    body = fixture_bytes(vector["body_file"])
    assert body.endswith(b"\n")  # the signature covers the final newline too
    with pytest.raises(SignatureError) as info:
        verify_stripe_signature(body.rstrip(b"\n"), vector["header"], (vector["secret"],), tolerance_seconds=None)
    assert info.value.code == "signature_mismatch"


def test_rotation_accepts_either_secret() -> None:
    header = stripe_signature_header(BODY, "whsec_new", timestamp=1_000)
    secrets = split_secrets("whsec_old, whsec_new")
    assert secrets == ("whsec_old", "whsec_new")
    assert verify_stripe_signature(BODY, header, secrets, now=1_010) == 1_000


def test_wrong_secret() -> None:
    header = stripe_signature_header(BODY, "whsec_other", timestamp=1_000)
    with pytest.raises(SignatureError) as info:
        verify_stripe_signature(BODY, header, (SECRET,), now=1_000)
    assert info.value.code == "signature_mismatch"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "missing_header"),
        ("", "missing_header"),
        ("garbage", "malformed_header"),
        ("t=abc,v1=00", "malformed_header"),
        ("v1=00", "malformed_header"),
        ("t=1000,v0=" + "0" * 64, "no_v1_signature"),
    ],
)
def test_header_problems(header: str | None, code: str) -> None:
    with pytest.raises(SignatureError) as info:
        verify_stripe_signature(BODY, header, (SECRET,), now=1_000)
    assert info.value.code == code


def test_tolerance_edges() -> None:
    header = stripe_signature_header(BODY, SECRET, timestamp=1_000)
    assert verify_stripe_signature(BODY, header, (SECRET,), tolerance_seconds=300, now=1_300)
    with pytest.raises(SignatureError):
        verify_stripe_signature(BODY, header, (SECRET,), tolerance_seconds=300, now=1_301)


def test_no_secret_configured() -> None:
    with pytest.raises(SignatureError) as info:
        verify_stripe_signature(BODY, stripe_signature_header(BODY, SECRET), ())
    assert info.value.code == "no_secret_configured"


@pytest.mark.parametrize(
    "header",
    [
        "t={t},v1=é",
        "t={t},v1=\u00e9\u00e9",
        "t={t},v1=\ud800",
        "t=\u0661\u0667\u0660\u0660,v1=abc",
        "t={t},v1=" + "ü" * 64,
    ],
)
def test_non_ascii_signatures_are_mismatches_not_crashes(header: str) -> None:
    import time

    with pytest.raises(SignatureError) as info:
        verify_stripe_signature(b"{}", header.format(t=int(time.time())), ("whsec_test_fixture_value_only",))
    assert info.value.code in ("signature_mismatch", "malformed_header")


def test_zero_tolerance_is_refused_not_unlimited() -> None:
    with pytest.raises(ValueError):
        verify_stripe_signature(b"{}", "t=1,v1=00", ("whsec_test_fixture_value_only",), tolerance_seconds=0)
