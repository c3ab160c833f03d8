"""Issue 3's guard cases: each gives a clear refusal, no release, and the audit and alerts expected."""

import asyncio

import pytest

from bot.adapters.group_roles import GroupRoles
from bot.app import SERVICES
from bot.core.errors import DependencyUnavailable
from bot.core.models import Person, Seed
from bot.core.views import ApprovalRequestCard, CodeCard, Text
from bot.handlers import AUDIT_DOWN, DUPLICATE
from tests.support.harness import ALICE, RFC_SEED, card_of, start_harness, texts
from tests.support.fakes import FakeGroups
from tests.support.graph_mock import graph_mock  # noqa: F401  (fixture)
from tests.support.teams import ADA, BEN, LEE, MIA, PERSONAL, card_action, message

ALERTS = "19:security-alerts@thread.tacv2"
AGENTS, LEADS, VIPS = ("00000000-0000-4000-8000-00000000a9e1", "00000000-0000-4000-8000-00000000a9e2",
                       "00000000-0000-4000-8000-00000000a9e3")
WAITING_FOR_SECOND = "Still waiting for: second agent approval."


@pytest.fixture
async def h(clock, tmp_path):
    harness = await start_harness(clock, tmp_path, env={"OTPBOT_ALERTS_CHANNEL_ID": ALERTS})
    yield harness
    await harness.close()


async def started(h, text="code alice@contoso.example", user=ADA, **kw) -> dict:
    sent = await h.say(text, user=user, **kw)
    return card_of(sent[0])["actions"][0]["data"]


async def verified(h, data, user=ADA, **kw):
    body, _ = await h.click("verify", {**data, "ticket": "INC-7", "calledBack": "true"}, user=user, **kw)
    return body


def shown(body) -> list[str]:
    return [b["text"] for b in body["value"]["body"] if b.get("type") == "TextBlock"]


def hold_secret_reads(h) -> asyncio.Event:
    """Key Vault reads wait until the returned event is set: a release stays in flight meanwhile."""
    gate, original = asyncio.Event(), h.secrets.get_seed

    async def slow_get_seed(object_id):
        await gate.wait()
        return await original(object_id)

    h.secrets.get_seed = slow_get_seed
    return gate


def alerts(h) -> list[str]:
    return [m.text for conversation, m in h.notifier.to_conversations if conversation == ALERTS]


async def test_an_approval_typed_as_a_mention_does_nothing(h):
    ada = await started(h, "code lee@contoso.example")  # Lee is a lead: privileged, needs a second agent
    await verified(h, ada)
    assert texts(await h.say("approved", user=BEN)) == [
        "I don't know the command `approved`. Type `help` for the list."]
    assert texts(await h.say("approve Ada's request for lee@contoso.example", user=BEN)) == [
        "I don't know the command `approve`. Type `help` for the list."]
    body, _ = await h.click("reveal", ada)
    assert shown(body) == [WAITING_FOR_SECOND]
    assert "approval.granted" not in h.audit.events() and h.secrets.reads == 0


async def test_replayed_and_forged_card_values(h):
    ada = await started(h, "code lee@contoso.example")
    await verified(h, ada)
    body, _ = await h.click("approve_agent", {"vid": "forged", "requester": ADA.oid}, user=BEN)
    assert shown(body) == ["This card is out of date: a newer request replaced it. Nothing was released."]
    body, _ = await h.click("approve_agent", {"vid": ada["vid"], "requester": BEN.oid}, user=BEN)
    assert shown(body) == ["You cannot approve your own request; another agent must approve it."]
    await h.click("approve_agent", ada, user=BEN)
    body, _ = await h.click("approve_agent", ada, user=BEN)  # replay
    assert shown(body) == ["That approval was already given."]
    await h.click("reveal", ada)
    body, _ = await h.click("reveal", ada)  # replay
    assert shown(body) == ["This verification was already used. Start again with `code <upn>`."]
    assert h.audit.events().count("code.released") == 1 and h.secrets.reads == 1


async def test_the_requester_cannot_approve_their_own_request(h):
    ada = await started(h, "code lee@contoso.example")
    body, _ = await h.click("approve_agent", ada)
    assert shown(body) == ["You cannot approve your own request; another agent must approve it."]
    assert [(r.event, r.details["reason"]) for r in h.audit.entries if r.event == "approval.refused"] == [
        ("approval.refused", "self_approval")]


