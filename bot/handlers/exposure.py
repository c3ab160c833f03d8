"""A seed in a chat message or in a card's free-text field: refused before any handler reads it.

Nothing of the text is stored (state, audit details, logs) or echoed: the audit record says only where it was.
Agents' exposures go to the alerts channel (coalesced per sender: one post per 10 minutes, with a count); a
non-agent's message is audited only, so an outsider cannot flood the security channel.
"""

from __future__ import annotations

from ..core import audit_events as events
from ..core.errors import NotAllowed
from ..core.policy import AGENT
from ..core.views import ActionOutcome, Text
from .context import Action, Services, Turn
from .notify import alert

SEED_IN_CHAT = (
    "That message looks like it contains a token seed. I did not store it or repeat it, but it is now in this "
    "conversation's history, so consider it exposed: delete the message, and set the token up again with a new "
    "secret key (remove the authenticator app on the user's setup page and add it again). Never type a seed in "
    "chat: use `enroll <upn>` and enter it in the card.")
SEED_IN_FIELD = (
    "The {field} field looks like it holds a secret key, so nothing was saved or done. Consider that key exposed "
    "and set the token up again with a new one; a secret key goes only into the enroll card's hidden key field.")


async def seed_in_message(s: Services, turn: Turn, upn: str | None) -> list:
    await _flag(s, turn.agent, upn or "", {"where": turn.place.conversation_type},
                f"a {turn.place.conversation_type} conversation message")
    return [Text(SEED_IN_CHAT)]


async def seed_in_card(s: Services, action: Action, fields: list[str]) -> ActionOutcome:
    upn = str(action.data.get("upn", ""))[:120] if "upn" not in fields else ""
    await _flag(s, action.agent, upn if "@" in upn else "", {"where": "card", "verb": action.verb[:40],
                                                              "fields": ",".join(f[:40] for f in fields[:5])},
                f"the {fields[0][:40]} field of a card")
    return ActionOutcome(Text(SEED_IN_FIELD.format(field=fields[0][:40])))


async def _flag(s: Services, agent, upn: str, details: dict, where: str) -> None:
    is_agent = await _is_agent(s, agent)
    await s.audit.append(events.SEED_EXPOSED, agent.object_id, upn, {**details, "sender": "agent" if is_agent
                                                                      else "not_an_agent"})
    if is_agent:
        who = agent.display_name or agent.object_id
        await alert(s, f"{who} posted what looks like a token seed in {where}"
                       f"{' for ' + upn if upn else ''}. Treat it as exposed; it was not stored.",
                    kind=events.SEED_EXPOSED, target=agent.object_id)


async def _is_agent(s: Services, agent) -> bool:
    try:
        await s.authorizer.require(agent, AGENT)
    except NotAllowed:
        return False
    return True
