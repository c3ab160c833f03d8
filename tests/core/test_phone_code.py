"""core/phone_code.py and the proof declarations: the rules, exactly."""

from datetime import datetime, timedelta, timezone

import pytest

from bot.core.countries import parse_countries
from bot.core.errors import ConfigurationError, InvalidInput
from bot.core.phone_code import (EXPIRED, LOCKED, VERIFIED, WRONG, PhoneCode, allowed_country, check_organisation,
                                 e164, new_code, septets, sms_text)
from bot.core.proofs import DECLARATIONS, PROOFS, ProofPolicy, two_person

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)


def test_codes_are_six_digits_and_vary():
    codes = {new_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 190


def test_only_a_salted_hash_is_kept():
    code = PhoneCode.issue("482193", T0)
    assert "482193" not in str(code.to_dict())
    assert PhoneCode.issue("482193", T0).digest != code.digest  # a fresh salt each time
    assert PhoneCode.from_dict(code.to_dict()) == code


def test_check_outcomes():
    code = PhoneCode.issue("482193", T0)
    assert code.check("482 193", T0)[1] == VERIFIED
    after_one, outcome = code.check("000000", T0)
    assert (outcome, after_one.tries) == (WRONG, 1)
    after_two, _ = after_one.check("000000", T0)
    locked, outcome = after_two.check("000000", T0)
    assert (outcome, locked.locked, locked.tries) == (LOCKED, True, 3)
    assert locked.check("482193", T0)[1] == LOCKED
    assert code.check("482193", T0 + timedelta(minutes=4, seconds=59))[1] == VERIFIED
    assert code.check("482193", T0 + timedelta(minutes=5))[1] == EXPIRED
    for malformed in ("48219", "4821933", "abcdef", ""):
        with pytest.raises(InvalidInput):
            code.check(malformed, T0)


def test_resends():
    assert PhoneCode.issue("1", T0, sends=1).resends_left == 2
    assert PhoneCode.issue("1", T0, sends=3).resends_left == 0


def test_the_text_is_one_gsm7_segment():
    text = sms_text("Contoso", "482193")
    assert text == ("Contoso IT: your helpdesk verification code is 482 193. Read it only to the agent who called "
                    "you. Not you? Call IT security.")
    assert septets(text) == len(text) <= 160
    assert septets("a€") == 3 and septets("ü") == 1 and septets("🙂") is None
    assert check_organisation(" Fabrikam ") == "Fabrikam"
    with pytest.raises(ValueError, match="GSM-7"):
        check_organisation("Ünïcode Ltd ✓")
    with pytest.raises(ValueError, match="too long"):
        check_organisation("C" * 60)


def test_numbers_and_countries():
    assert e164("+44 7700 900958") == "+447700900958"
    assert e164("(+1) 425-555-0143") == "+14255550143"
    assert e164("07700 900958") is None and e164("") is None and e164("+0 123 456 789") is None
    assert parse_countries("GB, us, +353") == frozenset({"+44", "+1", "+353"})
    assert allowed_country("+447700900958", frozenset({"+44"}))
    assert not allowed_country("+4420", frozenset({"+1"}))
    with pytest.raises(ConfigurationError):
        parse_countries("XX")


def test_declarations_say_who_gives_each_proof():
    assert PROOFS == ("callback", "phone_code", "manager_approval", "second_agent_approval")
    assert [(p.name, p.given_by, p.by_requester, [i.id for i in p.inputs], p.needs) for p in DECLARATIONS.values()] \
        == [("callback", "requester", True, ["calledBack"], "phone"),
            ("phone_code", "caller", True, ["phoneCode"], "mobile"),
            ("manager_approval", "manager", False, [], "manager"),
            ("second_agent_approval", "other_agent", False, [], "")]
    assert not two_person(("callback", "phone_code")) and two_person(("phone_code", "second_agent_approval"))


def test_the_default_policy_and_its_fallback():
    policy = ProofPolicy.parse("phone_code", "phone_code,second_agent_approval")
    assert policy.required(False) == ("phone_code",)
    assert policy.required(True) == ("phone_code", "second_agent_approval")
    assert policy.required(False, has_mobile=False) == ("callback", "second_agent_approval")
    assert policy.required(True, has_mobile=False) == ("callback", "second_agent_approval")
    assert ProofPolicy.parse("callback", "callback,manager_approval").required(False, has_mobile=False) == (
        "callback",)  # no phone_code in it: nothing to fall back from


async def test_the_default_country_is_the_tenants_read_once():
    from bot.core.countries import TenantCountry
    from bot.core.errors import DependencyUnavailable

    calls = []

    async def lookup():
        calls.append(1)
        return "gb"

    countries = TenantCountry(lookup)
    assert await countries.calling_codes() == frozenset({"+44"})
    assert await countries.calling_codes() == frozenset({"+44"}) and len(calls) == 1

    async def unknown():
        return ""

    with pytest.raises(DependencyUnavailable):
        await TenantCountry(unknown).calling_codes()