@pytest.mark.parametrize("upn, reply", [
    ("ali\u200bce@contoso.example", "That user name contains invisible characters (zero-width or bidi). Type it again by hand."),
    ("\u202ealice@contoso.example", "That user name contains invisible characters (zero-width or bidi). Type it again by hand."),
    ("ａｌｉｃｅ@contoso.example", "That user name contains full-width or compatibility characters. Type it in plain ASCII."),
    ("аlice@contoso.example", "That user name contains non-ASCII letters, which could be look-alikes. Type it in plain ASCII."),
])
async def test_look_alike_user_names_resolve_to_nobody(h, upn, reply):
    assert texts(await h.say(f"code {upn}")) == [reply]
    assert h.audit.events() == [] and h.secrets.reads == 0


async def test_a_hundred_rapid_requests_from_one_agent(h):
    for i in range(20):
        h.directory.people[f"user{i}@contoso.example"] = Person(
            f"user{i}@contoso.example", f"00000000-0000-4000-8000-0000000100{i:02d}", f"User {i}", "+1 555 0100")
        h.secrets.seeds[f"00000000-0000-4000-8000-0000000100{i:02d}"] = Seed(
            f"00000000-0000-4000-8000-0000000100{i:02d}", f"user{i}@contoso.example", RFC_SEED)
    replies = []
    for i in range(100):
        replies += await h.say(f"code user{i % 20}@contoso.example", id=f"rapid-{i}")
    cards = [r for r in replies if r.get("attachments")]
    refusals = [r["text"] for r in replies if not r.get("attachments")]
    assert len(cards) == 10
    assert set(refusals) == {"You have reached your limit of 10 code requests per hour. Wait, or ask a lead."}
    assert len(refusals) == 90
    assert h.audit.events().count("verification.started") == 10
    assert h.audit.events().count("rate.limited") == 90
    # coalesced per kind and agent: one post per 10 minutes, the repeats counted in the next one
    assert alerts(h) == ["Rate limit (agent) hit: Ada Agent asked for a code for user10@contoso.example. "
                         "The request was refused."]
    h.clock.advance(minutes=10)
    await h.say("code user0@contoso.example", id="rapid-after")
    assert alerts(h)[1:] == ["Rate limit (agent) hit: Ada Agent asked for a code for user0@contoso.example. The "
                             "request was refused. (89 more like it in the previous 10 minutes were not posted "
                             "separately.)"]


async def test_repeated_requests_for_one_target_hit_the_target_limit(h):
    for _ in range(3):
        await started(h, user=ADA)
    assert texts(await h.say("code alice@contoso.example", user=BEN)) == [
        "This user has reached the limit of 3 code requests per 24 hours. Ask a lead to review it."]


async def test_two_agents_releasing_for_the_same_target_at_once(h):
    ada = await started(h)
    ben = await started(h, user=BEN)
    await verified(h, ada)
    await verified(h, ben, user=BEN)
    gate = hold_secret_reads(h)
    first = asyncio.create_task(h.click("reveal", ada))
    await asyncio.sleep(0.1)
    body, _ = await h.click("reveal", ben, user=BEN)
    assert shown(body) == ["Another code release for Alice User is in progress. Try again in a moment."]
    gate.set()
    body, _ = await first
    assert shown(body)[1] == "361 520"
    assert h.audit.events().count("code.released") == 1
    body, _ = await h.click("reveal", ben, user=BEN)  # Ben's own verification is still intact
    assert shown(body)[1] == "361 520"


async def test_the_same_activity_delivered_twice_while_the_first_is_running(h):
    ada = await started(h)
    await verified(h, ada)
    gate = hold_secret_reads(h)
    activity = card_action("reveal", ada, service_url=h.connector.url)
    first = asyncio.create_task(h.client.post("/api/messages", json=activity))
    await asyncio.sleep(0.1)
    h.clock.advance(seconds=15)  # Teams re-delivers after ~15 s without an answer
    retry = await h.client.post("/api/messages", json=activity)
    assert (await retry.json())["value"]["body"][0]["text"] == DUPLICATE
    gate.set()
    response = await first
    assert shown(await response.json())[1] == "361 520"
    assert h.audit.events().count("code.released") == 1
    assert h.audit.events().count("activity.duplicate") == 1
    assert texts(h.connector.take()) == [  # one notice, no second
        "Ada Agent released a sign-in code for Alice User (alice@contoso.example), window now, after: callback to "
        "the number of record. The code was shown only to them."]


