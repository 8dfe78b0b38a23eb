import pytest

from affiliate_bridge.domain import MalformedEvent
from affiliate_bridge.partnero_webhook import PlatformAction, parse_platform_event, verify_partnero_signature
from affiliate_bridge.signing import SignatureError
from affiliate_bridge_dev.senders import partnero_signature_header

BODY = b'{"event":"customer.created","data":{"key":"c1","partner":"p1"}}'


def test_signature_over_raw_body_with_rotation() -> None:
    header = partnero_signature_header(BODY, "new")
    verify_partnero_signature(BODY, header, ("old", "new"))
    verify_partnero_signature(BODY, header.upper(), ("new",))  # hex case does not matter
    for body, secrets, code in (
        (BODY + b" ", ("new",), "signature_mismatch"),
        (BODY, ("old",), "signature_mismatch"),
        (BODY, (), "no_secret_configured"),
    ):
        with pytest.raises(SignatureError) as info:
            verify_partnero_signature(body, header, secrets)
        assert info.value.code == code
    with pytest.raises(SignatureError) as info:
        verify_partnero_signature(BODY, None, ("new",))
    assert info.value.code == "missing_header"


@pytest.mark.parametrize(
    ("payload", "action", "partner"),
    [
        ({"event": "customer.created", "data": {"key": "c1", "partner": "p1"}}, PlatformAction.UPSERT, "p1"),
        ({"event": "customer.updated", "data": {"key": "c1", "partner": {"key": "p2"}}}, PlatformAction.UPSERT, "p2"),
        ({"event": "customer.deleted", "data": {"key": "c1"}}, PlatformAction.DELETE, None),
        ({"event": "customer.updated", "data": {"key": "c1", "deleted": True}}, PlatformAction.DELETE, None),
        ({"event": "transaction.created", "data": {}}, PlatformAction.IGNORE, None),
    ],
)
def test_customer_events(payload: dict, action: PlatformAction, partner: str | None) -> None:  # type: ignore[type-arg]
    parsed = parse_platform_event(payload)
    assert parsed.action is action and parsed.partner_key == partner


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"event": "customer.created"},
        {"event": "customer.created", "data": {"partner": "p"}},
        {"event": "customer.created", "data": {"key": "c"}},
    ],
)
def test_malformed(payload: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(MalformedEvent):
        parse_platform_event(payload)
