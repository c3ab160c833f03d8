"""The shipped default policy (phone_code) as the agent sees it, through create_app and the HTTP edge.

The SMS goes to the real local outbox (<OTPBOT_DATA_DIR>/sms-outbox.jsonl), which is where the agent (and these
tests) read the code the caller would read out.
"""

from __future__ import annotations

import logging
import re

import pytest

from tests.support.harness import (ALICE, CARL, RFC_SEED, SHIPPED_POLICY, card_of, card_texts, start_harness,
                                   texts)
from tests.support.teams import BEN, PERSONAL

ADA_OID = "00000000-0000-4000-8000-0000000000a1"
SMS = ("Contoso IT: your helpdesk verification code is {code}. Read it only to the agent who called you. Not you? "
       "Call IT security.")
FIRST_CARD = [
    "Verify the caller for Alice User (alice@contoso.example)",
    "Window: now. This verification expires at 09:10.",
    "Proofs needed: code texted to the mobile of record.",
    "1. Press **Text the code**: I text a one-time code to Alice User's mobile of record (**•••••••• 0958**). "
    "Never use a number the caller gives you.",
]
CODE_CARD = [
    "Verify the caller for Alice User (alice@contoso.example)",
    "Window: now. This verification expires at 09:10.",
    "Proofs needed: code texted to the mobile of record.",
    "1. I texted a code to **•••••••• 0958** at 09:00:10; it is valid until 09:05:10. Ask the caller to read it "
    "to you.",
    "Ticket: INC-1234.",
]
REVEAL = [
    "Texted code read back recorded for Alice User (alice@contoso.example).",
    "Window: now. Press Show code when you are ready to read it out; it is shown only to you and can be shown once.",
]


@pytest.fixture
async def h(clock, tmp_path):
    harness = await start_harness(clock, tmp_path, policy=SHIPPED_POLICY)
    yield harness
    await harness.close()


def shown(body) -> list[str]:
    assert body["statusCode"] == 200
    return card_texts(body["value"])


def actions(card) -> list[tuple]:
    return [(a["title"], a["verb"], a.get("associatedInputs")) for a in card["actions"]]


def inputs(card) -> list[tuple]:
    return [(b["type"], b["id"]) for b in card["body"] if b["type"].startswith("Input.")]


async def start(h, text="code alice@contoso.example", **kw) -> str:
    sent = await h.say(text, **kw)
    return card_of(sent[0])["actions"][0]["data"]["vid"]


async def send(h, vid, ticket="INC-1234", **kw):
    return await h.click("send_code", {"vid": vid, "ticket": ticket, "requester": ADA_OID}, **kw)


async def check(h, vid, code, **kw):
    return await h.click("verify", {"vid": vid, "phoneCode": code, "requester": ADA_OID}, **kw)


def wrong(code: str) -> str:
    return f"{(int(code.replace(' ', '')) + 1) % 1_000_000:06d}"


