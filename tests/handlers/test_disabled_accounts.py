"""Accounts disabled in Entra (leavers, blocked sign-ins): found, so their token can be revoked and destroyed, but
no code is released, no token enrolled or provisioned for them, and a code request for one raises an alert."""

from dataclasses import replace

import pytest

from bot.adapters.local_directory import LocalDirectory
from bot.core.models import Person, Seed, TokenStatus
from tests.support.harness import ALICE, MIA, RFC_SEED, texts
from tests.support.lifecycle_fakes import DAVE, lifecycle_harness
from tests.support.teams import ADA, LEE

ENTRA, ENTRA_NOW = "2SK2TSMKJP7KDBCK", "138 424"  # a valid seed and its code at the harness clock (test_enroll.py)

ALERTS = "19:security-alerts@thread.tacv2"


@pytest.fixture
async def h(clock, tmp_path):
    harness = await lifecycle_harness(clock, tmp_path, Seed(ALICE.object_id, ALICE.upn, RFC_SEED),
                                      env={"OTPBOT_ALERTS_CHANNEL_ID": ALERTS})
    for person in (ALICE, DAVE):
        harness.directory.people[person.upn] = replace(person, enabled=False)
    yield harness
    await harness.close()


def shown(body) -> list[str]:
    assert body["statusCode"] == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
    return [b["text"] for b in body["value"]["body"] if b.get("type") == "TextBlock"]


def trail(h) -> list[tuple]:
    return [(r.event, r.actor, r.target, r.details) for r in h.audit.entries]


async def test_no_code_for_a_disabled_account_and_the_request_is_alerted(h):
    assert texts(await h.say("code alice@contoso.example")) == [
        "The account of Alice User is disabled in Entra, so no code can be released. If they have left, revoke "
        "their token: `revoke alice@contoso.example left`."]
    assert trail(h) == [("verification.refused", ADA.oid, ALICE.upn, {"reason": "account_disabled"})]
    assert [m.text for c, m in h.notifier.to_conversations if c == ALERTS] == [
        "Code requested for a disabled account: Ada Agent asked for a code for alice@contoso.example. The request "
        "was refused."]
    assert h.store.reads == 0


async def test_a_leavers_token_can_still_be_revoked_and_destroyed(h):
    assert texts(await h.say("revoke alice@contoso.example left")) == [
        "Revoked the token for Alice User (alice@contoso.example) (left). Its seed is disabled and no code will be "
        "released for it. For a new token, use `provision alice@contoso.example`."]
    assert (h.store.seeds[ALICE.object_id].status, h.store.seeds[ALICE.object_id].enabled) == (
        TokenStatus.REVOKED, False)
    assert trail(h) == [("token.revoked", ADA.oid, ALICE.upn, {"from": "burned", "reason": "left"})]


@pytest.mark.parametrize("command", ["enroll dave@contoso.example", "provision dave@contoso.example"])
async def test_no_token_is_enrolled_or_provisioned_for_a_disabled_account(h, command):
    assert texts(await h.say(command)) == [
        "The account of Dave User (dave@contoso.example) is disabled in Entra, so no token is enrolled for it."]
    assert trail(h) == []


async def test_submitting_the_enroll_card_for_a_disabled_account_stores_nothing(h):
    body, sent = await h.click("enroll", {"upn": DAVE.upn, "seed": ENTRA, "code": ENTRA_NOW, "serial": "TK-0042",
                                          "model": "Token2 C302-i", "period": "30", "digits": "6",
                                          "algorithm": "SHA1", "replace": "false"})
    assert shown(body) == [
        "The account of Dave User (dave@contoso.example) is disabled in Entra, so no token is enrolled for it."]
    assert DAVE.object_id not in h.store.seeds
    assert sent == [] and h.notifier.to_users == [] and h.notifier.to_conversations == []
    assert trail(h) == []


async def test_a_disabled_manager_cannot_approve(clock, tmp_path):
    h = await lifecycle_harness(clock, tmp_path, Seed(ALICE.object_id, ALICE.upn, RFC_SEED),
                                env={"OTPBOT_PROOFS_STANDARD": "callback,manager_approval"})
    try:
        h.directory.people[MIA.upn] = replace(MIA, enabled=False)
        assert texts(await h.say("code alice@contoso.example", user=LEE)) == [
            "Alice User needs manager approval, but has no manager of record who could approve. No code can be "
            "released."]
        assert [(r.event, r.details) for r in h.audit.entries] == [  # refused before anything is counted
            ("verification.refused", {"reason": "no_manager_of_record"})]
        assert h.notifier.to_users == [] and h.notifier.to_conversations == []  # no approval request to anyone
        assert h.coordination.counters == {}
        assert h.store.reads == 0
    finally:
        await h.close()


def test_the_local_directory_reads_the_optional_enabled_column(tmp_path):
    path = tmp_path / "directory.csv"
    path.write_text("upn,object_id,display_name,phone,manager_upn,enabled\n"
                    "a@contoso.example,00000000-0000-4000-8000-0000000000f1,A,+1 425 555 0101,,false\n"
                    "b@contoso.example,00000000-0000-4000-8000-0000000000f2,B,,,\n"
                    "c@contoso.example,00000000-0000-4000-8000-0000000000f3,C,,,TRUE\n", encoding="utf-8")
    directory = LocalDirectory(path)
    assert [directory._by_upn[u].enabled for u in ("a@contoso.example", "b@contoso.example", "c@contoso.example")] \
        == [False, True, True]
    path.write_text("upn,object_id,display_name,phone,manager_upn\n"
                    "a@contoso.example,00000000-0000-4000-8000-0000000000f1,A,,\n", encoding="utf-8")
    assert LocalDirectory(path)._by_upn["a@contoso.example"] == Person(
        "a@contoso.example", "00000000-0000-4000-8000-0000000000f1", "A")
    path.write_text("upn,object_id,display_name,phone,manager_upn,enabled\n"
                    "a@contoso.example,00000000-0000-4000-8000-0000000000f1,A,,,no\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 2: enabled must be true or false, not 'no'$"):
        LocalDirectory(path)
