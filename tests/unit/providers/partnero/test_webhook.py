import pytest

from affiliate_bridge.errors import MalformedEvent, SignatureError
from affiliate_bridge.providers.partnero.webhook import PlatformAction, parse_platform_event, verify_partnero_signature
from affiliate_bridge_dev.senders import partnero_signature_header

BODY = b'{"event":"customer.created","data":{"key":"c1","partner":"p1"}}'
AT = "2026-11-23T10:00:00.250000Z"
UPSERT, DELETE = PlatformAction.UPSERT, PlatformAction.DELETE


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
        ({"event": "customer.created", "created_at": AT, "data": {"key": "c1", "partner": "p1"}}, UPSERT, "p1"),
        (
            {"event": "customer.updated", "created_at": AT, "data": {"key": "c1", "partner": {"key": "p2"}}},
            UPSERT,
            "p2",
        ),
        ({"event": "customer.deleted", "created_at": AT, "data": {"key": "c1"}}, PlatformAction.DELETE, None),
        ({"event": "customer.updated", "data": {"key": "c1", "deleted": True, "updated_at": AT}}, DELETE, None),
        ({"event": "transaction.created", "data": {}}, PlatformAction.IGNORE, None),
    ],
)
def test_customer_events(payload: dict, action: PlatformAction, partner: str | None) -> None:
    parsed = parse_platform_event(payload)
    assert parsed.action is action and parsed.partner_key == partner
    if action is not PlatformAction.IGNORE:
        assert parsed.occurred_at_ms == 1_795_428_000_250


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2026-11-23T10:00:00Z", 1_795_428_000_000),
        ("2026-11-23 10:00:00", 1_795_428_000_000),
        ("2026-11-23T11:00:00+01:00", 1_795_428_000_000),
        (1_795_428_000, 1_795_428_000_000),
        (1_795_428_000.5, 1_795_428_000_500),
    ],
)
def test_delivery_times(stamp: object, expected: int) -> None:
    payload = {"event": "customer.created", "created_at": stamp, "data": {"key": "c1", "partner": "p1"}}
    assert parse_platform_event(payload).occurred_at_ms == expected


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"event": "customer.created"},
        {"event": "customer.created", "data": {"partner": "p"}},
        {"event": "customer.created", "data": {"key": "c"}},
        {"event": "customer.created", "created_at": "yesterday", "data": {"key": "c", "partner": "p"}},
        {"event": "customer.created", "created_at": 10**40, "data": {"key": "c", "partner": "p"}},
        {"event": "customer.created", "created_at": True, "data": {"key": "c", "partner": "p"}},
    ],
)
def test_malformed(payload: dict) -> None:
    with pytest.raises(MalformedEvent):
        parse_platform_event(payload)


@pytest.mark.parametrize("stamp", [1e308, float("inf"), float("nan"), -1e308, 10**400, "9999999-01-01"])
def test_absurd_times_are_malformed_not_crashes(stamp: object) -> None:
    with pytest.raises(MalformedEvent):
        parse_platform_event({"event": "customer.created", "created_at": stamp, "data": {"key": "c", "partner": "p"}})


def test_a_delivery_without_a_time_is_ordered_by_its_arrival() -> None:
    import time

    before = int(time.time() * 1000)
    parsed = parse_platform_event({"event": "customer.created", "data": {"key": "c", "partner": "p"}})
    assert before <= parsed.occurred_at_ms <= int(time.time() * 1000)
