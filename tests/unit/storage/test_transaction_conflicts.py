"""Writes of the items a webhook's parking checks in a transaction (referrals, aliases)
are sent again when DynamoDB refuses them for that transaction, and only then."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from affiliate_bridge.domain.referrals import Referral, ReferralOutcome
from affiliate_bridge.storage import dynamo
from affiliate_bridge.storage.referrals import ReferralsStore


def _error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "PutItem")


def _cancelled(*codes: str) -> ClientError:
    """A TransactWriteItems refused, with DynamoDB's reason for each of its items."""
    response: Any = {
        "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
        "CancellationReasons": [{"Code": code} for code in codes],
    }
    return ClientError(response, "TransactWriteItems")


class RefusingClient:
    """Refuses the first ``refusals`` writes with ``code``, then accepts every write."""

    def __init__(self, refusals: int, code: str = "TransactionConflictException") -> None:
        self.refusals, self.code, self.writes = refusals, code, 0

    def _write(self, **_: Any) -> dict[str, Any]:
        self.writes += 1
        if self.writes <= self.refusals:
            raise _error(self.code)
        return {}

    put_item = update_item = _write

    def get_item(self, **_: Any) -> dict[str, Any]:
        return {}  # nothing stored


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dynamo, "_CONFLICT_BACKOFF_SECONDS", 0.0)


def test_an_alias_refused_for_a_transaction_is_written_on_a_later_attempt() -> None:
    client = RefusingClient(refusals=dynamo.CONFLICT_ATTEMPTS - 1)
    assert ReferralsStore(client, "t").put_alias("stripe_customer", "cus_1", "u-1") is True
    assert client.writes == dynamo.CONFLICT_ATTEMPTS


def test_a_referral_and_its_aliases_survive_a_conflict_on_each_write() -> None:
    class OneRefusalEach(RefusingClient):
        def _write(self, **request: Any) -> dict[str, Any]:
            self.writes += 1
            if self.writes % 2:
                raise _error(self.code)
            return {}

        def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
            self.writes += 1
            if self.writes % 2:  # the alias and the referral's record of its copy, refused whole
                raise _cancelled("TransactionConflict", "None")
            return {}

        put_item = update_item = _write

    client = OneRefusalEach(refusals=0)
    referral = Referral("u-1", "ann", "a@example.com", (("stripe", "cus_1"),))
    outcome, _ = ReferralsStore(client, "t").put_referral(referral)
    assert outcome is ReferralOutcome.CREATED and client.writes == 6  # referral + 2 aliases, twice each


@pytest.mark.parametrize(
    ("codes", "written"),
    [
        (("ConditionalCheckFailed", "None"), True),  # the referral refused the copy: written plainly
        (("None", "ConditionalCheckFailed"), False),  # another customer holds the alias
        (("TransactionConflict", "None"), True),  # met other writes every time: written plainly
    ],
)
def test_an_alias_whose_copy_is_refused_is_still_written_or_reported_held(
    codes: tuple[str, str], written: bool
) -> None:
    class Refusing(RefusingClient):
        transactions = 0

        def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
            self.transactions += 1
            raise _cancelled(*codes)

    client = Refusing(refusals=0)
    assert ReferralsStore(client, "t").put_alias("email", "h", "u-1", partner_key="ann") is written
    assert client.writes == (1 if written else 0)  # the plain write
    assert client.transactions == (3 if codes[0] == "TransactionConflict" else 1)


def test_a_conflict_that_outlasts_the_attempts_is_raised() -> None:
    client = RefusingClient(refusals=dynamo.CONFLICT_ATTEMPTS)
    with pytest.raises(ClientError, match="TransactionConflict"):
        ReferralsStore(client, "t").mark_deleted("u-1", 1, "platform")
    assert client.writes == dynamo.CONFLICT_ATTEMPTS


def test_any_other_refusal_is_not_sent_again() -> None:
    client = RefusingClient(refusals=1, code="ProvisionedThroughputExceededException")
    with pytest.raises(ClientError):
        ReferralsStore(client, "t").put_alias("email", "h", "u-1")
    assert client.writes == 1


