"""Approvals: from personal chat via the helpdesk channel, the requester told of every outcome, approvers re-checked
at the moment they approve, and a click that loses a race refused and audited as refused."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from bot.core.views import RevealCard, SecondAgentRequestCard, Text
from bot.runtime.lifecycle_settings import LifecycleSettings
from tests.support.fakes import MemoryState
from tests.support.harness import ALICE, BEN_PERSON, LEE, MIA, SHIPPED_POLICY, card_of, card_texts, start_harness, texts
from tests.support.teams import BEN, CHANNEL_THREAD, LEE as LEE_USER, MIA as MIA_USER, PERSONAL

ADA_OID = "00000000-0000-4000-8000-0000000000a1"
HELPDESK = "19:helpdesk-general@thread.tacv2"
MANAGER_POLICY = {"OTPBOT_PROOFS_STANDARD": "callback,manager_approval"}
TWO_AGENTS = {"OTPBOT_PROOFS_STANDARD": "callback,second_agent_approval"}


def shown(body) -> list[str]:
    return card_texts(body["value"])


async def harness(clock, tmp_path, env, **kw):
    return await start_harness(clock, tmp_path, policy=SHIPPED_POLICY, env=env,
                               lifecycle=LifecycleSettings(helpdesk_conversation_id=HELPDESK), **kw)


async def test_a_privileged_request_in_personal_chat_is_approved_from_the_helpdesk_channel(clock, tmp_path):
    h = await harness(clock, tmp_path, {})
    try:
        sent = await h.say("code lee@contoso.example", conversation=PERSONAL, mention=False)
        assert texts(sent[1:]) == ["A second agent must approve: I posted the request to the helpdesk channel and "
                                   "will tell you here when it is answered."]
        card = card_of(sent[0])
        assert "Another agent must approve: I posted the request to the helpdesk channel." in card_texts(card)
        vid = card["actions"][0]["data"]["vid"]
        [(channel, request)] = h.notifier.to_conversations
        assert channel == HELPDESK and isinstance(request, SecondAgentRequestCard)
        assert (request.vid, request.requester, request.conversation_id) == (vid, ADA_OID, PERSONAL)
        assert h.audit.entries[-1].details == {"vid": vid, "proof": "second_agent_approval", "channel": "helpdesk"}
        # Ada's part first: texted code read back
        await h.click("send_code", {"vid": vid, "ticket": "INC-9"}, conversation=PERSONAL)
        body, _ = await h.click("verify", {"vid": vid, "phoneCode": h.last_code()}, conversation=PERSONAL)
        assert shown(body)[1] == "Still waiting for: second agent approval. Press Show code once it is given."
        # Ben, in the helpdesk channel
        body, sent = await h.click("approve_agent", {"vid": vid, "requester": ADA_OID, "conversation": PERSONAL},
                                   user=BEN, conversation=f"{HELPDESK};messageid=1")
        assert shown(body) == ["You approved the request for Lee Lead as the second agent. The requester has been "
                               "told."]
        told = h.notifier.to_conversations[1:]
        assert [c for c, _ in told] == [PERSONAL, PERSONAL]
        assert told[0][1] == Text("Ben Agent approved the code request for Lee Lead as second agent. Press Show code "
                                  "on your card when you are ready.")
        assert isinstance(told[1][1], RevealCard) and told[1][1].waiting is None  # the requester's card follows
        body, _ = await h.click("reveal", {"vid": vid, "requester": ADA_OID}, conversation=PERSONAL)
        assert shown(body)[1] == "361 520"
        assert h.audit.entries[-1].details["approvers"] == f"second_agent_approval={BEN.oid}"
    finally:
        await h.close()


async def test_without_a_helpdesk_channel_the_personal_chat_request_says_where_to_ask(clock, tmp_path):
    h = await start_harness(clock, tmp_path, policy=SHIPPED_POLICY, lifecycle=LifecycleSettings())
    try:
        sent = await h.say("code lee@contoso.example", conversation=PERSONAL, mention=False)
        assert texts(sent[1:]) == ["No helpdesk channel is configured (OTPBOT_HELPDESK_CONVERSATION_ID), so no second "
                                   "agent can see this request. Ask for the code in the helpdesk channel instead."]
    finally:
        await h.close()


async def test_the_requester_is_told_of_the_managers_approval_and_denial(clock, tmp_path):
    h = await harness(clock, tmp_path, MANAGER_POLICY)
    try:
        vid = card_of((await h.say("code alice@contoso.example"))[0])["actions"][0]["data"]["vid"]
        data = {"vid": vid, "requester": ADA_OID, "conversation": CHANNEL_THREAD}
        await h.click("approve_manager", data, user=MIA_USER, conversation="a:mia-chat")
        assert h.notifier.to_conversations[-1] == (CHANNEL_THREAD, Text(
            "Mia Manager approved the code request for Alice User. Still waiting for: callback to the number of "
            "record."))
        vid = card_of((await h.say("code alice@contoso.example"))[0])["actions"][0]["data"]["vid"]
        await h.click("deny_manager", {**data, "vid": vid}, user=MIA_USER, conversation="a:mia-chat")
        assert h.notifier.to_conversations[-1] == (CHANNEL_THREAD, Text(
            "Mia Manager denied the code request for Alice User. No code will be released; security has been told."))
    finally:
        await h.close()


async def test_a_manager_disabled_after_the_request_cannot_approve(clock, tmp_path):
    h = await harness(clock, tmp_path, MANAGER_POLICY)
    try:
        vid = card_of((await h.say("code alice@contoso.example"))[0])["actions"][0]["data"]["vid"]
        h.directory.people[MIA.upn] = replace(MIA, enabled=False)
        body, _ = await h.click("approve_manager", {"vid": vid, "requester": ADA_OID, "conversation": CHANNEL_THREAD},
                                user=MIA_USER, conversation="a:mia-chat")
        assert shown(body) == ["Your account is not enabled in the directory, so your approval cannot count."]
        assert (h.audit.entries[-1].event, h.audit.entries[-1].details) == (
            "approval.refused", {"reason": "manager_disabled", "vid": vid})
        assert "approval.granted" not in h.audit.events()
    finally:
        await h.close()


async def test_a_second_agent_disabled_in_the_directory_cannot_approve(clock, tmp_path):
    h = await harness(clock, tmp_path, TWO_AGENTS)
    try:
        vid = card_of((await h.say("code alice@contoso.example"))[0])["actions"][0]["data"]["vid"]
        h.directory.people[BEN_PERSON.upn] = replace(BEN_PERSON, enabled=False)
        body, _ = await h.click("approve_agent", {"vid": vid, "requester": ADA_OID}, user=BEN)
        assert shown(body) == ["Your account is not enabled in the directory, so your approval cannot count."]
        assert h.audit.entries[-1].details == {"reason": "approver_disabled", "vid": vid}
    finally:
        await h.close()


class SlowState(MemoryState):
    """Reads take a moment, so two clicks really overlap."""

    async def read(self, keys):
        await asyncio.sleep(0.05)
        return await super().read(keys)


async def test_two_agents_approving_at_once_one_is_granted_the_other_refused_and_audited_so(clock, tmp_path):
    h = await harness(clock, tmp_path, TWO_AGENTS, state=SlowState())
    try:
        h.directory.people[LEE.upn] = LEE
        vid = card_of((await h.say("code alice@contoso.example"))[0])["actions"][0]["data"]["vid"]
        data = {"vid": vid, "requester": ADA_OID}
        (ben, _), (lee, _) = await asyncio.gather(h.click("approve_agent", data, user=BEN),
                                                  h.click("approve_agent", data, user=LEE_USER))
        outcomes = sorted([shown(ben)[0], shown(lee)[0]])
        assert outcomes == ["Another action on this verification is being handled right now. Look at the latest card.",
                            "You approved the request for Alice User as the second agent."]
        assert h.audit.events().count("approval.granted") == 1
        refused = [r for r in h.audit.entries if r.event == "approval.refused"]
        assert [r.details for r in refused] == [{"vid": vid, "reason": "concurrent_action", "verb": "approve_agent"}]
        # a late click, after the approval stands, is refused and audited too
        body, _ = await h.click("approve_agent", data, user=LEE_USER if "You approved" in shown(ben)[0] else BEN)
        assert shown(body) == ["That approval was already given."]
        assert h.audit.entries[-1].details == {"reason": "already_given", "vid": vid}
    finally:
        await h.close()


@pytest.mark.parametrize("verb", ["cancel", "send_code"])
async def test_cancel_and_send_again_need_no_input(clock, tmp_path, verb):
    h = await harness(clock, tmp_path, {})
    try:
        card = card_of((await h.say("code alice@contoso.example"))[0])
        vid = card["actions"][0]["data"]["vid"]
        body, _ = await h.click("send_code", {"vid": vid, "ticket": "INC-1"})
        action = next(a for a in body["value"]["actions"] if a["verb"] == verb)
        assert action["associatedInputs"] == "none"
        assert ALICE.upn in shown(body)[0]
    finally:
        await h.close()
