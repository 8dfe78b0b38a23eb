"""Attribution reads every candidate at once (``ReferralsStore.read_ahead``) and must
answer exactly as the one-by-one reads did, in fewer round trips.

The same random table (referrals first or last touch, deletions, aliases with and without
a copy of the partner, provider profiles, written through the store on moto's DynamoDB)
and the same random payment go to ``attribute`` twice: once through the batched snapshot
(which trusts an alias's copy of the partner), once through plain sequential reads (which
read the referral itself). Attribution and trail must be equal, and after every write no
alias may carry a partner its referral does not have in force; the number of DynamoDB
calls is counted on the client.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from affiliate_bridge.attribution.rules import attribute
from affiliate_bridge.domain.events import CustomerRefs
from affiliate_bridge.domain.identity import email_hash
from affiliate_bridge.domain.referrals import Identifier, Referral
from affiliate_bridge.storage import keys
from affiliate_bridge.storage.referrals import ReferralsStore
from affiliate_bridge_dev.template_resources import create_resources

_RUNS = itertools.count()
CUSTOMERS = ["c1", "c2", "c3"]
EMAILS = ["a@example.com", "b@example.com"]
STRIPE_IDS = ["cus_1", "cus_2"]


class CountingClient:
    """The real boto3 client, with every call it makes counted by operation."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return method(*args, **kwargs)

        return counted


class SequentialReads:
    """The store as attribution used it before read-ahead: one read per question."""

    def __init__(self, store: ReferralsStore) -> None:
        self._store = store

    def find_referral(self, customer_key: str) -> Referral | None:
        return self._store.find_referral(customer_key)

    def find_customer_key(self, kind: str, value: str) -> str | None:
        return self._store.find_customer_key(kind, value)

    def find_email_hash(self, provider: str, customer_id: str) -> str | None:
        return self._store.find_email_hash(provider, customer_id)

    def read_ahead(
        self, customer_key: str | None, identifiers: Sequence[Identifier], profile: tuple[str, str] | None
    ) -> SequentialReads:
        return self


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[tuple[Any, str]]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        yield client, create_resources(client, boto3.client("sqs", region_name="us-east-1")).table_name


writes = st.lists(
    st.one_of(
        st.tuples(
            st.just("refer"),
            st.sampled_from(CUSTOMERS),
            st.sampled_from(["p1", "p2"]),
            st.none() | st.sampled_from(EMAILS),
            st.none() | st.sampled_from(STRIPE_IDS),
            st.booleans(),  # last touch
        ),
        st.tuples(st.just("delete"), st.sampled_from(CUSTOMERS)),
        st.tuples(st.just("profile"), st.sampled_from(STRIPE_IDS), st.none() | st.sampled_from(EMAILS)),
        # A learned alias; the partner the webhook saw may be stale by now (or None: no copy).
        st.tuples(
            st.just("alias"),
            st.sampled_from(STRIPE_IDS),
            st.sampled_from(CUSTOMERS),
            st.none() | st.sampled_from(["p1", "p2"]),
        ),
    ),
    max_size=10,
)
payments = st.builds(
    CustomerRefs,
    customer_key=st.none() | st.sampled_from(CUSTOMERS),
    provider_customer_id=st.none() | st.sampled_from(STRIPE_IDS),
    email=st.none() | st.sampled_from(EMAILS),
)


def _scoped(prefix: str, value: str | None) -> str | None:
    return prefix + value if value else None


def _write(store: ReferralsStore, prefix: str, write: tuple[Any, ...]) -> None:
    if write[0] == "refer":
        _, customer, partner, email, stripe_id, last_touch = write
        ids = (("stripe", prefix + stripe_id),) if stripe_id else ()
        store.put_referral(Referral(prefix + customer, partner, _scoped(prefix, email), ids), last_touch=last_touch)
    elif write[0] == "delete":
        store.mark_deleted(prefix + write[1], 1, "platform")
    elif write[0] == "profile":
        _, stripe_id, email = write
        hashed = email_hash(prefix + email) if email else None
        store.put_customer_email("stripe", prefix + stripe_id, hashed, 1)
    else:
        store.put_alias("stripe_customer", prefix + write[1], prefix + write[2], partner_key=write[3])


def _item(client: Any, table_name: str, where: keys.Key) -> dict[str, Any] | None:
    found: dict[str, Any] | None = client.get_item(
        TableName=table_name, Key={"pk": {"S": where.pk}, "sk": {"S": where.sk}}, ConsistentRead=True
    ).get("Item")
    return found


def assert_copies_true(client: Any, table_name: str, prefix: str) -> None:
    """Every alias of this run carrying a partner names a referral in force with it."""
    candidates = [keys.alias("stripe_customer", prefix + i) for i in STRIPE_IDS]
    candidates += [keys.alias("email", email_hash(prefix + e)) for e in EMAILS]
    for where in candidates:
        alias = _item(client, table_name, where)
        if alias is None or "partner_key" not in alias:
            continue
        referral = _item(client, table_name, keys.referral(alias["customer_key"]["S"]))
        assert referral is not None, alias
        assert not referral.get("deleted", {}).get("BOOL"), (alias, referral)
        assert referral["partner_key"] == alias["partner_key"], (alias, referral)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=writes, payment=payments)
