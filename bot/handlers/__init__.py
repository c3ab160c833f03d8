"""Routing tables and the one place where errors become replies."""

from __future__ import annotations

import secrets

from ..core import audit_events as events
from ..core.commands import Cancel, Help, RequestCode, parse
from ..core.errors import AuditWriteError, NotAllowed, UserError
from ..core.views import ActionOutcome, Text
from . import code, help
from .context import Action, Services, Turn

COMMAND_ROUTES = {Help: help.show_help, RequestCode: code.request_code, Cancel: code.cancel_typed}
ACTION_ROUTES = {"verify": code.verify, "reveal": code.reveal, "cancel": code.cancel_action}
AUDIT_DOWN = "The audit trail cannot be written right now, so nothing can be released. Try again in a minute."

__all__ = ["Action", "Services", "Turn", "handle_message", "handle_action"]


async def handle_message(s: Services, turn: Turn) -> list:
    try:
        command = parse(turn.text)
        if not isinstance(command, Help):
            await _require_agent(s, turn.agent, type(command).__name__)
        return await COMMAND_ROUTES[type(command)](s, turn, command)
    except Exception as error:
        return [_reply_for(s, error)]


async def handle_action(s: Services, action: Action) -> ActionOutcome:
    try:
        route = ACTION_ROUTES.get(action.verb)
        if route is None:
            return ActionOutcome(Text("This card action is not recognised. Nothing was released."))
        await _require_agent(s, action.agent, action.verb)
        return await route(s, action)
    except Exception as error:
        return ActionOutcome(_reply_for(s, error))


async def _require_agent(s: Services, agent, what: str) -> None:
    try:
        s.access.require_agent(agent)
    except NotAllowed:
        await s.audit.append(events.ACCESS_DENIED, agent.object_id, "", {"command": what})
        raise


def _reply_for(s: Services, error: Exception) -> Text:
    if isinstance(error, UserError):
        return Text(error.message)
    if isinstance(error, AuditWriteError):
        s.log.error("audit write failed; nothing released")
        return Text(AUDIT_DOWN)
    ref = secrets.token_hex(4)
    s.log.error("unhandled error ref=%s type=%s", ref, type(error).__name__, exc_info=error)
    return Text(f"Something went wrong (ref {ref}). Nothing was released.")