async def test_the_default_policy_releases_in_four_agent_actions_reading_the_code_from_the_outbox(h):
    # 1. the agent types the command
    sent = await h.say("code alice@contoso.example")
    card = card_of(sent[0])
    assert card_texts(card) == FIRST_CARD
    assert inputs(card) == [("Input.Text", "ticket")]
    assert actions(card) == [("Text the code", "send_code", None), ("Cancel", "cancel", "none")]
    assert h.texts_sent() == []  # nothing is texted before the agent asks for it
    vid = card["actions"][0]["data"]["vid"]
    # 2. ticket, then Text the code
    body, _ = await send(h, vid)
    assert shown(body) == CODE_CARD
    assert inputs(body["value"]) == [("Input.Text", "phoneCode")]
    assert actions(body["value"]) == [("Check code", "verify", None), ("Send again (2 left)", "send_code", "none"),
                                      ("Cancel", "cancel", "none")]
    [text] = h.texts_sent()
    code = h.last_code()
    assert text == {"time": "2026-11-28T09:00:10+00:00", "to": "+447700900958", "text": SMS.format(code=code)}
    # 3. the code the caller reads back
    body, _ = await check(h, vid, code)
    assert shown(body) == REVEAL
    assert actions(body["value"]) == [("Show code", "reveal", "none")]
    # 4. Show code
    body, sent = await h.click("reveal", {"vid": vid, "requester": ADA_OID})
    assert shown(body)[:2] == ["Code for Alice User (alice@contoso.example)", "361 520"]
    assert texts(sent) == ["Ada Agent released a sign-in code for Alice User (alice@contoso.example), window now, "
                           "after: code texted to the mobile of record. The code was shown only to them."]
    assert [(r.event, r.actor, r.target) for r in h.audit.entries] == [
        ("verification.started", ADA_OID, ALICE.upn), ("phone_code.sent", ADA_OID, ALICE.upn),
        ("phone_code.verified", ADA_OID, ALICE.upn), ("verification.passed", ADA_OID, ALICE.upn),
        ("code.released", ADA_OID, ALICE.upn)]
    sent_record = h.audit.entries[1].details
    assert set(sent_record) == {"vid", "to", "message_id", "send"}
    assert (sent_record["to"], sent_record["send"]) == ("•••••••• 0958", "1")
    assert re.fullmatch(r"local-[0-9a-f]{16}", sent_record["message_id"])
    assert h.audit.entries[3].details == {"vid": vid, "ticket": "INC-1234", "proofs": "phone_code"}
    assert h.audit.entries[4].details["proofs"] == "phone_code"


async def test_a_client_that_fills_every_field_and_ticks_every_box_gets_no_code(h):
    everything = {"ticket": "INC-1234", "calledBack": "true", "phoneCode": "123456", "requester": ADA_OID}
    vid = await start(h)
    body, _ = await h.click("verify", {"vid": vid, **everything})  # Verify without a texted code
    assert shown(body)[1] == "Press Text the code first: the caller reads back the code I text them."
    await h.click("send_code", {"vid": vid, **everything})
    code = h.last_code().replace(" ", "")
    guesses = [g for g in ("123456", "000000", "111111", "999999") if g != code][:3]
    for guess in guesses:
        await h.click("verify", {"vid": vid, **everything, "phoneCode": guess})
    for verb in ("reveal", "approve_agent", "refresh"):
        body, sent = await h.click(verb, {"vid": vid, **everything})
        assert "Code for" not in " ".join(shown(body)) and sent == []
    assert "code.released" not in h.audit.events()
    assert h.secrets.reads == 0
    assert h.audit.events().count("phone_code.failed") == 3 and h.audit.events()[-1] != "code.released"


async def test_three_wrong_codes_lock_it_and_a_malformed_one_costs_no_try(h):
    vid = await start(h)
    await send(h, vid)
    code = h.last_code()
    body, _ = await check(h, vid, "12 34")
    assert shown(body)[1] == "Type the 6 digits the caller reads out to you."
    body, _ = await check(h, vid, wrong(code))
    assert shown(body)[1] == "That is not the code I texted. 2 tries left. Nothing was released."
    body, _ = await check(h, vid, wrong(code))
    assert shown(body)[1] == "That is not the code I texted. 1 try left. Nothing was released."
    body, _ = await check(h, vid, wrong(code))
    assert shown(body)[1] == "That code is locked after 3 wrong tries. Press Send again for a new one, or start again."
    body, _ = await check(h, vid, code)  # the right code, too late: it is locked
    assert shown(body)[1] == "That code is locked after 3 wrong tries. Press Send again for a new one, or start again."
    assert [(r.event, r.details.get("reason"), r.details.get("try")) for r in h.audit.entries[2:]] == [
        ("phone_code.failed", "wrong_code", "1"), ("phone_code.failed", "wrong_code", "2"),
        ("phone_code.failed", "wrong_code", "3"), ("phone_code.locked", None, None),
        ("phone_code.failed", "locked", "3")]
    await h.click("send_code", {"vid": vid, "requester": ADA_OID})  # a new code: the ticket was kept
    body, _ = await check(h, vid, h.last_code())
    assert shown(body) == REVEAL


