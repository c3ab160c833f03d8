"""Four eyes on seeds, replayed: the attacks of issue 13 ("an agent can plant a seed they know") fail with the
exact reply and audit records; a lead's own approval (or the lead) lets the seed in, both identities audited."""

import pytest

from bot.core.models import Seed, TokenStatus, TotpParams
from bot.core.totp import code_at
from bot.core.views import EnrollApprovalCard
from tests.handlers.test_enroll import ENTRA, form, shown
from tests.support.harness import ALICE, BEN_PERSON
from tests.support.lifecycle_fakes import DAVE, lifecycle_harness
from tests.support.teams import ADA, BEN, LEE

ALERTS = "19:security-alerts@thread.tacv2"
PLANTED = "JBSWY3DPEHPK3PXP"  # the seed the agent knows
HISTORY = ("A seed for Alice User needs a lead (the user has token history), so nothing was saved. A lead can enroll "
           "it, or approve your request on the card I posted to the alerts channel; then save again.")
DETAILS = {"serial": "TK-0042", "model": "Token2 C302-i", "period": "30", "digits": "6", "algorithm": "SHA1"}


@pytest.fixture
async def h(clock, tmp_path):
    harness = await lifecycle_harness(clock, tmp_path, Seed(ALICE.object_id, ALICE.upn, ENTRA,
                                                            status=TokenStatus.SHIPPED),
                                      env={"OTPBOT_ALERTS_CHANNEL_ID": ALERTS})
    yield harness
    await harness.close()


def trail(h, start=0):
    return [(r.event, r.actor, r.target, r.details) for r in h.audit.entries[start:]]


def posted(h):
    return [m for c, m in h.notifier.to_conversations if c == ALERTS]


async def test_revoke_then_plant_a_seed_is_refused_without_a_lead(h):
    await h.say("revoke alice@contoso.example oops", user=ADA)
    body, _ = await h.click("enroll", form("2sk2 tsmk jp7k dbck", upn=ALICE.upn), user=BEN)
    assert shown(body)[1] == HISTORY
    assert h.store.seeds[ALICE.object_id].status is TokenStatus.REVOKED  # the revoked seed, not a new one
    assert trail(h, 1) == [("token.enroll_refused", BEN.oid, ALICE.upn,
                            {**DETAILS, "reason": "needs_lead", "four_eyes": "history"})]
    assert posted(h) == [EnrollApprovalCard("Alice User", ALICE.upn, BEN.oid, "Ben Agent",
                                            "the user has token history")]


async def test_a_leads_own_approval_lets_the_agent_store_it_once_and_both_are_audited(h):
    await h.say("revoke alice@contoso.example lost", user=ADA)
    approve = {"upn": ALICE.upn, "requester": BEN.oid}
    body, _ = await h.click("approve_enroll", approve, user=BEN)  # the requester cannot approve
    assert shown(body) == ["Only helpdesk leads can approve storing a seed."]
    body, _ = await h.click("approve_enroll", approve, user=LEE)
    assert shown(body) == ["You approved storing a seed for Alice User (alice@contoso.example). The requesting agent "
                           "can save it within 30 minutes, once."]
    body, _ = await h.click("enroll", form("2sk2 tsmk jp7k dbck", upn=ALICE.upn), user=BEN)
    assert shown(body)[0].startswith("Saved the token for Alice User (alice@contoso.example)")
    assert trail(h, 1) == [
        ("access.denied", BEN.oid, ALICE.upn, {"command": "approve_enroll"}),
        ("approval.granted", LEE.oid, ALICE.upn, {"proof": "lead_enroll", "requester": BEN.oid}),
        ("token.enrolled", BEN.oid, ALICE.upn, {**DETAILS, "replaced": "false", "previous": "revoked",
                                               "four_eyes": "history", "approved_by": LEE.oid})]
    assert [m.text for m in posted(h)] == [
        f"Ben Agent stored a seed for alice@contoso.example (the user has token history), approved by lead {LEE.oid}."]
    await h.say("revoke alice@contoso.example again", user=ADA)
    body, _ = await h.click("enroll", form("2sk2 tsmk jp7k dbck", upn=ALICE.upn), user=BEN)  # used up
    assert shown(body)[1] == HISTORY


async def test_an_approval_expires_after_30_minutes(h):
    await h.say("revoke alice@contoso.example lost", user=ADA)
    await h.click("approve_enroll", {"upn": ALICE.upn, "requester": BEN.oid}, user=LEE)
    h.clock.advance(minutes=30)
    code = code_at(ENTRA, TotpParams(), h.clock.now())
    body, _ = await h.click("enroll", form("2sk2 tsmk jp7k dbck", code=code, upn=ALICE.upn), user=BEN)
    assert shown(body)[1] == HISTORY
    assert h.audit.entries[-1].details["reason"] == "needs_lead"


async def test_nobody_enrolls_a_seed_for_themselves(h):
    body, _ = await h.click("enroll", form("2sk2 tsmk jp7k dbck", upn="ada@contoso.example"), user=ADA)
    assert shown(body)[1] == "Nobody enrolls a seed for their own account, so nothing was saved. Ask another agent."
    assert trail(h) == [("token.enroll_refused", ADA.oid, "ada@contoso.example", {**DETAILS, "reason": "self_enroll"})]


async def test_a_seed_for_another_agent_needs_a_lead(h):
    body, _ = await h.click("enroll", form("2sk2 tsmk jp7k dbck", upn=BEN_PERSON.upn), user=ADA)
    assert shown(body)[1] == ("A seed for Ben Agent needs a lead (the user is an agent, a lead or privileged), so "
                              "nothing was saved. A lead can enroll it, or approve your request on the card I posted "
                              "to the alerts channel; then save again.")
    assert BEN_PERSON.object_id not in h.store.seeds


async def test_a_lead_enrolls_for_a_user_with_history_and_the_channel_is_told(h):
    await h.say("revoke alice@contoso.example lost", user=ADA)
    body, _ = await h.click("enroll", form("2sk2 tsmk jp7k dbck", upn=ALICE.upn), user=LEE)
    assert shown(body)[0].startswith("Saved the token for Alice User")
    assert h.audit.entries[-1].details["approved_by"] == LEE.oid
    assert [m.text for m in posted(h)] == [
        "Lee Lead stored a seed for alice@contoso.example (the user has token history), themselves a lead."]


async def test_a_new_user_needs_no_second_person(h):
    body, _ = await h.click("enroll", form("2sk2 tsmk jp7k dbck"), user=ADA)
    assert shown(body)[0].startswith("Saved the token for Dave User")
    assert h.audit.entries[-1].details["approved_by"] == "" and posted(h) == []
    assert DAVE.object_id in h.store.seeds


async def test_an_all_zero_seed_is_refused_with_one_sentence(h):
    body, _ = await h.click("enroll", form("AAAAAAAAAAAAAAAA", code="123456"), user=ADA)
    assert shown(body)[1] == ("That secret key is too weak: its bytes are all the same or repeat a short pattern, so "
                              "nothing was saved. Set the token up with a new key from the setup page.")
    assert h.audit.entries == [] and DAVE.object_id not in h.store.seeds
