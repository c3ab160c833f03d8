"""Routing tables, the fail-closed gate in front of every handler, and errors turned into replies."""

from __future__ import annotations

import secrets

from ..core import audit_events as events
from ..core.commands import (Cancel, Enroll, Help, MarkDelivered, MarkShipped, Provision, RequestCode, Revoke,
                             SeedInChat, ShowAudit, ShowPending, parse)
from ..core.errors import AuditWriteError, NotAllowed, UserError
from ..core.policy import AGENT
from ..core.views import ActionOutcome, Text
from ..core.seed_in_chat import looks_like_seed, seed_fields
from . import approvals, audit, code, enroll, exposure, help, provision, seed_custody, tokens
from .context import Action, Services, Turn, require_role

COMMAND_ROUTES = {Help: help.show_help, RequestCode: code.request_code, Cancel: code.cancel_typed,
                  ShowAudit: audit.show_audit, Provision: provision.start, Enroll: enroll.show_card,
                  MarkShipped: tokens.mark_shipped, MarkDelivered: tokens.mark_delivered, Revoke: tokens.revoke,
                  ShowPending: tokens.show_pending, SeedInChat: tokens.seed_in_chat}
OPEN_COMMANDS = {Help, SeedInChat}  # anyone gets help, and the warning about a seed they just posted
ACTION_ROUTES = {"verify": code.verify, "send_code": code.send_code, "reveal": code.reveal,
                 "cancel": code.cancel_action, "refresh": code.refresh,
                 "approve_agent": approvals.approve_as_second_agent,
                 "approve_manager": approvals.approve_as_manager, "deny_manager": approvals.deny_as_manager,
                 "enroll": enroll.submit, "approve_enroll": seed_custody.approve_enroll, "provision_step": provision.step_done, "provision_abort": provision.abort}
SEED_INPUTS = {"enroll": ("seed",)}  # the one card input meant for a seed (enroll, and provisioning step 3)
OPEN_ACTIONS = {"approve_manager", "deny_manager"}  # checked against the manager of record instead
# Answers that change nothing are not deduplicated: a re-delivery just gets the same answer again, and the
# answer never waits for the durable write a claim costs. (Teams sends `refresh` whenever a card is shown.)
READ_ONLY_COMMANDS = {Help}
READ_ONLY_ACTIONS = {"refresh"}
AUDIT_DOWN = "The audit trail cannot be written right now, so nothing can be released. Try again in a minute."
DUPLICATE = "This request was already received and is handled once. Nothing more was released."
DEDUPE_TTL_S = 15 * 60  # Teams re-delivers within seconds; keep ids well past that

__all__ = ["Action", "Services", "Turn", "handle_message", "handle_action"]


async def handle_message(s: Services, turn: Turn) -> list:
    try:
        if looks_like_seed(turn.text):  # before anything else reads, stores or echoes the text
            if not await _first_delivery(s, turn.conversation_id, turn.activity_id):
                return []
            return await exposure.seed_in_message(s, turn, _upn_in(turn.text))
        command = parse(turn.text)
        if type(command) not in READ_ONLY_COMMANDS and not await _first_delivery(s, turn.conversation_id,
                                                                                 turn.activity_id):
            return []
        if type(command) not in OPEN_COMMANDS:
            await _gate(s, turn.agent, turn.place, type(command).__name__)
        return await COMMAND_ROUTES[type(command)](s, turn, command)
    except Exception as error:
        return [_reply_for(s, error)]


async def handle_action(s: Services, action: Action) -> ActionOutcome:
    try:
        if action.verb not in READ_ONLY_ACTIONS and not await _first_delivery(s, action.conversation_id,
                                                                              action.activity_id):
            return ActionOutcome(Text(DUPLICATE))
        exposed = seed_fields(action.data, skip=SEED_INPUTS.get(action.verb, ()))
        if exposed:  # before any handler reads the card's inputs
            return await exposure.seed_in_card(s, action, exposed)
        route = ACTION_ROUTES.get(action.verb)
        if route is None:
            return ActionOutcome(Text("This card action is not recognised. Nothing was released."))
        if action.verb not in OPEN_ACTIONS:
            await _gate(s, action.agent, action.place, action.verb)
        return await route(s, action)
    except Exception as error:
        return ActionOutcome(_reply_for(s, error))


def _upn_in(text: str) -> str | None:
    """The user a seed-bearing message names (`code bob@… jbsw …`), for the audit record; never the seed."""
    from ..core.upn import normalise_upn

    for word in text.split()[1:2]:
        try:
            return normalise_upn(word)
        except UserError:
            return None
    return None


async def _first_delivery(s: Services, conversation_id: str, activity_id: str) -> bool:
    """Teams re-delivers an activity it thinks timed out; only the first delivery runs."""
    if not activity_id:
        return True
    if await s.coordination.claim(f"activity/{conversation_id}/{activity_id}", "turn", DEDUPE_TTL_S):
        return True
    await s.audit.append(events.DUPLICATE_IGNORED, "otpbot", "", {"activity": activity_id[:64]})
    return False


async def _gate(s: Services, agent, place, what: str) -> None:
    try:
        s.authorizer.require_place(place)
    except NotAllowed:
        await s.audit.append(events.ACCESS_DENIED, agent.object_id, "", {"command": what})
        raise
    await require_role(s, agent, AGENT, what)


def _reply_for(s: Services, error: Exception) -> Text:
    if isinstance(error, UserError):
        return Text(error.message)
    if isinstance(error, AuditWriteError):
        s.log.error("audit write failed; nothing released")
        return Text(AUDIT_DOWN)
    ref = secrets.token_hex(4)
    # The type only, and no exc_info: handlers other than ours (Application Insights exports the message and
    # traceback of exc_info) must never see an exception's text, which can carry request data.
    s.log.error("unhandled error ref=%s type=%s", ref, type(error).__name__)
    return Text(f"Something went wrong (ref {ref}). Nothing was released.")