async def test_a_code_is_valid_five_minutes(h):
    vid = await start(h)
    await send(h, vid)
    h.clock.advance(minutes=4, seconds=59)
    body, _ = await check(h, vid, wrong(h.last_code()))
    assert shown(body)[1] == "That is not the code I texted. 2 tries left. Nothing was released."
    h.clock.advance(seconds=1)
    body, _ = await check(h, vid, h.last_code())
    assert shown(body)[1] == "The texted code has expired (codes are valid 5 minutes). Press Send again for a new one."
    assert h.audit.entries[-1].event == "phone_code.failed"
    assert h.audit.entries[-1].details == {"vid": vid, "reason": "expired", "try": "1"}


async def test_send_again_at_most_twice_and_only_the_newest_code_counts(h):
    vid = await start(h)
    await send(h, vid)
    first = h.last_code()
    body, _ = await h.click("send_code", {"vid": vid, "requester": ADA_OID})
    assert ("Send again (1 left)", "send_code", "none") in actions(body["value"])
    body, _ = await h.click("send_code", {"vid": vid, "requester": ADA_OID})
    assert [a[0] for a in actions(body["value"])] == ["Check code", "Cancel"]
    body, _ = await h.click("send_code", {"vid": vid, "requester": ADA_OID})
    assert shown(body)[1] == ("You have used Send again twice; no more texts for this verification. Start again "
                              "with `code <upn>` if needed.")
    assert len(h.texts_sent()) == 3
    assert [r.details["send"] for r in h.audit.entries if r.event == "phone_code.sent"] == ["1", "2", "3"]
    if first != h.last_code():
        body, _ = await check(h, vid, first)
        assert shown(body)[1] == "That is not the code I texted. 2 tries left. Nothing was released."
    body, _ = await check(h, vid, h.last_code())
    assert shown(body) == REVEAL


async def test_the_ticket_is_asked_once_and_kept_after_a_failed_step(h):
    vid = await start(h)
    body, _ = await send(h, vid, ticket="")
    assert shown(body)[1] == "Enter the ticket or case reference (3–40 letters, digits or . _ / # : -)."
    assert h.texts_sent() == []
    await send(h, vid, ticket="INC-77")
    body, _ = await check(h, vid, wrong(h.last_code()))
    assert "Ticket: INC-77." in shown(body) and ("Input.Text", "ticket") not in inputs(body["value"])
    body, _ = await h.click("verify", {"vid": vid, "phoneCode": h.last_code(), "ticket": "OTHER-1"})
    assert shown(body) == REVEAL
    assert h.audit.entries[-1].details["ticket"] == "INC-77"


async def test_the_code_is_never_in_a_log_line_an_audit_record_a_card_or_the_state(h, caplog):
    caplog.set_level(logging.DEBUG)
    vid = await start(h)
    body1, _ = await send(h, vid)
    code = h.last_code()
    digits = code.replace(" ", "")
    body2, _ = await check(h, vid, wrong(code))
    body3, _ = await check(h, vid, code)
    body4, _ = await h.click("reveal", {"vid": vid})
    assert shown(body4)[1] == "361 520"  # released for real
    everything = "\n".join(f"{r.getMessage()} {r.args} {r.exc_text}" for r in caplog.records)
    everything += "".join(str(r) for r in h.audit.entries) + str(h.state.items) + str([body1, body2, body3])
    assert caplog.records
    for secret in (digits, code, RFC_SEED):
        assert secret not in everything


