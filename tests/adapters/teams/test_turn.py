"""bot/adapters/teams/turn.py against botbuilder: the same addressing, results and error handling as the
CloudAdapter's TurnContext for what the bot sends. (The transcript tests run every conversation through it.)"""

from __future__ import annotations

import copy
import logging

import pytest
from botbuilder.core import CardFactory, InvokeResponse, MessageFactory, TurnContext
from botbuilder.schema import Activity, ResourceResponse

from bot.adapters.teams.turn import TurnRunner
from bot.adapters.teams.wire import ActivitySerializer, activity_from
from tests.support.teams import PERSONAL, card_action, message

SERVICE_URL = "https://smba.trafficmanager.net/emea/"


class RecordingConversations:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    async def reply_to_activity(self, conversation_id, activity_id, activity):
        self.calls.append(("reply_to_activity", conversation_id, activity_id, activity))
        return ResourceResponse(id=f"sent-{len(self.calls)}")

    async def send_to_conversation(self, conversation_id, activity):
        self.calls.append(("send_to_conversation", conversation_id, activity))
        return ResourceResponse(id=f"sent-{len(self.calls)}")


class Factory:
    def __init__(self) -> None:
        self.replies_sent = RecordingConversations()
        self.asked: list[str] = []

    async def replies(self, service_url):
        self.asked.append(service_url)
        return self.replies_sent


def replies() -> list[Activity]:
    return [MessageFactory.text("hello"), MessageFactory.attachment(CardFactory.adaptive_card(
        {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "x"}]}))]


def as_botbuilder_addresses(inbound: Activity, reply: Activity) -> dict:
    """What TurnContext.send_activities hands the adapter for `reply`, serialised."""
    addressed = TurnContext.apply_conversation_reference(copy.deepcopy(reply),
                                                         TurnContext.get_conversation_reference(inbound))
    addressed.type = addressed.type or "message"
    addressed.input_hint = addressed.input_hint or "acceptingInput"
    addressed.id = None
    return serialised(addressed)


def serialised(activity: Activity) -> dict:
    return ActivitySerializer().body(activity, "Activity")


@pytest.mark.parametrize("payload", [
    message("help", service_url=SERVICE_URL),
    message("help", service_url=SERVICE_URL, conversation=PERSONAL, mention=False, locale="de-DE"),
    card_action("verify", {"vid": "v1"}, service_url=SERVICE_URL),
    {**message("", service_url=SERVICE_URL), "type": "conversationUpdate", "text": None},
], ids=["channel message", "personal message with locale", "invoke", "conversationUpdate"])
async def test_replies_are_addressed_and_sent_as_botbuilder_sends_them(payload, caplog):
    connectors = Factory()
    sent = replies()
    expected = [as_botbuilder_addresses(activity_from(payload), r) for r in replies()]
    answers = []

    async def logic(turn):
        for reply in sent:
            answers.append(await turn.send_activity(reply))
    with caplog.at_level(logging.ERROR, logger="otpbot.teams"):
        response = await TurnRunner(connectors).run(activity_from(payload), logic)
    assert (response and response.status) == (501 if payload["type"] == "invoke" else None)
    calls = connectors.replies_sent.calls
    assert [serialised(call[-1]) for call in calls] == expected
    conversation = payload["conversation"]["id"]
    if payload["type"] == "conversationUpdate":
        assert [call[:2] for call in calls] == [("send_to_conversation", conversation)] * 2
    else:
        assert [call[:3] for call in calls] == [("reply_to_activity", conversation, payload["id"])] * 2
    assert [answer.id for answer in answers] == ["sent-1", "sent-2"]
    assert connectors.asked == [SERVICE_URL] * 2
    assert caplog.records == []


async def test_an_invoke_answers_with_the_response_the_bot_set_and_sends_nothing_for_it():
    connectors = Factory()
    body = {"statusCode": 200, "type": "application/vnd.microsoft.card.adaptive", "value": {"type": "AdaptiveCard"}}

    async def logic(turn):
        await turn.send_activity(Activity(type="invokeResponse", value=InvokeResponse(status=200, body=body)))
    response = await TurnRunner(connectors).run(activity_from(card_action("verify", {}, service_url=SERVICE_URL)),
                                                logic)
    assert (response.status, response.body) == (200, body)
    assert (connectors.replies_sent.calls, connectors.asked) == ([], [])


async def test_an_invoke_without_a_response_is_501_and_a_message_has_none():
    async def logic(turn):
        pass
    invoke = await TurnRunner(Factory()).run(activity_from(card_action("x", {}, service_url=SERVICE_URL)), logic)
    assert invoke.status == 501
    assert await TurnRunner(Factory()).run(activity_from(message("help", service_url=SERVICE_URL)), logic) is None


async def test_a_failing_turn_is_logged_by_type_only_and_keeps_an_invoke_response_already_set(caplog):
    async def logic(turn):
        await turn.send_activity(Activity(type="invokeResponse", value=InvokeResponse(status=200, body={})))
        raise ValueError("secret details 123456")
    with caplog.at_level(logging.ERROR, logger="otpbot.teams"):
        response = await TurnRunner(Factory()).run(activity_from(card_action("x", {}, service_url=SERVICE_URL)),
                                                    logic)
    assert response.status == 200
    assert [r.getMessage() for r in caplog.records] == ["turn failed: ValueError"]
    assert [r.exc_info for r in caplog.records] == [None]
