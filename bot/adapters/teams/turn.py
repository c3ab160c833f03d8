"""One inbound turn: the activity, its replies and its invoke response, without botbuilder's turn pipeline.

The bot uses three things of a botbuilder TurnContext: `activity`, `send_activity` and the invoke response
it leaves behind. The CloudAdapter around them builds a TurnContext, turn state, a conversation reference and
a middleware chain per turn, and deep-copies every reply before addressing it (~12 % of a release turn's
CPU, docs/performance.md). This does only what the bot uses, with the CloudAdapter's semantics: replies are
addressed as `TurnContext.apply_conversation_reference` addresses them and sent as the reused connector
clients would send them (connector_wire.DirectReplies); an exception is logged by type and never shown to the
user; an invoke that set no response answers 501.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Awaitable, Callable

from botbuilder.core import InvokeResponse
from botbuilder.schema import Activity, ActivityTypes, ResourceResponse

log = logging.getLogger("otpbot.teams")


class Turn:
    def __init__(self, activity: Activity, connectors) -> None:
        self.activity = activity
        self.invoke_response: InvokeResponse | None = None
        self._connectors = connectors

    async def send_activity(self, reply: Activity) -> ResourceResponse | None:
        """Sends `reply` (built for this one send: it is addressed in place, not copied)."""
        if reply.type == ActivityTypes.invoke_response:
            self.invoke_response = reply.value
            return None
        self._address(reply)
        replies = await self._connectors.replies(self.activity.service_url)  # an invoke may never need it
        if reply.reply_to_id:
            response = await replies.reply_to_activity(reply.conversation.id, reply.reply_to_id, reply)
        else:
            response = await replies.send_to_conversation(reply.conversation.id, reply)
        return response or ResourceResponse(id="")

    def _address(self, reply: Activity) -> None:
        inbound = self.activity
        reply.type = reply.type or ActivityTypes.message
        reply.input_hint = reply.input_hint or "acceptingInput"
        reply.id = None
        reply.channel_id, reply.locale, reply.service_url = inbound.channel_id, inbound.locale, inbound.service_url
        reply.conversation = inbound.conversation
        reply.from_property, reply.recipient = inbound.recipient, inbound.from_property
        if inbound.id and inbound.type != ActivityTypes.conversation_update:
            reply.reply_to_id = inbound.id


class TurnRunner:
    """Runs `logic` for an authenticated activity; returns the invoke response, or None for other activities."""

    def __init__(self, connectors) -> None:
        self._connectors = connectors  # auth.ReusingConnectorFactory

    async def run(self, activity: Activity, logic: Callable[[Turn], Awaitable[None]]) -> InvokeResponse | None:
        turn = Turn(activity, self._connectors)
        try:
            await logic(turn)
        except Exception as error:  # noqa: BLE001 - a failed turn is logged; the user never sees its details
            log.error("turn failed: %s", type(error).__name__)  # no exc_info: see handlers._reply_for
        if activity.type == ActivityTypes.invoke:
            return turn.invoke_response or InvokeResponse(status=HTTPStatus.NOT_IMPLEMENTED)
        return None
