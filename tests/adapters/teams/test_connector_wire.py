"""A turn's replies (connector_wire.DirectReplies) are the very requests msrest's generated connector operations
send: method, URL, headers and body byte for byte, against a recording Bot Connector."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from botbuilder.core import CardFactory, MessageFactory
from botbuilder.schema import ChannelAccount, ConversationAccount
from botframework.connector.auth import MicrosoftAppCredentials

from bot.adapters.teams.auth import ReusingConnectorFactory
from bot.adapters.teams.connector_wire import ReplyFailed

CONVERSATION = "19:helpdesk-codes@thread.tacv2;messageid=1700000000001"
NOT_COMPARED = {"Host", "Content-Length"}


class Recorder:
    def __init__(self) -> None:
        self.requests: list[tuple] = []
        self.status = 200
        self.statuses: list[int] = []  # answered first, one per request

    async def handle(self, request: web.Request) -> web.Response:
        headers = {k: v for k, v in request.headers.items() if k not in NOT_COMPARED}
        self.requests.append((request.method, request.raw_path, headers, await request.read()))
        status = self.statuses.pop(0) if self.statuses else self.status
        if status != 200:  # the Bot Connector's error shape
            return web.json_response({"error": {"code": "Throttled", "message": "upstream trouble"}}, status=status)
        return web.json_response({"id": f"sent-{len(self.requests)}"})


@pytest.fixture
async def connector():
    recorder = Recorder()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", recorder.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    recorder.url = str(server.make_url("/teams/"))
    yield recorder
    await server.close()


class Bearer(MicrosoftAppCredentials):
    def __init__(self) -> None:
        super().__init__("11111111-2222-4333-8444-555555555555", "unused", "tenant")

    def get_access_token(self, force_refresh: bool = False) -> str:
        return "the-bots-outbound-token"


def reply(service_url: str, conversation: str = CONVERSATION):
    activity = MessageFactory.attachment(CardFactory.adaptive_card({"type": "AdaptiveCard", "version": "1.5",
                                                                    "body": [{"type": "TextBlock", "text": "é ✓"}]}))
    activity.conversation = ConversationAccount(id=conversation)
    activity.from_property, activity.recipient = ChannelAccount(id="28:bot"), ChannelAccount(id="29:ada")
    activity.service_url, activity.channel_id, activity.reply_to_id = service_url, "msteams", "act-1"
    return activity


@pytest.mark.parametrize("credentials", [Bearer(), MicrosoftAppCredentials.empty()], ids=["bearer", "local"])
async def test_replies_are_the_requests_msrest_sends(connector, credentials):
    factory = ReusingConnectorFactory(credentials)
    try:
        client, direct = await factory.create(connector.url), await factory.replies(connector.url)
        expected_ids = []
        for send in (client.conversations, direct):
            first = await send.reply_to_activity(CONVERSATION, "act-1", reply(connector.url))
            second = await send.send_to_conversation(CONVERSATION, reply(connector.url))
            odd = await send.reply_to_activity("a:1x/y#z?q%", "id/1?", reply(connector.url, "a:1x/y#z?q%"))
            expected_ids.append((first.id, second.id, odd.id))
    finally:
        await factory.close()
    by_msrest, direct_sent = connector.requests[:3], connector.requests[3:]
    assert direct_sent == by_msrest
    assert [path for _, path, _, _ in by_msrest] == [  # both quote the ids; yarl unquotes what a path allows
        f"/teams/v3/conversations/{CONVERSATION}/activities/act-1", f"/teams/v3/conversations/{CONVERSATION}/activities",
        "/teams/v3/conversations/a:1x%2Fy%23z%3Fq%25/activities/id%2F1%3F"]
    assert ("Authorization" in by_msrest[0][2]) is isinstance(credentials, Bearer)
    assert expected_ids == [("sent-1", "sent-2", "sent-3"), ("sent-4", "sent-5", "sent-6")]


@pytest.mark.parametrize("status", [400, 429, 502])
async def test_a_refused_reply_raises_and_is_sent_once(connector, status):
    connector.status = status
    factory = ReusingConnectorFactory(MicrosoftAppCredentials.empty())
    try:
        direct = await factory.replies(connector.url)
        with pytest.raises(ReplyFailed, match=f"^the connector answered HTTP {status}$"):
            await direct.reply_to_activity(CONVERSATION, "act-1", reply(connector.url))
    finally:
        await factory.close()
    assert len(connector.requests) == 1


async def test_an_unreachable_connector_raises_reply_failed():
    factory = ReusingConnectorFactory(MicrosoftAppCredentials.empty())
    try:
        direct = await factory.replies("http://127.0.0.1:9/")
        with pytest.raises(ReplyFailed, match=r"^no answer from the connector \(ClientConnectorError\)$"):
            await direct.send_to_conversation(CONVERSATION, reply("http://127.0.0.1:9/"))
    finally:
        await factory.close()


async def test_concurrent_first_sends_share_one_token_fetch_off_the_loop_and_a_failed_fetch_fails_the_send(connector):
    import threading

    from bot.core.errors import DeliveryFailed

    class SlowBearer(Bearer):
        def __init__(self) -> None:
            super().__init__()
            self.fetches: list[str] = []
            self.fail = False

        def get_access_token(self, force_refresh: bool = False) -> str:
            self.fetches.append(threading.current_thread().name)
            if self.fail:
                raise RuntimeError("login.microsoftonline.com did not answer")
            return "the-bots-outbound-token"

    credentials = SlowBearer()
    factory = ReusingConnectorFactory(credentials)
    try:
        credentials.fail = True
        with pytest.raises(DeliveryFailed, match=r"^the bot's own token could not be fetched \(RuntimeError\)$"):
            await factory.replies(connector.url)
        credentials.fail, credentials.fetches = False, []
        await asyncio.gather(*(factory.replies(connector.url) for _ in range(5)))
        assert len(credentials.fetches) == 1 and credentials.fetches[0] != threading.current_thread().name
    finally:
        await factory.close()


async def test_proactive_sends_keep_msrest_errors_so_only_messages_without_a_code_are_retried(connector):
    from bot.adapters.teams.notifier import TeamsNotifier
    from bot.core.errors import DeliveryFailed
    from bot.core.views import CodeCard, Text

    factory = ReusingConnectorFactory(MicrosoftAppCredentials.empty())
    notifier = TeamsNotifier(factory, "28:bot", "tenant", connector.url)
    try:
        connector.statuses = [429]
        sent = await notifier.to_conversation(CONVERSATION, Text("Overdue token: alice@contoso.example"))
        assert (sent.activity_id, len(connector.requests)) == ("sent-2", 2)  # 429, then sent on the retry
        connector.statuses = [429]
        with pytest.raises(DeliveryFailed):
            await notifier.to_conversation(CONVERSATION, CodeCard("Alice User", "alice@contoso.example", "361 520",
                                                                  "09:00", "09:00:30", "09:01:30", "UTC"))
        assert len(connector.requests) == 3  # a message with a code: sent once, never again
        connector.statuses = [502, 502]
        with pytest.raises(DeliveryFailed):
            await notifier.to_conversation(CONVERSATION, Text("Overdue token"))
        assert len(connector.requests) == 5  # retried once, then given up
    finally:
        await factory.close()
