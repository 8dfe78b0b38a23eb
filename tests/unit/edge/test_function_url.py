import base64

import pytest

from affiliate_bridge.edge import observability
from affiliate_bridge.edge.function_url import parse_event, parse_json_object
from affiliate_bridge.errors import RequestRejected
from affiliate_bridge_dev.lambda_events import function_url_event


def test_headers_are_lower_cased_and_text_bodies_kept_as_bytes() -> None:
    event = function_url_event(
        "post", "/stripe", b'{"a":1}', {"Stripe-Signature": "t=1", "Content-Type": "application/json"}
    )
    event["headers"]["X-Upper"] = "kept"  # a hand-built event with a capitalised name
    request = parse_event(event)
    assert request.method == "POST" and request.path == "/stripe"
    assert request.header("stripe-signature") == "t=1" and request.header("x-upper") == "kept"
    assert request.body == b'{"a":1}' and event["isBase64Encoded"] is False


def test_binary_content_types_arrive_base64_encoded_and_are_decoded() -> None:
    raw = '{"name":"Ü"}'.encode()
    event = function_url_event("POST", "/", raw, {"content-type": "application/octet-stream"})
    assert event["isBase64Encoded"] is True and event["body"] == base64.b64encode(raw).decode()
    assert parse_event(event).body == raw


def test_size_limit_applies_before_and_after_decoding() -> None:
    with pytest.raises(RequestRejected) as info:
        parse_event(function_url_event("POST", "/", b"x" * 101, {"content-type": "text/plain"}), max_body_bytes=100)
    assert info.value.status == 413
    with pytest.raises(RequestRejected):
        parse_event(function_url_event("POST", "/", b"x" * 200, {}, force_base64=True), max_body_bytes=100)


@pytest.mark.parametrize("body", [b"", b"not json", b"[1]", b'"text"', b"\xff\xfe"])
def test_only_json_objects_are_accepted(body: bytes) -> None:
    with pytest.raises(RequestRejected) as info:
        parse_json_object(body)
    assert info.value.code == "invalid_json"


def test_tracing_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    from aws_lambda_powertools import Tracer

    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    off = observability._make_tracer()
    assert off.capture_lambda_handler(len) is len
    assert off.capture_method()(len) is len
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    assert isinstance(observability._make_tracer(), Tracer)
    for spelling in ("1", "y", "yes", "t", "TRUE", "on"):  # every one Powertools reads as true
        monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", spelling)
        assert not isinstance(observability._make_tracer(), Tracer), spelling


@pytest.mark.parametrize("where", [{}, {"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"}])
def test_no_xray_sdk_where_powertools_would_not_trace(monkeypatch: pytest.MonkeyPatch, where: dict[str, str]) -> None:
    """Outside Lambda, or under sam local, Powertools itself disables tracing: the X-Ray
    SDK (and the clients its default sampler builds) is not worth importing there."""
    from aws_lambda_powertools import Tracer

    monkeypatch.delenv("LAMBDA_TASK_ROOT", raising=False)
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    for name, value in where.items():
        monkeypatch.setenv(name, value)
    made = observability._make_tracer()
    assert not isinstance(made, Tracer)
    assert made.capture_lambda_handler(len) is len


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 10_000 + b"]" * 10_000,
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        b'{"a":' * 65 + b"1" + b"}" * 65,
        b'{"amount": ' + b"9" * 5000 + b"}",
        b'{"id": "\\ud800"}',
        b'{"\\udfff": 1}',
        b'{"x": NaN}',
        b'{"x": -Infinity}',
        b"\xff\xfe",
        b'"just a string"',
    ],
)
def test_hostile_json_is_invalid_json(body: bytes) -> None:
    with pytest.raises(RequestRejected) as info:
        parse_json_object(body)
    assert (info.value.status, info.value.code) == (400, "invalid_json")


def test_deep_but_sane_json_and_real_unicode_pass() -> None:
    body = b'{"a":' * 60 + b'"\\ud83d\\ude00 caf\xc3\xa9"' + b"}" * 60
    assert parse_json_object(body)["a"]
