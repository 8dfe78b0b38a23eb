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

        put_item = update_item = _write

    client = OneRefusalEach(refusals=0)
    referral = Referral("u-1", "ann", "a@example.com", (("stripe", "cus_1"),))
    outcome, _ = ReferralsStore(client, "t").put_referral(referral)
    assert outcome is ReferralOutcome.CREATED and client.writes == 6  # referral + 2 aliases, twice each


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
