"""Conversations as the agent sees them, through the real HTTP edge and turn runner."""

import logging

import pytest

from bot.core.errors import DependencyUnavailable
from bot.handlers import AUDIT_DOWN
from tests.support.harness import ALICE, BOB, RFC_SEED, card_of, card_texts, texts
from tests.support.fakes import unavailable
from tests.support.teams import BEN, MALLORY, PERSONAL

ADA_OID = "00000000-0000-4000-8000-0000000000a1"
VERIFY_TEXTS = [
    "Verify the caller for Alice User (alice@contoso.example)",
    "Window: now. This verification expires at 09:10.",
    "Proofs needed: callback to the number of record.",
    "1. Hang up and call Alice User back on the number of record: **•••••••• 0958**. "
    "Never use a number the caller gives you.",
]
NOTICE = ("Ada Agent released a sign-in code for Alice User (alice@contoso.example), window now, after: callback "
          "to the number of record. The code was shown only to them.")


async def start(harness, text="code alice@contoso.example", **kw) -> str:
    sent = await harness.say(text, **kw)
    assert len(sent) == 1
    return card_of(sent[0])["actions"][0]["data"]["vid"]


async def verify(harness, vid, ticket="INC-1234", called_back="true", **kw):
    return await harness.click("verify", {"vid": vid, "ticket": ticket, "calledBack": called_back,
                                          "requester": ADA_OID}, **kw)


def invoke_texts(body) -> list[str]:
    assert body["statusCode"] == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
    return card_texts(body["value"])


async def test_help_lists_every_command(harness):
    sent = await harness.say("help")
    card = card_of(sent[0])
    assert card["body"][1]["facts"] == [
        {"title": "help", "value": "List the commands."},
        {"title": "code <upn> [now | at HH:MM | in 10m]", "value": "Verify the caller, then get their one-time code."},
        {"title": "cancel", "value": "Abandon your open verification in this conversation."},
        {"title": "audit <upn> [7d | 2026-11-01]",
         "value": "Leads: who released codes for a user, when, with which proofs."},
        {"title": "provision <upn>", "value": "Guided runbook: set up, enroll, burn and ship a token, step by step."},
        {"title": "enroll <upn>",
         "value": "Store a token's seed from a card, checked against a current code. Never type a seed in chat."},
        {"title": "shipped <upn> [carrier] [tracking]", "value": "Record that the token was posted to the user."},
        {"title": "delivered <upn>", "value": "Leads: the user has the token; its seed is deleted from the vault."},
        {"title": "revoke <upn> [reason]", "value": "Stop a token (lost parcel, leaver): no more codes for it."},
        {"title": "pending [overdue | burned | shipped] [page N]",
         "value": "Tokens not delivered yet: counts, then overdue ones first, oldest first, a page at a time."},
    ]


async def test_unknown_command_gets_did_you_mean(harness):
    assert texts(await harness.say("cod alice@contoso.example")) == [
        "I don't know the command `cod`. Did you mean `code`? Type `help` for the list."]


async def test_code_with_verification_in_a_channel(harness):
    sent = await harness.say("code alice@contoso.example")
    card = card_of(sent[0])
    assert card_texts(card) == VERIFY_TEXTS
    assert [(a["title"], a["verb"]) for a in card["actions"]] == [("Verify", "verify"), ("Cancel", "cancel")]
    vid = card["actions"][0]["data"]["vid"]

    body, sent = await verify(harness, vid)
    assert invoke_texts(body) == [
        "Callback recorded for Alice User (alice@contoso.example).",
        "Window: now. Press Show code when you are ready to read it out; it is shown only to you and can be shown once.",
    ]
    assert sent == []

    body, sent = await harness.click("reveal", {"vid": vid})
    assert invoke_texts(body) == [
        "Code for Alice User (alice@contoso.example)", "361 520",
        "Valid 09:00:00–09:00:30 (UTC). Entra accepts it until 09:01:30 (UTC).",
        "Read it to the caller now. It is not stored in this conversation.",
    ]
    assert texts(sent) == [NOTICE]  # the thread gets a notice, never the code
    assert sent[0]["_conversation"] == "19:helpdesk-codes@thread.tacv2;messageid=1700000000001"
    assert harness.audit.events() == ["verification.started", "verification.passed", "code.released"]
    released = harness.audit.entries[-1]
    assert (released.actor, released.target) == (ADA_OID, "alice@contoso.example")
    assert released.details == {
        "vid": vid, "ticket": "INC-1234", "proofs": "callback", "approvers": "", "window": "now", "delivery": "card",
        "step_start": "2026-11-28T09:00:00+00:00", "step_end": "2026-11-28T09:00:30+00:00",
        "accepted_until": "2026-11-28T09:01:30+00:00", "secret_version": "",
    }
    assert harness.secrets.reads == 1