async def test_audit_sink_down_means_no_dialog_and_no_release(h):
    h.audit.down = True
    assert texts(await h.say("code alice@contoso.example")) == [AUDIT_DOWN]
    assert h.secrets.reads == 0


async def test_graph_down_denies(clock, tmp_path):
    groups = FakeGroups({ADA.oid: {AGENTS}})
    groups.fail = DependencyUnavailable("Microsoft Graph did not answer in time.")
    h = await start_harness(clock, tmp_path, roles=GroupRoles(groups, AGENTS, LEADS, frozenset({VIPS})))
    assert texts(await h.say("code alice@contoso.example")) == [
        "I could not confirm your helpdesk membership (the directory did not answer), so I can't do that now. "
        "Nothing was released."]
    assert h.audit.events() == ["access.denied"] and h.secrets.reads == 0
    await h.close()


async def test_graph_slow_denies_within_the_deadline(clock, tmp_path, graph_mock):
    from bot.adapters.graph import GraphClient, GraphGroupMembership
    from tests.support.graph_mock import StubGraphCredential

    graph_mock.fail("checkMemberGroups", "hang", times=None)
    client = GraphClient(None, StubGraphCredential(), base_url=graph_mock.url, deadline=1.0)
    h = await start_harness(clock, tmp_path, roles=GroupRoles(GraphGroupMembership(client), AGENTS))
    started_at = asyncio.get_running_loop().time()
    assert texts(await h.say("code alice@contoso.example"))[0].startswith("I could not confirm your helpdesk membership")
    assert asyncio.get_running_loop().time() - started_at < 2.0
    await client.close()
    await h.close()


async def test_agent_removed_from_the_group_between_verification_and_release(clock, tmp_path):
    groups = FakeGroups({ADA.oid: {AGENTS}})
    h = await start_harness(clock, tmp_path, roles=GroupRoles(groups, AGENTS, LEADS))
    ada = await started(h)
    await verified(h, ada)
    groups.members[ADA.oid] = set()  # removed in Entra; the 5-minute cache must not hide it at release
    body, sent = await h.click("reveal", ada)
    assert shown(body) == ["You are not on the helpdesk agent list. Ask your Teams admin to add you."]
    assert sent == [] and h.secrets.reads == 0
    assert h.audit.events()[-1] == "access.denied"
    await h.close()


async def test_group_membership_is_cached_for_at_most_five_minutes(clock, tmp_path):
    groups = FakeGroups({ADA.oid: {AGENTS}})
    h = await start_harness(clock, tmp_path, roles=GroupRoles(groups, AGENTS, LEADS))
    await h.say("help")
    await h.say("cancel")
    await h.say("cancel")
    assert groups.calls == 1
    clock.advance(minutes=5)
    await h.say("cancel")
    assert groups.calls == 2
    await h.close()


async def test_a_message_from_a_channel_that_is_not_allowed(h):
    other = "19:random-team@thread.tacv2;messageid=1"
    assert texts(await h.say("code alice@contoso.example", conversation=other)) == [
        "I only take commands in the helpdesk channels and in personal chat with me."]
    assert [(r.event, r.actor) for r in h.audit.entries] == [("access.denied", ADA.oid)]


async def test_a_privileged_target_needs_a_second_agent(h):
    ada = await started(h, "code lee@contoso.example")
    body = await verified(h, ada)
    assert shown(body)[1] == "Still waiting for: second agent approval. Press Show code once it is given."
    body, _ = await h.click("reveal", ada)
    assert shown(body) == [WAITING_FOR_SECOND]
    body, notices = await h.click("approve_agent", ada, user=BEN)
    assert shown(body) == ["You approved the request for Lee Lead as the second agent."]
    assert texts(notices) == ["Ben Agent approved the code request for Lee Lead as second agent."]
    body, notices = await h.click("reveal", ada)
    assert shown(body)[0] == "Code for Lee Lead (lee@contoso.example)"
    released = h.audit.entries[-1]
    assert (released.event, released.details["proofs"], released.details["approvers"]) == (
        "code.released", "callback,second_agent_approval", f"second_agent_approval={BEN.oid}")
    assert texts(notices) == ["Ada Agent released a sign-in code for Lee Lead (lee@contoso.example), window now, "
                              "after: callback to the number of record, second agent approval. The code was shown "
                              "only to them."]


