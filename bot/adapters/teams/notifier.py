"""Proactive messages: a 1:1 chat with a user (by Entra object id) or a post to a conversation."""

from __future__ import annotations

import asyncio
import logging

from botbuilder.schema import Activity, ChannelAccount, ConversationParameters

from ...core.errors import DeliveryFailed
from ...core.models import SentMessage
from ...core.views import CodeCard
from .cards import message_of

log = logging.getLogger("otpbot.notifier")
RETRYABLE = {412, 429, 502, 504}  # Teams' advice; only for messages without a code
DEFAULT_SERVICE_URL = "https://smba.trafficmanager.net/teams/"


class TeamsNotifier:
    def __init__(self, connectors, bot_id: str, tenant_id: str, service_url: str = DEFAULT_SERVICE_URL) -> None:
        self._connectors = connectors
        self._bot_id = bot_id
        self._tenant_id = tenant_id
        self.service_url = service_url

    def observe(self, activity: Activity) -> None:
        """Proactive sends go to the service URL Teams last used with us (it is regional)."""
        if activity.service_url:
            self.service_url = activity.service_url
        if activity.recipient and activity.recipient.id:
            self._bot_id = activity.recipient.id

    async def to_user(self, object_id: str, message: object) -> SentMessage:
        connector = await self._connectors.create(self.service_url)
        params = ConversationParameters(
            is_group=False, bot=ChannelAccount(id=self._bot_id), members=[ChannelAccount(id=object_id)],
            tenant_id=self._tenant_id, channel_data={"tenant": {"id": self._tenant_id}})
        try:
            conversation = await connector.conversations.create_conversation(params)
        except Exception as error:
            log.warning("could not open a 1:1 chat: %s", type(error).__name__)
            raise DeliveryFailed("could not open a 1:1 chat") from None
        return await self._send(connector, conversation.id, message)

    async def to_conversation(self, conversation_id: str, message: object) -> SentMessage:
        connector = await self._connectors.create(self.service_url)
        return await self._send(connector, conversation_id, message)

    async def update(self, sent: SentMessage, message: object) -> None:
        connector = await self._connectors.create(self.service_url)
        activity = message_of(message)
        activity.id = sent.activity_id
        try:
            await connector.conversations.update_activity(sent.conversation_id, sent.activity_id, activity)
        except Exception as error:
            log.warning("proactive update failed: %s", type(error).__name__)
            raise DeliveryFailed("update failed") from None

    async def _send(self, connector, conversation_id: str, message: object) -> SentMessage:
        activity = message_of(message)
        attempts = 1 if isinstance(message, CodeCard) else 2
        for attempt in range(attempts):
            try:
                response = await connector.conversations.send_to_conversation(conversation_id, activity)
                return SentMessage(conversation_id, getattr(response, "id", "") or "")
            except Exception as error:
                status = getattr(getattr(error, "response", None), "status_code", None)
                if attempt + 1 < attempts and status in RETRYABLE:
                    await asyncio.sleep(1)
                    continue
                log.warning("proactive send failed: %s status=%s", type(error).__name__, status)
                raise DeliveryFailed("send failed or outcome unknown") from None
        raise DeliveryFailed("send failed")