async def test_eight_digit_sixty_second_sha256_token_in_personal_chat(harness):
    vid = await start(harness, "code bob@contoso.example", conversation=PERSONAL, mention=False)
    await harness.click("verify", {"vid": vid, "ticket": "CASE-77", "calledBack": "true"}, conversation=PERSONAL)
    body, _ = await harness.click("reveal", {"vid": vid}, conversation=PERSONAL)
    assert invoke_texts(body)[1:3] == ["3440 1441",
                                       "Valid 09:00:00–09:01:00 (UTC). Entra accepts it until 09:03:00 (UTC)."]


async def test_code_in_ten_minutes(harness):
    vid = await start(harness, "code alice@contoso.example in 10m")
    await verify(harness, vid)
    body, _ = await harness.click("reveal", {"vid": vid})
    assert invoke_texts(body)[1:3] == ["540 088",
                                       "Valid 09:10:00–09:10:30 (UTC). Entra accepts it until 09:11:30 (UTC)."]


async def test_code_at_a_local_time(harness):
    harness.clock.at = harness.clock.at.replace(hour=13, minute=10)  # 14:10 in Berlin
    vid = await start(harness, "code alice@contoso.example at 14:30", timezone="Europe/Berlin")
    await verify(harness, vid, timezone="Europe/Berlin")
    body, _ = await harness.click("reveal", {"vid": vid}, timezone="Europe/Berlin")
    assert invoke_texts(body)[1:3] == [
        "770 671", "Valid 14:30:00–14:30:30 (Europe/Berlin). Entra accepts it until 14:31:30 (Europe/Berlin)."]


async def test_a_window_entra_would_not_honour_is_refused(harness):
    assert texts(await harness.say("code alice@contoso.example in 3h")) == [
        "Codes can be released at most 60 minutes ahead; `in 3h` is further away. "
        "Nearest acceptable alternative: `in 60m`."]
    assert texts(await harness.say("code alice@contoso.example at 08:30")) == [
        "08:30 (UTC) has already passed: Entra would reject that code. Nearest acceptable alternative: `now`."]
    assert harness.audit.events() == []


EXPIRED = "This verification expired after 10 minutes. Start again with `code <upn>`."
REVEAL_TEXTS = [
    "Callback recorded for Alice User (alice@contoso.example).",
    "Window: now. Press Show code when you are ready to read it out; it is shown only to you and can be shown once.",
]


async def test_verification_expires_after_ten_minutes(harness):
    vid = await start(harness)
    harness.clock.advance(minutes=9, seconds=59)  # still open: a submit without a ticket re-shows the form
    body, _ = await verify(harness, vid, ticket="")
    assert invoke_texts(body)[:2] == [
        "Verify the caller for Alice User (alice@contoso.example)",
        "Enter the ticket or case reference (3–40 letters, digits or . _ / # : -)."]
    harness.clock.advance(seconds=1)  # 10:00 after the start
    body, _ = await verify(harness, vid)
    assert invoke_texts(body) == [EXPIRED]
    assert harness.audit.events() == ["verification.started"]
    assert harness.secrets.reads == 0