async def test_manager_approval_only_counts_from_the_manager(clock, tmp_path):
    env = {"OTPBOT_PROOFS_STANDARD": "callback,manager_approval", "OTPBOT_ALERTS_CHANNEL_ID": ALERTS}
    h = await start_harness(clock, tmp_path, env=env)
    sent = await h.say("code alice@contoso.example")
    assert texts(sent)[1] == "I asked Mia Manager, Alice User's manager of record, to approve in Teams."
    data = card_of(sent[0])["actions"][0]["data"]
    (manager_oid, request), = h.notifier.to_users
    assert manager_oid == MIA.oid and isinstance(request, ApprovalRequestCard)
    answer = {"vid": request.vid, "requester": request.requester, "conversation": request.conversation_id}
    await verified(h, data)
    body, _ = await h.click("approve_manager", answer, user=BEN, conversation=PERSONAL)
    assert shown(body) == ["Only Alice User's manager of record can answer this request."]
    body, _ = await h.click("reveal", data)
    assert shown(body) == ["Still waiting for: manager approval."]
    body, _ = await h.click("approve_manager", answer, user=MIA, conversation="a:mia-personal")
    assert shown(body) == ["Thank you. You approved the helpdesk's request for Alice User."]
    body, _ = await h.click("reveal", data)
    assert shown(body)[1] == "361 520"
    assert [e for e in h.audit.events() if e.startswith("approval.")] == [
        "approval.requested", "approval.refused", "approval.granted"]
    await h.close()


async def test_manager_denial_cancels_and_alerts(clock, tmp_path):
    env = {"OTPBOT_PROOFS_STANDARD": "callback,manager_approval", "OTPBOT_ALERTS_CHANNEL_ID": ALERTS}
    h = await start_harness(clock, tmp_path, env=env)
    data = card_of((await h.say("code alice@contoso.example"))[0])["actions"][0]["data"]
    request = h.notifier.to_users[0][1]
    answer = {"vid": request.vid, "requester": request.requester, "conversation": request.conversation_id}
    body, _ = await h.click("deny_manager", answer, user=MIA, conversation="a:mia-personal")
    assert shown(body) == ["You denied the request. No code will be released; security has been told."]
    body = await verified(h, data)
    assert shown(body) == ["This verification was cancelled. Start again with `code <upn>`."]
    assert alerts(h) == [f"Manager denied a code request for alice@contoso.example (requested by {ADA.oid})."]
    await h.close()


async def test_every_release_is_posted_to_the_alerts_channel(h):
    ada = await started(h)
    await verified(h, ada)
    await h.click("reveal", ada)
    assert alerts(h) == [f"Code released: Ada Agent ({ADA.oid}) for alice@contoso.example, window now, "
                         "proofs: callback to the number of record."]
    assert all("361" not in text for text in alerts(h))


async def test_direct_delivery_and_an_ambiguous_send_is_never_repeated(clock, tmp_path):
    h = await start_harness(clock, tmp_path, env={"OTPBOT_CODE_DELIVERY": "direct"})
    ada = await started(h)
    await verified(h, ada)
    body, _ = await h.click("reveal", ada)
    assert shown(body) == ["The code for Alice User is in your 1:1 chat with me."]
    (to, card), = h.notifier.to_users
    assert to == ADA.oid and isinstance(card, CodeCard) and card.code == "361 520"
    from bot.handlers.expiry import expire_due

    services = h.client.app[SERVICES]
    assert await expire_due(services) == 0  # still accepted by Entra until 09:01:30
    h.clock.advance(seconds=80)
    assert await expire_due(services) == 1
    (sent, replacement), = h.notifier.updates
    assert (sent.conversation_id, sent.activity_id) == (f"a:1on1-{ADA.oid}", "proactive-1")
    assert replacement.text == "Expired: the code released for Alice User is no longer accepted by Entra."
    assert await expire_due(services) == 0
    h.notifier.fail_users.add(ADA.oid)
    attempts, send = [], h.notifier.to_user

    async def counted_to_user(object_id, message):  # FakeNotifier raises before recording: count every attempt
        attempts.append((object_id, message))
        return await send(object_id, message)

    h.notifier.to_user = counted_to_user
    ada = await started(h)
    await verified(h, ada)
    body, _ = await h.click("reveal", ada)
    assert shown(body) == ["I could not confirm that the code reached your 1:1 chat with me. It will not be sent "
                           "again; if you did not get it, start again with `code alice@contoso.example`."]
    assert [(to, type(card), card.code) for to, card in attempts] == [(ADA.oid, CodeCard, "708 939")]  # 09:01:30
    body, _ = await h.click("reveal", ada)  # pressing Show code again must not re-send the code
    assert shown(body) == ["This verification was already used. Start again with `code <upn>`."]
    assert [to for to, _ in attempts] == [ADA.oid]
    assert len(h.notifier.to_users) == 1
    assert h.audit.events() == ["verification.started", "verification.passed", "code.released",
                                "verification.started", "verification.passed", "code.released",
                                "code.delivery_uncertain"]
    await h.close()


