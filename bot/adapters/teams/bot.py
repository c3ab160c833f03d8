"""The bot: turns activities into handler calls and views into activities (run per turn by turn.TurnRunner)."""

from __future__ import annotations

import logging

from botbuilder.core import InvokeResponse, MessageFactory
from botbuilder.schema import Activity, ActivityTypes

from ... import handlers
from ...core.views import Text
from .activity import UnknownAgent, action_of, turn_of
from .cards import invoke_body, message_of, render
from .turn import Turn

log = logging.getLogger("otpbot.teams")
CARD_ACTION = "adaptiveCard/action"
NO_IDENTITY = "I can't tell which Entra account you are, so I can't help. Use your work account in Teams."
WELCOME = "Hi, I'm the helpdesk OTP bot. Type `help` to see what I can do."


class OtpBot:
    def __init__(self, services: handlers.Services, notifier=None) -> None:
        self._services = services
        self._notifier = notifier

    async def on_turn(self, context: Turn) -> None:
        activity = context.activity
        if self._notifier is not None:
            self._notifier.observe(activity)  # authenticated by now: safe to learn the service URL
        if activity.type == ActivityTypes.message:
            await self._on_message(context)
        elif activity.type == ActivityTypes.invoke:
            await self._on_invoke(context)
        elif activity.type == ActivityTypes.conversation_update and _bot_was_added(activity):
            await context.send_activity(MessageFactory.text(WELCOME))

    async def _on_message(self, context: Turn) -> None:
        try:
            turn = turn_of(context.activity)
        except UnknownAgent:
            await context.send_activity(MessageFactory.text(NO_IDENTITY))
            return
        for view in await handlers.handle_message(self._services, turn):
            await context.send_activity(message_of(view, refresh_for=context.activity.from_property.id))

    async def _on_invoke(self, context: Turn) -> None:
        # Answered here, unserialised: the SDK's own invoke path serialises the body twice (500 in 4.17.1).
        if context.activity.name != CARD_ACTION:
            await _invoke_reply(context, InvokeResponse(status=400, body={"error": "unsupported invoke"}))
            return
        try:
            action = action_of(context.activity)
        except UnknownAgent:
            await _invoke_reply(context, InvokeResponse(status=200, body=invoke_body(render(Text(NO_IDENTITY)))))
            return
        outcome = await handlers.handle_action(self._services, action)
        await _invoke_reply(context, InvokeResponse(status=200, body=invoke_body(render(outcome.card))))
        for notice in outcome.notices:  # a code only with delivery `conversation`; sent once, never retried
            await context.send_activity(MessageFactory.text(notice))


async def _invoke_reply(context: Turn, response: InvokeResponse) -> None:
    await context.send_activity(Activity(type=ActivityTypes.invoke_response, value=response))


def _bot_was_added(activity: Activity) -> bool:
    bot_id = getattr(activity.recipient, "id", None)
    return any(member.id == bot_id for member in activity.members_added or [])