async def test_verified_but_not_revealed_in_time_expires_too(harness):
    vid = await start(harness)
    await verify(harness, vid)
    harness.clock.advance(minutes=9, seconds=59)  # still open at 9:59
    body, _ = await verify(harness, vid)  # goes through the same open check as Show code, without releasing
    assert invoke_texts(body) == ["This step was already done."]
    body, _ = await harness.click("refresh", {"vid": vid, "requester": ADA_OID})
    assert invoke_texts(body) == REVEAL_TEXTS
    harness.clock.advance(seconds=1)  # expired at 10:00
    body, _ = await harness.click("reveal", {"vid": vid})
    assert invoke_texts(body) == [EXPIRED]
    body, _ = await harness.click("refresh", {"vid": vid, "requester": ADA_OID})
    assert invoke_texts(body) == [EXPIRED]
    assert harness.audit.events() == ["verification.started", "verification.passed"]
    assert harness.secrets.reads == 0


async def test_replaying_card_submits_releases_nothing(harness):
    vid = await start(harness)
    await verify(harness, vid)
    await harness.click("reveal", {"vid": vid})
    body, sent = await harness.click("reveal", {"vid": vid})
    assert invoke_texts(body) == ["This verification was already used. Start again with `code <upn>`."]
    body, _ = await verify(harness, vid)
    assert invoke_texts(body) == ["This verification was already used. Start again with `code <upn>`."]
    assert sent == []
    assert harness.audit.events().count("code.released") == 1
    assert harness.secrets.reads == 1


async def test_reveal_before_verify_is_refused(harness):
    vid = await start(harness)
    body, _ = await harness.click("reveal", {"vid": vid})
    assert invoke_texts(body) == ["Verify the caller first."]
    assert harness.secrets.reads == 0


async def test_changing_the_target_invalidates_the_old_card(harness):
    old = await start(harness)
    await start(harness, "code bob@contoso.example")
    body, _ = await verify(harness, old)
    assert invoke_texts(body) == ["This card is out of date: a newer request replaced it. Nothing was released."]


async def test_forged_vid_releases_nothing(harness):
    vid = await start(harness)
    await verify(harness, vid)
    body, _ = await harness.click("reveal", {"vid": "forged-" + vid[7:]})
    assert invoke_texts(body) == ["This card is out of date: a newer request replaced it. Nothing was released."]
    assert harness.secrets.reads == 0


async def test_two_agents_in_one_channel_never_share_a_dialog(harness):
    ada_vid = await start(harness)
    ben_vid = await start(harness, "code bob@contoso.example", user=BEN)
    body, _ = await harness.click("verify", {"vid": ada_vid, "ticket": "INC-9", "calledBack": "true",
                                             "requester": ADA_OID}, user=BEN)
    assert invoke_texts(body) == ["This verification belongs to another agent; only they can continue it."]
    await verify(harness, ada_vid)
    body, _ = await harness.click("reveal", {"vid": ada_vid, "requester": ADA_OID}, user=BEN)
    assert invoke_texts(body) == ["This verification belongs to another agent; only they can continue it."]
    body, _ = await harness.click("reveal", {"vid": ada_vid}, user=BEN)  # requester stripped: Ben's own dialog
    assert invoke_texts(body) == ["This card is out of date: a newer request replaced it. Nothing was released."]
    await harness.click("verify", {"vid": ben_vid, "ticket": "INC-10", "calledBack": "true"}, user=BEN)
    ada_body, _ = await harness.click("reveal", {"vid": ada_vid})
    ben_body, _ = await harness.click("reveal", {"vid": ben_vid}, user=BEN)
    assert invoke_texts(ada_body)[1] == "361 520"
    assert invoke_texts(ben_body)[1] == "3440 1441"
    assert [(r.event, r.actor) for r in harness.audit.entries if r.event == "code.released"] == [
        ("code.released", ADA_OID), ("code.released", BEN.oid)]


async def test_missing_ticket_or_callback_keeps_the_form_with_the_reason(harness):
    vid = await start(harness)
    body, _ = await verify(harness, vid, ticket="")
    assert invoke_texts(body)[1] == "Enter the ticket or case reference (3–40 letters, digits or . _ / # : -)."
    body, _ = await verify(harness, vid, called_back="false")
    assert invoke_texts(body)[1] == "Confirm that you called the user back on the number of record."
    assert harness.audit.events() == ["verification.started"]


