"""Messages to people other than the invoker: alerts, manager approval requests, user e-mail.

Best effort by design: a release has already been audited when these run, so a failed alert
is itself audited and logged rather than undoing anything. None of them carries a code.
"""

from __future__ import annotations

from datetime import datetime, timezone

from ..core import audit_events as events
from ..core.errors import ConcurrencyConflict, DeliveryFailed, DependencyUnavailable
from ..core.models import Person
from ..core.proofs import MANAGER_APPROVAL, SECOND_AGENT_APPROVAL
from ..core.verification import Verification
from ..core.views import ApprovalRequestCard, SecondAgentRequestCard, Text
from ..core.window import clock_text
from .context import Services, Turn, append_best_effort


ALERT_WINDOW_S = 600  # one post per kind and target in this window; the repeats are counted


async def alert(s: Services, text: str, *, kind: str = "", target: str = "") -> None:
    """Posts to the alerts channel. With a kind, repeats for the same target within 10 minutes are not posted
    but counted, and the next post says how many were held back (15 `code <disabled account>` in a row: 1)."""
    if not s.alerts_conversation:
        return
    if kind:
        held = await _coalesce(s, kind, target)
        if held is None:
            return
        if held:
            text += f" ({held} more like it in the previous 10 minutes were not posted separately.)"
    try:
        await s.notifier.to_conversation(s.alerts_conversation, Text(text))
    except DeliveryFailed:
        s.log.error("alert could not be posted to the alerts channel")
        await append_best_effort(s, events.ALERT_FAILED, "otpbot", "", {"channel": "alerts"})


async def _coalesce(s: Services, kind: str, target: str) -> int | None:
    """None: an alert like this was posted less than 10 minutes ago (this one is counted); else how many were
    held back since the last post. Best effort: if the stores fail, the alert is posted."""
    window, counter = f"alert-window/{kind}/{target}", f"alert-held/{kind}/{target}"
    try:
        if not await s.coordination.claim(window, "alert", ALERT_WINDOW_S):
            await _add_held(s, counter, 1)
            return None
        return await _add_held(s, counter, None)
    except Exception as error:
        s.log.error("alert coalescing failed: %s", type(error).__name__)
        return 0


async def _add_held(s: Services, key: str, add: int | None) -> int:
    """Adds `add` to the held-back count, or (None) resets it; returns the count before."""
    for _ in range(3):
        found = (await s.state.read([key])).get(key) or {}
        before = int(found.get("held", 0))
        try:
            await s.state.write({key: {"held": before + add if add else 0, "e_tag": found.get("e_tag", "*")}})
            return before
        except ConcurrencyConflict:
            continue
    return 0


async def request_manager_approval(s: Services, turn: Turn, record: Verification, manager: Person) -> list:
    card = ApprovalRequestCard(record.vid, turn.agent.object_id, turn.agent.display_name or "A helpdesk agent",
                               turn.conversation_id, record.target_name, record.target_upn,
                               clock_text(record.expires_at(), timezone.utc, seconds=False) + " UTC")
    try:
        await s.notifier.to_user(manager.object_id, card)
    except DeliveryFailed:
        return [Text(f"I could not reach {manager.display_name} in Teams to ask for approval. "
                     "Ask them to open a chat with me, then start again.")]
    await s.audit.append(events.APPROVAL_REQUESTED, turn.agent.object_id, record.target_upn,
                         {"vid": record.vid, "approver": manager.object_id, "proof": MANAGER_APPROVAL})
    return [Text(f"I asked {manager.display_name}, {record.target_name}'s manager of record, to approve in Teams.")]


async def request_second_agent(s: Services, turn: Turn, record: Verification) -> list:
    """A request made in personal chat: no other agent can see that chat, so the approval is asked for in the
    helpdesk channel; the requester's chat is told the outcome (handlers/approvals.py)."""
    channel = s.helpdesk_conversation or s.alerts_conversation
    if not channel:
        return [Text("No helpdesk channel is configured (OTPBOT_HELPDESK_CONVERSATION_ID), so no second agent can "
                     "see this request. Ask for the code in the helpdesk channel instead.")]
    card = SecondAgentRequestCard(record.vid, turn.agent.object_id, turn.agent.display_name or "A helpdesk agent",
                                  turn.conversation_id, record.target_name, record.target_upn, record.ticket or "",
                                  clock_text(record.expires_at(), timezone.utc, seconds=False) + " UTC")
    try:
        await s.notifier.to_conversation(channel, card)
    except DeliveryFailed:
        return [Text("I could not post the approval request to the helpdesk channel. Ask for the code in the "
                     "helpdesk channel instead.")]
    await s.audit.append(events.APPROVAL_REQUESTED, turn.agent.object_id, record.target_upn,
                         {"vid": record.vid, "proof": SECOND_AGENT_APPROVAL, "channel": "helpdesk"})
    return [Text("A second agent must approve: I posted the request to the helpdesk channel and will tell you "
                 "here when it is answered.")]


async def tell_requester(s: Services, record: Verification, message) -> None:
    """Best effort: the requester's conversation hears of an approval or denial given elsewhere."""
    if not record.conversation_id:
        return
    try:
        await s.notifier.to_conversation(record.conversation_id, message)
    except DeliveryFailed:
        s.log.error("the requester could not be told of an approval outcome")
        await append_best_effort(s, events.ALERT_FAILED, "otpbot", record.target_upn, {"channel": "requester"})


async def mail_target(s: Services, record: Verification, now: datetime) -> None:
    if s.mailer is None:
        return
    body = (f"A helpdesk agent released a sign-in code for your account ({record.target_upn}) at "
            f"{now:%Y-%m-%d %H:%M} UTC. If you did not call the helpdesk, report it to IT security at once "
            "and do not share any code you are given.")
    try:
        await s.mailer.send(record.target_upn, "A sign-in code was released for your account", body)
    except DependencyUnavailable:
        s.log.error("release e-mail to the user could not be sent")
        await append_best_effort(s, events.ALERT_FAILED, "otpbot", record.target_upn, {"channel": "mail"})