async def test_audit_command_is_for_leads_only(h):
    ada = await started(h)
    await verified(h, ada)
    await h.click("reveal", ada)
    assert texts(await h.say("audit alice@contoso.example")) == ["Only helpdesk leads can do that."]
    denied = h.audit.entries[-1]
    assert (denied.event, denied.actor, denied.target, denied.details) == (
        "access.denied", ADA.oid, "alice@contoso.example", {"command": "ShowAudit"})
    sent = await h.say("audit alice@contoso.example 7d", user=LEE)
    card = card_of(sent[0])
    assert card["body"][0]["text"] == "Audit trail for alice@contoso.example since 2026-11-21 09:00 UTC"
    facts = card["body"][1]["facts"]
    assert [f["title"] for f in facts] == ["2026-11-28 09:00:10 verification.started",
                                           "2026-11-28 09:00:10 verification.passed",
                                           "2026-11-28 09:00:10 code.released",
                                           "2026-11-28 09:00:10 access.denied"]  # Ada's try to read it
    assert facts[3]["value"] == "Ada Agent"
    assert facts[2]["value"].startswith("Ada Agent — vid: ")
    assert "ticket: INC-7, proofs: callback, window: now" in facts[2]["value"]


class RecordingMailer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    async def send(self, to_upn: str, subject: str, body: str) -> None:
        self.sent.append((to_upn, subject, body))


async def test_the_user_is_emailed_about_a_release_when_configured(clock, tmp_path):
    mailer = RecordingMailer()
    h = await start_harness(clock, tmp_path, mailer=mailer)
    ada = await started(h)
    await verified(h, ada)
    await h.click("reveal", ada)
    assert mailer.sent == [(
        "alice@contoso.example", "A sign-in code was released for your account",
        "A helpdesk agent released a sign-in code for your account (alice@contoso.example) at 2026-11-28 09:00 UTC. "
        "If you did not call the helpdesk, report it to IT security at once and do not share any code you are given.")]
    await h.close()


async def test_a_redelivered_code_request_starts_one_verification(h):
    activity = message("code alice@contoso.example", service_url=h.connector.url)
    for _ in range(2):
        assert (await h.client.post("/api/messages", json=activity)).status == 200
    assert len(h.connector.take()) == 1  # one verification card; the re-delivery is answered with silence
    assert h.audit.events() == ["verification.started", "activity.duplicate"]


async def test_read_only_answers_are_given_again_on_redelivery_without_a_claim(h):
    help_message = message("help", service_url=h.connector.url)
    for _ in range(2):
        assert (await h.client.post("/api/messages", json=help_message)).status == 200
    assert [card_of(a)["body"][0]["text"] for a in h.connector.take()] == ["Helpdesk OTP bot"] * 2
    ada = await started(h)
    refresh = card_action("refresh", ada, service_url=h.connector.url)
    bodies = [await (await h.client.post("/api/messages", json=refresh)).json() for _ in range(2)]
    assert [shown(body)[0] for body in bodies] == ["Verify the caller for Alice User (alice@contoso.example)"] * 2
    assert h.audit.events() == ["verification.started"]
    claimed = {key.rpartition("/")[2] for key in h.coordination.claims if key.startswith("activity/")}
    assert len(claimed) == 1 and not claimed & {help_message["id"], refresh["id"]}  # the `code` message's only


async def test_the_target_of_a_request_cannot_give_its_second_approval(h):
    ada = await started(h, "code lee@contoso.example")
    await verified(h, ada)
    body, _ = await h.click("approve_agent", ada, user=LEE)  # Lee is an agent too, and the user asked for
    assert shown(body) == ["You cannot approve a code request for your own account; another agent must approve it."]
    assert [(r.event, r.actor, r.details["reason"]) for r in h.audit.entries if r.event == "approval.refused"] == [
        ("approval.refused", LEE.oid, "target_approval")]
    body, _ = await h.click("reveal", ada)
    assert shown(body) == [WAITING_FOR_SECOND]
    assert "code.released" not in h.audit.events() and h.secrets.reads == 0