async def test_someone_who_is_not_an_agent_is_refused(harness):
    assert texts(await harness.say("code alice@contoso.example", user=MALLORY)) == [
        "You are not on the helpdesk agent list. Ask your Teams admin to add you."]
    assert [(r.event, r.actor, r.details) for r in harness.audit.entries] == [
        ("access.denied", MALLORY.oid, {"command": "RequestCode"})]


async def test_no_phone_of_record_means_refusal(harness):
    assert texts(await harness.say("code carol@contoso.example")) == [
        "Carol NoPhone has no phone number of record, so you cannot call them back. No code can be released; "
        "ask HR or IT to record a number first."]
    assert [(r.event, r.details) for r in harness.audit.entries] == [
        ("verification.refused", {"reason": "no_phone_of_record"})]


async def test_agents_cannot_release_their_own_code(harness):
    assert texts(await harness.say("code ada@contoso.example")) == [
        "You cannot release a code for your own account. Ask another agent."]


async def test_unknown_user(harness):
    assert texts(await harness.say("code nobody@contoso.example")) == [
        "There is no user `nobody@contoso.example` in the directory. Check the spelling."]


async def test_key_vault_down_releases_nothing_and_the_verification_survives(harness):
    vid = await start(harness)
    await verify(harness, vid)
    harness.secrets.fail = unavailable()
    body, sent = await harness.click("reveal", {"vid": vid})
    assert invoke_texts(body) == ["Key Vault did not answer in time. No code was released; try again in a minute."]
    assert sent == []
    harness.secrets.fail = None
    body, _ = await harness.click("reveal", {"vid": vid})
    assert invoke_texts(body)[1] == "361 520"
    assert harness.audit.events() == ["verification.started", "verification.passed", "code.refused", "code.released"]
    assert harness.audit.entries[2].details == {"vid": vid, "reason": "DependencyUnavailable"}


async def test_audit_sink_down_releases_nothing(harness):
    vid = await start(harness)
    await verify(harness, vid)
    harness.audit.down = True
    body, sent = await harness.click("reveal", {"vid": vid})
    assert invoke_texts(body) == [AUDIT_DOWN]
    assert sent == []


async def test_disabled_seed_is_refused_before_any_dialog(harness):
    from dataclasses import replace
    harness.secrets.seeds[ALICE.object_id] = replace(harness.secrets.seeds[ALICE.object_id], enabled=False)
    assert texts(await harness.say("code alice@contoso.example")) == [
        "The token seed for Alice User is disabled. No code was released."]
    assert [(r.event, r.details) for r in harness.audit.entries] == [
        ("verification.refused", {"reason": "token_unusable"})]
    assert not [k for k in harness.coordination.counters if k.startswith("rate/")]  # a refusal costs no attempt


async def test_seed_disabled_after_the_dialog_started_is_refused_at_show_code(harness):
    from dataclasses import replace
    vid = await start(harness)
    await verify(harness, vid)
    harness.secrets.seeds[ALICE.object_id] = replace(harness.secrets.seeds[ALICE.object_id], enabled=False)
    body, _ = await harness.click("reveal", {"vid": vid})
    assert invoke_texts(body) == ["The token seed for Alice User is disabled. No code was released."]


async def test_cancel(harness):
    vid = await start(harness)
    body, _ = await harness.click("cancel", {"vid": vid})
    assert invoke_texts(body) == ["Cancelled the verification for Alice User. Nothing was released."]
    body, _ = await verify(harness, vid)
    assert invoke_texts(body) == ["This verification was cancelled. Start again with `code <upn>`."]
    assert texts(await harness.say("cancel")) == ["You have no open verification in this conversation."]