async def test_no_mobile_of_record_falls_back_to_callback_and_a_second_agent(h):
    sent = await h.say("code carl@contoso.example")
    card = card_of(sent[0])
    assert card_texts(card)[2:] == [
        "Proofs needed: callback to the number of record, second agent approval.",
        "Another agent must press **Approve as second agent**.",
        "1. Hang up and call Carl Landline back on the number of record: **•••••••• 0959**. Never use a number "
        "the caller gives you."]
    vid = card["actions"][0]["data"]["vid"]
    body, _ = await h.click("verify", {"vid": vid, "ticket": "INC-5", "calledBack": "true"})
    assert shown(body)[:2] == ["Callback recorded for Carl Landline (carl@contoso.example).",
                               "Still waiting for: second agent approval. Press Show code once it is given."]
    body, _ = await h.click("reveal", {"vid": vid})
    assert shown(body) == ["Still waiting for: second agent approval."]
    body, sent = await h.click("approve_agent", {"vid": vid, "requester": ADA_OID}, user=BEN)
    assert shown(body) == ["You approved the request for Carl Landline as the second agent."]
    body, _ = await h.click("reveal", {"vid": vid})
    assert shown(body)[1] == "361 520"
    assert h.texts_sent() == []
    assert h.audit.entries[0].details["proofs"] == "callback,second_agent_approval"
    assert h.audit.entries[-1].details["approvers"] == f"second_agent_approval={BEN.oid}"


async def test_a_country_not_on_the_allow_list_is_never_texted(clock, tmp_path):
    h = await start_harness(clock, tmp_path, policy=SHIPPED_POLICY, env={"OTPBOT_SMS_COUNTRIES": "GB"})
    try:
        vid = await start(h, "code bob@contoso.example")  # +1 425 …
        body, _ = await send(h, vid)
        assert shown(body)[1] == ("Bob User's mobile of record is in a country codes are not texted to "
                                  "(OTPBOT_SMS_COUNTRIES). Nothing was sent; ask a lead.")
        assert h.texts_sent() == []
        assert (h.audit.entries[-1].event, h.audit.entries[-1].details) == (
            "phone_code.send_failed", {"vid": vid, "reason": "country_not_allowed"})
    finally:
        await h.close()


async def test_per_target_and_per_agent_sms_limits(clock, tmp_path):
    h = await start_harness(clock, tmp_path, policy=SHIPPED_POLICY,
                            env={"OTPBOT_SMS_LIMIT_PER_TARGET": "2/24h", "OTPBOT_SMS_LIMIT_PER_AGENT": "3/1h",
                                 "OTPBOT_LIMIT_PER_TARGET": "10/24h"})
    try:
        vid = await start(h)
        await send(h, vid)
        await h.click("send_code", {"vid": vid})
        body, _ = await h.click("send_code", {"vid": vid})
        assert shown(body)[1] == ("This user has been sent 2 texts per 24 hours; no more codes are texted to them "
                                  "for now. Ask a lead to review it.")
        assert len(h.texts_sent()) == 2
        assert (h.audit.entries[-1].event, h.audit.entries[-1].details) == ("rate.limited", {"scope": "sms_target"})
        vid = await start(h, "code bob@contoso.example")
        body, _ = await send(h, vid)  # Ada's 4th text this hour (the refused one counted too)
        assert shown(body)[1] == "You have sent 3 texts per hour; wait before texting more codes, or ask a lead."
        assert len(h.texts_sent()) == 2
    finally:
        await h.close()


async def test_a_target_disabled_after_the_dialog_started_gets_no_text_and_no_code(h):
    from dataclasses import replace

    vid = await start(h)
    h.directory.people[ALICE.upn] = replace(ALICE, enabled=False)
    body, _ = await send(h, vid)
    assert shown(body)[1] == ("The account of Alice User is disabled in Entra now, so no code is texted. Nothing "
                              "was released.")
    h.directory.people[ALICE.upn] = ALICE
    await send(h, vid)
    await check(h, vid, h.last_code())
    h.directory.people[ALICE.upn] = replace(ALICE, enabled=False)
    body, _ = await h.click("reveal", {"vid": vid})
    assert shown(body) == ["The account of Alice User is now disabled in Entra, so no code can be released."]
    assert (h.audit.entries[-1].event, h.audit.entries[-1].details) == (
        "code.refused", {"vid": vid, "reason": "account_disabled"})
    assert h.secrets.reads == 0


