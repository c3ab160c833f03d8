"""Activity -> core turn. Identity comes only from the authenticated activity, never from its text."""

from __future__ import annotations

import html
import re

from botbuilder.schema import Activity

from ...core.models import Agent
from ...core.policy import Place
from ...core.text import escape_markdown
from ...handlers.context import Action, Turn
from .auth import conversation_tenant_of

_TAGS = re.compile(r"<[^>]{0,200}>")
_MAX_TEXT = 2000


class UnknownAgent(Exception):
    """The activity carries no Entra object id (e.g. a guest or an anonymous client)."""


def agent_of(activity: Activity) -> Agent:
    sender = activity.from_property
    oid = (getattr(sender, "aad_object_id", None) or "").strip().lower()
    if not oid:
        raise UnknownAgent()
    tenant = conversation_tenant_of(activity)
    return Agent(object_id=oid, tenant_id=tenant, display_name=escape_markdown(printable(getattr(sender, "name", "") or "", 64)))


def command_text(activity: Activity) -> str:
    """The message text without the bot's own mention, taken from the mention entity, as plain text."""
    text = activity.text or ""
    bot_id = getattr(activity.recipient, "id", None)
    for entity in activity.entities or []:
        props = entity.additional_properties or {}
        mentioned = props.get("mentioned") or {}
        if entity.type == "mention" and mentioned.get("id") == bot_id and props.get("text"):
            text = text.replace(props["text"], " ")
    text = html.unescape(_TAGS.sub(" ", text[:_MAX_TEXT])).replace("\xa0", " ")
    return " ".join(text.split())


def place_of(activity: Activity) -> Place:
    kind = getattr(activity.conversation, "conversation_type", None) or "personal"
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    channel = data.get("channel") if isinstance(data.get("channel"), dict) else {}
    return Place(str(kind), str(channel["id"]) if channel.get("id") else None)


def turn_of(activity: Activity) -> Turn:
    return Turn(agent_of(activity), activity.conversation.id, command_text(activity), activity.local_timezone,
                activity.id or "", place_of(activity))


def action_of(activity: Activity) -> Action:
    value = activity.value if isinstance(activity.value, dict) else {}
    action = value.get("action") if isinstance(value.get("action"), dict) else {}
    data = action.get("data") if isinstance(action.get("data"), dict) else {}
    return Action(agent_of(activity), activity.conversation.id, str(action.get("verb", "")), data,
                  activity.local_timezone, activity.id or "", place_of(activity))


def printable(text: str, limit: int) -> str:
    """For display and logs: no control characters, capped length."""
    return "".join(ch for ch in text if ch.isprintable())[:limit]