async def test_no_seed_or_code_reaches_any_log_line(harness, caplog):
    caplog.set_level(logging.DEBUG)
    vid = await start(harness)
    await verify(harness, vid)
    body, _ = await harness.click("reveal", {"vid": vid})
    assert invoke_texts(body)[:2] == ["Code for Alice User (alice@contoso.example)", "361 520"]  # released for real
    body, _ = await harness.click("reveal", {"vid": vid})
    assert invoke_texts(body) == ["This verification was already used. Start again with `code <upn>`."]
    assert harness.audit.events() == ["verification.started", "verification.passed", "code.released"]
    assert caplog.records  # the turns were logged, so the search below has something to look through
    everything = "\n".join(f"{r.getMessage()} {r.args} {r.exc_text}" for r in caplog.records)
    for secret in (RFC_SEED, "361520", "361 520", "INC-1234"):
        assert secret not in everything
    for record in harness.audit.entries:
        assert "361520" not in str(record) and RFC_SEED not in str(record)


async def test_a_restart_does_not_lose_the_dialog(clock, tmp_path):
    from bot.adapters.sqlite import SqliteStorage
    from tests.support.harness import start_harness

    first = await start_harness(clock, tmp_path, state=SqliteStorage(tmp_path / "state.sqlite"))
    vid = await start(first)
    await verify(first, vid)
    await first.client.close()
    second = await start_harness(clock, tmp_path, state=SqliteStorage(tmp_path / "state.sqlite"),
                                 connector=first.connector)
    body, _ = await second.click("reveal", {"vid": vid})
    assert invoke_texts(body)[1] == "361 520"
    await second.close()


async def test_an_entra_80_bit_seed_releases_a_code(harness):
    from dataclasses import replace

    harness.secrets.seeds[ALICE.object_id] = replace(harness.secrets.seeds[ALICE.object_id], secret="2SK2TSMKJP7KDBCK")
    vid = await start(harness)
    await verify(harness, vid)
    body, _ = await harness.click("reveal", {"vid": vid})
    assert invoke_texts(body)[1] == "138 424"


async def test_a_seed_that_cannot_compute_leaves_no_release_record_and_the_verification_usable(harness):
    from dataclasses import replace

    harness.secrets.seeds[ALICE.object_id] = replace(harness.secrets.seeds[ALICE.object_id], secret="JBSWY3DP")
    vid = await start(harness)
    await verify(harness, vid)
    body, _ = await harness.click("reveal", {"vid": vid})
    assert invoke_texts(body)[0].startswith("Something went wrong (ref ")
    assert "code.released" not in harness.audit.events()
    harness.secrets.seeds[ALICE.object_id] = replace(harness.secrets.seeds[ALICE.object_id], secret=RFC_SEED)
    body, _ = await harness.click("reveal", {"vid": vid})
    assert invoke_texts(body)[1] == "361 520"


async def test_the_card_refreshes_to_the_requesters_current_view_and_says_expired(harness):
    sent = await harness.say("code alice@contoso.example")
    card = card_of(sent[0])
    vid = card["actions"][0]["data"]["vid"]
    assert card["refresh"] == {"userIds": [f"29:{ADA_OID}"], "action": {
        "type": "Action.Execute", "verb": "refresh", "data": {"vid": vid, "requester": ADA_OID}}}
    body, _ = await harness.click("refresh", {"vid": vid, "requester": ADA_OID})
    assert invoke_texts(body)[0] == "Verify the caller for Alice User (alice@contoso.example)"
    await verify(harness, vid)
    body, _ = await harness.click("refresh", {"vid": vid, "requester": ADA_OID})
    assert invoke_texts(body)[0] == "Callback recorded for Alice User (alice@contoso.example)."
    await harness.click("reveal", {"vid": vid})
    body, _ = await harness.click("refresh", {"vid": vid, "requester": ADA_OID})
    assert invoke_texts(body) == ["A code for Alice User was shown to you once; it is not shown again. "
                                  "Entra accepts it until 09:01:30."]
    harness.clock.advance(seconds=80)  # 09:01:30
    body, _ = await harness.click("refresh", {"vid": vid, "requester": ADA_OID})
    assert invoke_texts(body) == ["Expired: the code released for Alice User is no longer accepted by Entra."]
    body, _ = await harness.click("refresh", {"vid": vid, "requester": ADA_OID}, user=BEN)
    assert invoke_texts(body) == ["This verification belongs to another agent; only they can continue it."]
    assert harness.secrets.reads == 1