async def test_no_token_is_refused_before_any_dialog_and_costs_no_attempt(h):
    del h.secrets.seeds[ALICE.object_id]
    assert texts(await h.say("code alice@contoso.example")) == [
        "No token is enrolled for Alice User, so no code can be released. Enroll one first: "
        "`provision alice@contoso.example`."]
    assert [(r.event, r.details) for r in h.audit.entries] == [("verification.refused", {"reason": "no_token"})]
    assert not [k for k in h.coordination.counters if k.startswith("rate/")]
    assert h.texts_sent() == []


async def test_the_verification_keeps_the_time_zone_it_was_asked_in(h):
    h.clock.at = h.clock.at.replace(hour=13, minute=10)  # 14:10 in Berlin
    vid = await start(h, "code alice@contoso.example at 14:30", timezone="Europe/Berlin")
    await send(h, vid)
    await check(h, vid, h.last_code())
    body, _ = await h.click("reveal", {"vid": vid})  # this invoke carries no localTimezone
    assert shown(body)[1:3] == [
        "770 671", "Valid 14:30:00–14:30:30 (Europe/Berlin). Entra accepts it until 14:31:30 (Europe/Berlin)."]


async def test_in_personal_chat_the_code_dialog_works_too(h):
    vid = await start(h, "code alice@contoso.example", conversation=PERSONAL, mention=False)
    await send(h, vid, conversation=PERSONAL)
    await check(h, vid, h.last_code(), conversation=PERSONAL)
    body, _ = await h.click("reveal", {"vid": vid}, conversation=PERSONAL)
    assert shown(body)[1] == "361 520"




class FailingSms:
    def __init__(self, error):
        self.error, self.sent = error, 0

    async def send(self, to, text):
        self.sent += 1
        raise self.error


async def test_an_unknown_send_outcome_is_never_re_sent_on_its_own(clock, tmp_path):
    from bot.core.errors import SmsOutcomeUnknown

    sms = FailingSms(SmsOutcomeUnknown("HTTP 500"))
    h = await start_harness(clock, tmp_path, policy=SHIPPED_POLICY, sms=sms)
    try:
        vid = await start(h)
        body, _ = await send(h, vid)
        assert shown(body)[1] == ("I could not confirm that the text was sent; it is not sent again on its own. Ask "
                                  "the caller whether a code arrived. If none did, press Send again.")
        assert sms.sent == 1
        assert [a[0] for a in actions(body["value"])] == ["Check code", "Send again (2 left)", "Cancel"]
        assert (h.audit.entries[-1].event, h.audit.entries[-1].details) == (
            "phone_code.send_failed", {"vid": vid, "to": "•••••••• 0958", "reason": "outcome_unknown"})
    finally:
        await h.close()


async def test_a_refused_send_leaves_no_code_to_check(clock, tmp_path):
    from bot.core.errors import SmsNotSent

    sms = FailingSms(SmsNotSent("The SMS service is throttling texts. No code was texted; try Send again in a "
                                "minute.", "throttled"))
    h = await start_harness(clock, tmp_path, policy=SHIPPED_POLICY, sms=sms)
    try:
        vid = await start(h)
        body, _ = await send(h, vid)
        assert shown(body)[1] == "The SMS service is throttling texts. No code was texted; try Send again in a minute."
        assert [a[0] for a in actions(body["value"])] == ["Text the code", "Cancel"]  # nothing was sent: start over
        assert "Ticket: INC-1234." in shown(body)  # the ticket stays
        assert h.audit.entries[-1].details == {"vid": vid, "to": "•••••••• 0958", "reason": "throttled"}
    finally:
        await h.close()
