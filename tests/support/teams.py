"""Builders for Teams-shaped activities and a loopback Bot Connector that records what the bot sends."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.test_utils import TestServer

TENANT = "00000000-0000-4000-8000-0000000000aa"
BOT_ID = "28:otp-bot"
CODES_CHANNEL = "19:helpdesk-codes@thread.tacv2"
CHANNEL_THREAD = f"{CODES_CHANNEL};messageid=1700000000001"
PERSONAL = "a:personal-chat-ada"
_ids = itertools.count(1)


@dataclass(frozen=True)
class User:
    oid: str
    name: str


ADA = User("00000000-0000-4000-8000-0000000000a1", "Ada Agent")
BEN = User("00000000-0000-4000-8000-0000000000a2", "Ben Agent")
LEE = User("00000000-0000-4000-8000-0000000000b1", "Lee Lead")
MIA = User("00000000-0000-4000-8000-0000000000d1", "Mia Manager")
MALLORY = User("00000000-0000-4000-8000-0000000000e1", "Mallory Outsider")


def message(text: str, user: User = ADA, conversation: str = CHANNEL_THREAD, service_url: str = "",
            mention: bool = True, timezone: str | None = None, tenant: str = TENANT, **extra) -> dict:
    at = "<at>OTP Bot</at>"
    activity = _base("message", user, conversation, service_url, tenant, timezone)
    activity["text"] = f"{at} {text}" if mention else text
    if mention:
        activity["entities"] = [{"type": "mention", "text": at, "mentioned": {"id": BOT_ID, "name": "OTP Bot"}}]
    activity.update(extra)
    return activity


def card_action(verb: str, data: dict, user: User = ADA, conversation: str = CHANNEL_THREAD,
                service_url: str = "", timezone: str | None = None) -> dict:
    activity = _base("invoke", user, conversation, service_url, TENANT, timezone)
    activity["name"] = "adaptiveCard/action"
    activity["value"] = {"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"}
    return activity


def _base(kind: str, user: User, conversation: str, service_url: str, tenant: str, timezone: str | None) -> dict:
    activity = {
        "type": kind, "id": f"act-{next(_ids)}", "timestamp": "2026-11-28T09:00:00Z", "serviceUrl": service_url,
        "channelId": "msteams", "from": {"id": f"29:{user.oid}", "name": user.name, "aadObjectId": user.oid},
        "conversation": {"id": conversation, "tenantId": tenant,
                         "conversationType": "personal" if conversation == PERSONAL else "channel"},
        "recipient": {"id": BOT_ID, "name": "OTP Bot"}, "channelData": {"tenant": {"id": tenant}},
    }
    if conversation.startswith("19:"):
        channel = conversation.split(";")[0]
        activity["channelData"].update({"channel": {"id": channel}, "team": {"id": "19:helpdesk-general@thread.tacv2"}})
    if timezone:
        activity["localTimezone"] = timezone
    return activity


@dataclass
class LoopbackConnector:
    """Stands in for the Bot Connector service: records every activity the bot sends."""

    sent: list[dict] = field(default_factory=list)
    server: TestServer | None = None

    @property
    def url(self) -> str:
        return str(self.server.make_url("/")).rstrip("/")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v3/conversations/{cid}/activities", self._receive)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._receive)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.json()
        body["_conversation"] = request.match_info["cid"]
        self.sent.append(body)
        return web.json_response({"id": f"sent-{len(self.sent)}"})

    def take(self) -> list[dict]:
        sent, self.sent = self.sent, []
        return sent