class ScriptedClient:
    """Answers reads from ``stored``; refuses the first write of each kind named in
    ``refuse_once`` with a transaction conflict, then accepts it."""

    def __init__(self, stored: dict[str, Any] | None, refuse_once: set[str], fail_first_put: bool = False) -> None:
        self.stored, self.refuse_once = stored, set(refuse_once)
        self.writes: list[str] = []
        self.fail_first_put = fail_first_put

    def get_item(self, **_: Any) -> dict[str, Any]:
        return {"Item": self.stored} if self.stored else {}

    def _attempt(self, kind: str, request: dict[str, Any]) -> dict[str, Any]:
        self.writes.append(kind)
        if kind in self.refuse_once:
            self.refuse_once.discard(kind)
            raise _error("TransactionConflictException")
        return {}

    def put_item(self, **request: Any) -> dict[str, Any]:
        if self.fail_first_put:
            self.fail_first_put = False
            self.writes.append("put(condition)")
            raise _error("ConditionalCheckFailedException")
        kind = "put:referral" if request["Item"]["sk"]["S"] == "REFERRAL" else "put:other"
        return self._attempt(kind, request)

    def update_item(self, **request: Any) -> dict[str, Any]:
        self._attempt("update", request)
        return {"Attributes": self.stored or {}} if request.get("ReturnValues") == "ALL_NEW" else {}


def _stored(partner: str, platform_at: int | None = None) -> dict[str, Any]:
    item = {"pk": {"S": "CUSTOMER#u-1"}, "sk": {"S": "REFERRAL"}, "partner_key": {"S": partner}}
    if platform_at is not None:
        item["platform_at"] = {"N": str(platform_at)}
    return item


def test_last_touch_replacing_a_partner_survives_a_conflict() -> None:
    client = ScriptedClient(_stored("old"), {"put:referral"}, fail_first_put=True)
    outcome, current = ReferralsStore(client, "t").put_referral(Referral("u-1", "new"), last_touch=True)
    assert (outcome, current.partner_key) == (ReferralOutcome.UPDATED, "new")
    # The lock against new copies of the old partner, then the referral: refused, sent again.
    assert client.writes[:4] == ["put(condition)", "update", "put:referral", "put:referral"]


def test_a_platform_delivery_that_changes_nothing_still_moves_the_clock_through_a_conflict() -> None:
    client = ScriptedClient(_stored("ann", platform_at=5), {"update"}, fail_first_put=True)
    outcome, _ = ReferralsStore(client, "t").put_referral(Referral("u-1", "ann"), platform_at_ms=9)
    assert outcome is ReferralOutcome.UNCHANGED
    assert client.writes.count("update") == 2  # refused once, then applied


def test_a_deletion_survives_a_conflict_and_reports_what_it_deleted() -> None:
    class Deleting(ScriptedClient):
        def update_item(self, **request: Any) -> dict[str, Any]:
            super().update_item(**request)
            return {"Attributes": _stored("ann")}

    client = Deleting(None, {"update"})
    assert ReferralsStore(client, "t").mark_deleted("u-1", 1, "platform") is ReferralOutcome.DELETED
    assert client.writes == ["update", "update", "update"]  # the lock refused, the lock, the deletion


def test_plain_parking_survives_a_conflict_with_another_delivery_s_transaction() -> None:
    from affiliate_bridge.domain.events import CustomerRefs, Payment
    from affiliate_bridge.domain.money import Money
    from affiliate_bridge.storage.parked_payments import ParkedPayments

    client = ScriptedClient(None, {"update"})
    money = Money(100, "EUR")
    sale = Payment("stripe", "evt_1", "invoice.paid", "stripe-in_1", money, money, 1, CustomerRefs())
    assert ParkedPayments(client, "t").park(sale, [("stripe_customer", "cus_1")], 60) > 0
    assert client.writes == ["update", "update"]
