"""Smoke test of the Playground driver against a tiny raw-aiohttp echo bot (no botbuilder, none of our bot code).

Checks that the Playground really plays the mock tenant of .m365agentsplayground.yml, that a message and its
reply make the round trip, and that an Action.Execute click reaches the bot as an adaptiveCard/action invoke
whose response card comes back to the clicker.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import aiohttp
import pytest
from aiohttp import web

try:
    from .playground_driver import ADAPTIVE_CARD, PlaygroundClient, start_playground
except ImportError:  # tests/e2e is not a package
    from playground_driver import ADAPTIVE_CARD, PlaygroundClient, start_playground

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]

TENANT = "00000000-0000-4000-8000-0000000000aa"
ADA_OID, BEN_OID = "00000000-0000-4000-8000-0000000000a1", "00000000-0000-4000-8000-0000000000a2"
BOT_ID = "28:00000000-0000-4000-8000-0000000000bb"
CODES_CHANNEL = "19:helpdesk-codes@thread.tacv2"
TEAM_ID = "19:helpdesk-general@thread.tacv2"


def approve_card(request_id: str) -> dict:
    return {"type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "version": "1.4",
            "body": [{"type": "TextBlock", "text": f"Request {request_id}"},
                     {"type": "Input.Text", "id": "note", "label": "Note"}],
            "actions": [{"type": "Action.Execute", "title": "Approve", "verb": "approve",
                         "data": {"request": request_id}}]}


class EchoBot:
    """POST /api/messages: a message gets "echo: <text>" (and a card for "card"); Action.Execute gets a card."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/messages", self.on_activity)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        await self.runner.cleanup()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/messages"

    async def on_activity(self, request: web.Request) -> web.Response:
        activity = await request.json()
        self.received.append(activity)
        if activity["type"] == "invoke" and activity.get("name") == "adaptiveCard/action":
            action = activity["value"]["action"]
            card = {"type": "AdaptiveCard", "version": "1.4", "body": [{
                "type": "TextBlock",
                "text": f"{action['verb']} {action['data']['request']} by {activity['from']['aadObjectId']}: "
                        f"{action['data'].get('note', '')}"}]}
            return web.json_response({"statusCode": 200, "type": ADAPTIVE_CARD, "value": card})
        if activity["type"] == "message":
            text = activity.get("text") or ""
            reply = {"type": "message", "replyToId": activity["id"], "from": activity["recipient"],
                     "recipient": activity["from"], "conversation": activity["conversation"]}
            if text.endswith("card"):
                reply["attachments"] = [{"contentType": ADAPTIVE_CARD, "content": approve_card("r-1")}]
            else:
                reply["text"] = f"echo: {text}"
            conversation = quote(activity["conversation"]["id"], safe="")
            url = f"{activity['serviceUrl']}/v3/conversations/{conversation}/activities"
            async with aiohttp.ClientSession() as session, session.post(url, json=reply) as r:
                assert r.status in (200, 201), await r.text()
        return web.Response(status=200)


async def test_message_and_card_action_round_trip(tmp_path):
    bot = EchoBot()
    await bot.start()
    pg = await start_playground(port=0, bot_endpoint=bot.endpoint, log_file=tmp_path / "playground.log")
    try:
        async with PlaygroundClient(pg.base_url) as chat:
            # Personal chat, as currentUser (Ada).
            sent = await chat.send_message("hello")
            assert sent.conversation_id == "a:1personal-ada"
            reply = await chat.next_bot_message()
            assert (reply.conversation_id, reply.text, reply.attachments) == ("a:1personal-ada", "echo: hello", [])

            got = bot.received[-1]
            assert got["type"] == "message" and got["text"] == "hello" and got["channelId"] == "msteams"
            assert got["from"] == {"id": "29:ada", "name": "Ada Agent", "aadObjectId": ADA_OID}
            assert got["recipient"] == {"id": BOT_ID, "name": "OTP Bot"}
            assert got["conversation"] == {"id": "a:1personal-ada", "conversationType": "personal",
                                           "tenantId": TENANT}
            assert got["channelData"] == {"tenant": {"id": TENANT}}
            assert urlsplit(got["serviceUrl"]) == urlsplit(f"http://localhost:{pg.port}/_connector")
            exchange = await chat.next_request_to_bot()
            assert (exchange.activity["id"], exchange.status) == (got["id"], 200)
            assert (await chat.next_bot_activity()).activity["text"] == "echo: hello"

            # A channel post mentioning the bot opens a thread; the bot's card lands in that thread.
            sent = await chat.send_message("card", conversation="channel", channel="Codes")
            assert sent.conversation_id == f"{CODES_CHANNEL};messageid={sent.message_id}"
            card_message = await chat.next_bot_message()
            assert card_message.conversation_id == sent.conversation_id
            assert card_message.card == approve_card("r-1")
            got = bot.received[-1]
            assert got["text"] == "<at>OTP Bot</at> card"
            assert got["entities"][0] == {"type": "mention", "text": "<at>OTP Bot</at>",
                                          "mentioned": {"id": BOT_ID, "name": "OTP Bot"}}
            assert got["channelData"]["channel"] == {"id": CODES_CHANNEL}
            assert got["channelData"]["team"] == {"id": TEAM_ID}

            # Ben (not the Playground's current user) clicks Approve with a note typed in.
            result = await chat.invoke_action(card_message, "approve", {"note": "caller verified"}, user="Ben Agent")
            assert (result.status, result.type) == (200, ADAPTIVE_CARD)
            assert result.card["body"][0]["text"] == f"approve r-1 by {BEN_OID}: caller verified"
            invoke = bot.received[-1]
            assert (invoke["type"], invoke["name"]) == ("invoke", "adaptiveCard/action")
            assert invoke["from"] == {"id": "29:ben", "name": "Ben Agent", "aadObjectId": BEN_OID}
            assert invoke["conversation"]["id"] == sent.conversation_id
            assert invoke["replyToId"] == card_message.message_id
            assert invoke["value"] == {"action": {"type": "Action.Execute", "title": "Approve", "verb": "approve",
                                                  "data": {"request": "r-1", "note": "caller verified"}}}
            assert card_message.card == result.card  # the Playground shows the response card in place
    finally:
        code = await pg.stop()
        await bot.stop()
    assert code in (0, -15, 143), pg.log_text()
    assert "Listening on" in pg.log_text()
    assert len(bot.received) == 3, bot.received

