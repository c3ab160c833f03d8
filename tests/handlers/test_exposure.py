"""The "typed seed slips through" replays of issue 13: the seed is never echoed, never stored in state or
audit, the warning is exact, and the alerts channel hears once per agent per 10 minutes (never for non-agents)."""

import json

import pytest

from bot.core.models import Seed, TokenStatus
from bot.handlers.exposure import SEED_IN_CHAT
from tests.support.harness import ALICE, BOB, CAROL, RFC_SEED, texts
from tests.support.lifecycle_fakes import lifecycle_harness
from tests.support.teams import ADA, MALLORY, PERSONAL

ALERTS = "19:security-alerts@thread.tacv2"


@pytest.fixture
async def h(clock, tmp_path):
    harness = await lifecycle_harness(clock, tmp_path, Seed(ALICE.object_id, ALICE.upn, RFC_SEED),
                                      Seed(BOB.object_id, BOB.upn, RFC_SEED, status=TokenStatus.SHIPPED),
                                      Seed(CAROL.object_id, CAROL.upn, RFC_SEED),
                                      env={"OTPBOT_ALERTS_CHANNEL_ID": ALERTS})
    yield harness
    await harness.close()


def alerts(h):
    return [m.text for c, m in h.notifier.to_conversations if c == ALERTS]


def everything_stored(h) -> str:
    return json.dumps([h.state.items, [(r.event, r.target, dict(r.details)) for r in h.audit.entries]]).upper()


async def test_a_seed_after_a_command_is_refused_and_never_stored(h):
    assert texts(await h.say("code bob@contoso.example jbsw y3dp ehpk 3pxp")) == [SEED_IN_CHAT]
    assert texts(await h.say("revoke carol@contoso.example key jbsw y3dp ehpk 3pxp")) == [SEED_IN_CHAT]
    assert [(r.event, r.actor, r.target, r.details) for r in h.audit.entries] == [
        ("seed.exposed", ADA.oid, BOB.upn, {"where": "channel", "sender": "agent"}),
        ("seed.exposed", ADA.oid, CAROL.upn, {"where": "channel", "sender": "agent"})]
    assert h.store.seeds[CAROL.object_id].status is TokenStatus.BURNED  # not revoked: the command never ran
    assert "JBSW" not in everything_stored(h).replace(" ", "")
    assert alerts(h) == ["Ada Agent posted what looks like a token seed in a channel conversation message for "
                         "bob@contoso.example. Treat it as exposed; it was not stored."]  # one per 10 minutes
    h.clock.advance(minutes=10)
    await h.say("2sk2 tsmk jp7k dbck")
    assert alerts(h)[1:] == ["Ada Agent posted what looks like a token seed in a channel conversation message. Treat "
                             "it as exposed; it was not stored. (1 more like it in the previous 10 minutes were not "
                             "posted separately.)"]


async def test_a_non_agents_seeds_are_audited_only(h):
    for _ in range(15):
        assert texts(await h.say("jbsw y3dp ehpk 3pxp", user=MALLORY, conversation=PERSONAL, mention=False)) == [
            SEED_IN_CHAT]
    assert h.audit.events() == ["seed.exposed"] * 15
    assert h.audit.entries[0].details == {"where": "personal", "sender": "not_an_agent"}
    assert alerts(h) == []


async def test_a_seed_in_the_ticket_field_of_the_verification_card(h):
    body, _ = await h.click("verify", {"vid": "x" * 22, "requester": ADA.oid, "ticket": "jbsw-y3dp-ehpk-3pxp",
                                       "calledBack": "true"})
    assert body["value"]["body"][0]["text"] == (
        "The ticket field looks like it holds a secret key, so nothing was saved or done. Consider that key exposed "
        "and set the token up again with a new one; a secret key goes only into the enroll card's hidden key field.")
    assert [(r.event, r.details) for r in h.audit.entries] == [
        ("seed.exposed", {"where": "card", "verb": "verify", "fields": "ticket", "sender": "agent"})]
    assert "JBSW" not in everything_stored(h).replace("-", "")


async def test_twelve_disabled_account_requests_post_one_alert(h):
    from dataclasses import replace

    h.directory.people[ALICE.upn] = replace(ALICE, enabled=False)
    for _ in range(12):
        await h.say("code alice@contoso.example")
    assert h.audit.events() == ["verification.refused"] * 12
    assert len(alerts(h)) == 1


async def test_markdown_in_a_reason_and_a_display_name_reaches_no_card_as_a_link(h):
    from dataclasses import replace

    h.directory.people[ALICE.upn] = replace(ALICE, display_name="[IT Security](https://evil.example/login)")
    assert texts(await h.say("revoke alice@contoso.example see [IT Security](https://evil.example/login)")) == [
        r"Revoked the token for \[IT Security\]\(https://evil.example/login\) (alice@contoso.example) (see \[IT "
        r"Security\]\(https://evil.example/login\)). Its seed is disabled and no code will be released for it. For "
        "a new token, use `provision alice@contoso.example`."]
    assert h.audit.entries[-1].details["reason"] == "see [IT Security](https://evil.example/login)"  # as typed
