from affiliate_bridge.attribution.rules import attribute
from affiliate_bridge.domain.events import CustomerRefs
from affiliate_bridge.domain.identity import email_hash
from affiliate_bridge.domain.referrals import AttributionRule, Referral
from tests.unit.fakes import MemoryReferrals


def _referrals() -> MemoryReferrals:
    store = MemoryReferrals()
    store.referrals["user-1"] = Referral("user-1", "partner-a")
    store.referrals["user-2"] = Referral("user-2", "partner-b")
    store.aliases[("stripe_customer", "cus_2")] = "user-2"
    store.aliases[("email", email_hash("Two@Example.com"))] = "user-2"
    return store


def test_customer_key_wins_over_every_other_rule() -> None:
    result = attribute("stripe", CustomerRefs("user-1", "cus_2", "two@example.com"), _referrals())
    assert (result.customer_key, result.partner_key, result.rule) == (
        "user-1",
        "partner-a",
        AttributionRule.CUSTOMER_KEY,
    )
    assert result.tried == ("customer_key:matched",)


def test_provider_customer_id_then_email() -> None:
    by_id = attribute("stripe", CustomerRefs(None, "cus_2", None), _referrals())
    assert by_id.rule is AttributionRule.PROVIDER_CUSTOMER and by_id.partner_key == "partner-b"
    by_email = attribute("stripe", CustomerRefs("unknown", "cus_9", "  TWO@example.COM "), _referrals())
    assert by_email.rule is AttributionRule.EMAIL and by_email.customer_key == "user-2"
    assert by_email.tried == ("customer_key:no referral", "provider_customer_id:no referral", "email:matched")


def test_provider_alias_is_per_provider() -> None:
    result = attribute("paddle", CustomerRefs(None, "cus_2", None), _referrals())
    assert not result.attributed


def test_nothing_matches_and_the_trail_has_no_email() -> None:
    result = attribute("stripe", CustomerRefs(None, None, "nobody@example.com"), _referrals())
    assert not result.attributed and result.rule is None
    assert result.tried == ("customer_key:absent", "provider_customer_id:absent", "email:no referral")
    assert all("@" not in step for step in result.tried)


def test_alias_to_a_deleted_referral_does_not_attribute() -> None:
    store = _referrals()
    del store.referrals["user-2"]
    assert not attribute("stripe", CustomerRefs(None, "cus_2", None), store).attributed