def test_read_ahead_attributes_exactly_like_sequential_reads(
    dynamodb: tuple[Any, str], table: list[tuple[Any, ...]], payment: CustomerRefs
) -> None:
    client, table_name = dynamodb
    prefix = f"r{next(_RUNS)}-"
    store = ReferralsStore(client, table_name)
    for write in table:
        _write(store, prefix, write)
        assert_copies_true(client, table_name, prefix)
    scoped = CustomerRefs(
        customer_key=_scoped(prefix, payment.customer_key),
        provider_customer_id=_scoped(prefix, payment.provider_customer_id),
        email=_scoped(prefix, payment.email),
    )
    batched = attribute("stripe", scoped, store)
    assert batched == attribute("stripe", scoped, SequentialReads(store))


def _counted(dynamodb: tuple[Any, str]) -> tuple[ReferralsStore, CountingClient]:
    client, table_name = dynamodb
    counting = CountingClient(client)
    return ReferralsStore(counting, table_name), counting


def test_a_sale_referred_by_email_is_attributed_in_one_round_trip(dynamodb: tuple[Any, str]) -> None:
    store, counting = _counted(dynamodb)
    store.put_referral(Referral("email-cust", "p1", "two@example.com"))
    counting.calls.clear()
    found = attribute("stripe", CustomerRefs(provider_customer_id="cus_two", email="two@example.com"), store)
    assert (found.customer_key, found.partner_key, str(found.rule)) == ("email-cust", "p1", "email")
    assert counting.calls == ["batch_get_item"]  # the email's alias carries the partner


def test_a_deleted_customers_alias_is_read_the_long_way(dynamodb: tuple[Any, str]) -> None:
    """Deletion takes the copies off first: the alias then names no partner, the referral
    is read, and it is not in force."""
    store, counting = _counted(dynamodb)
    store.put_referral(Referral("gone-cust", "p1", "gone@example.com", (("stripe", "cus_gone"),)))
    store.mark_deleted("gone-cust", 5, "platform")
    counting.calls.clear()
    found = attribute("stripe", CustomerRefs(provider_customer_id="cus_gone"), store)
    assert not found.attributed
    assert counting.calls == ["batch_get_item", "get_item"]


def test_an_unreferred_sale_costs_one_round_trip(dynamodb: tuple[Any, str]) -> None:
    store, counting = _counted(dynamodb)
    found = attribute("stripe", CustomerRefs(customer_key="k-none", provider_customer_id="cus_none"), store)
    assert not found.attributed
    assert counting.calls == ["batch_get_item"]  # referral, alias and profile at once


def test_an_email_only_the_provider_profile_knows_takes_two(dynamodb: tuple[Any, str]) -> None:
    store, counting = _counted(dynamodb)
    store.put_referral(Referral("profile-cust", "p2", "three@example.com"))
    store.put_customer_email("stripe", "cus_three", email_hash("three@example.com"), 1)
    counting.calls.clear()
    found = attribute("stripe", CustomerRefs(provider_customer_id="cus_three"), store)
    assert (found.customer_key, str(found.rule)) == ("profile-cust", "email")
    assert counting.calls == ["batch_get_item", "get_item"]  # profile, then its email's alias (with the partner)


class Throttled(CountingClient):
    """Leaves every key of the first ``throttled`` BatchGetItem calls unprocessed, as
    DynamoDB does under throttling."""

    def __init__(self, client: Any, throttled: int) -> None:
        super().__init__(client)
        self.throttled = throttled

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 (boto3's name)
        self.calls.append("batch_get_item")
        if self.throttled:
            self.throttled -= 1
            return {"Responses": {}, "UnprocessedKeys": RequestItems}
        return self._client.batch_get_item(RequestItems=RequestItems)  # type: ignore[no-any-return]


@pytest.mark.parametrize("throttled", [1, 2, 5])
def test_unprocessed_keys_are_asked_again_then_read_one_by_one(dynamodb: tuple[Any, str], throttled: int) -> None:
    client, table_name = dynamodb
    store = ReferralsStore(client, table_name)
    store.put_referral(
        Referral(f"thr-{throttled}", "p1", f"thr{throttled}@example.com", (("stripe", f"cus_t{throttled}"),))
    )
    flaky = Throttled(client, throttled)
    payment = CustomerRefs(provider_customer_id=f"cus_t{throttled}", email=f"thr{throttled}@example.com")
    found = attribute("stripe", payment, ReferralsStore(flaky, table_name))
    assert (found.customer_key, found.partner_key) == (f"thr-{throttled}", "p1")
    assert found == attribute("stripe", payment, SequentialReads(store))
    if throttled >= 3:  # every attempt throttled: the keys were read one by one instead
        assert flaky.calls.count("batch_get_item") == 3 and "get_item" in flaky.calls
