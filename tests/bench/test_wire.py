"""The fast paths found by the bench produce exactly what msrest produces.

ActivitySerializer.body (bot/adapters/teams/wire.py) against msrest's Serializer.body, on every kind of
activity the bot sends (with the conversation reference applied, as the adapter sends them) and on random
activities, compared as JSON text (key order included).
"""

from __future__ import annotations

import copy
import json
import random
from datetime import datetime, timezone

import botframework.connector.models as connector_models
import pytest
from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.schema import (Activity, ActivityTypes, Attachment, ChannelAccount, ConversationAccount,
                               ConversationParameters, Entity, Mention)
from msrest import Serializer

from bot.adapters.teams.wire import ActivitySerializer
from bot.adapters.teams.cards import message_of
from bot.adapters.teams.cards import render
from bot.core.commands import COMMANDS
from bot.core.views import CardField, CodeCard, HelpCard, RevealCard, Text, VerifyCard
from bot.adapters.teams import wire
from bot.adapters.teams.wire import activity_from
from tests.support.teams import card_action, message

MODELS = {k: v for k, v in vars(connector_models).items() if isinstance(v, type)}
REFERENCE, FAST = Serializer(MODELS), ActivitySerializer(MODELS)


def both(data, data_type: str = "Activity") -> tuple[str, str]:
    fast = json.dumps(FAST.body(copy.deepcopy(data), data_type))
    reference = json.dumps(REFERENCE.body(copy.deepcopy(data), data_type))
    return fast, reference


def as_reply(activity: Activity, incoming: dict) -> Activity:
    reference = TurnContext.get_conversation_reference(activity_from(incoming))
    return TurnContext.apply_conversation_reference(activity, reference)


VIEWS = [
    Text("Cancelled the verification for Alice User. Nothing was released."),
    HelpCard(COMMANDS),
    VerifyCard("vid-1", "Alice User", "alice@contoso.example", "now", "09:10",
               "00000000-0000-4000-8000-0000000000a1", "callback to the number of record, manager approval",
               ("Hang up and call Alice User back on the number of record: **•••••••• 0958**.",),
               (CardField("ticket", "Ticket or case reference", "text", 40, "Enter the ticket reference."),
                CardField("calledBack", "I called back on the number of record and reached the user.", "toggle")),
               ("Verify", "verify"), None, True, "", ("Mia Manager (manager of record) is asked to approve in Teams.",),
               None, "Enter the ticket reference."),
    RevealCard("vid-1", "Alice User", "alice@contoso.example", "now", "00000000-0000-4000-8000-0000000000a1",
               "manager approval"),
    CodeCard("Alice User", "alice@contoso.example", "361 520", "09:00:00", "09:00:30", "09:01:30", "UTC"),
]


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: type(v).__name__)
@pytest.mark.parametrize("incoming", [message("help", timezone="Europe/Berlin"),
                                      card_action("verify", {"vid": "v", "ticket": "INC-1"})],
                         ids=["message", "invoke"])
def test_every_reply_the_bot_sends(view, incoming):
    fast, reference = both(as_reply(message_of(view, refresh_for="29:someone"), incoming), "Activity")
    assert fast == reference


def test_a_proactive_chat_and_a_code_card_sent_to_it():
    params = ConversationParameters(
        is_group=False, bot=ChannelAccount(id="28:bot"), members=[ChannelAccount(id="oid")], tenant_id="t",
        channel_data={"tenant": {"id": "t"}})
    assert both(params, "ConversationParameters")[0] == both(params, "ConversationParameters")[1]
    card = MessageFactory.attachment(CardFactory.adaptive_card(render(VIEWS[-1])))
    assert both(card)[0] == both(card)[1]


def test_values_msrest_converts_are_left_to_msrest():
    dict_where_a_model_is_declared = Activity(type="message", text="x", conversation={"id": "c", "isGroup": True},
                                              from_property={"id": "u", "name": "U", "extra": 1})
    odd = Activity(type=ActivityTypes.message, timestamp=datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc),
                   local_timestamp=datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc), text=5,
                   value={"when": datetime(2026, 1, 1, tzinfo=timezone.utc), 1: "int key", "set": {1, 2}},
                   channel_data={"nested": [ChannelAccount(id="x"), {"deep": [None, 1.5, True]}]},
                   entities=[Mention(mentioned=ChannelAccount(id="b"), text="<at>b</at>", type="mention"),
                             Entity(type="clientInfo")], listen_for=["a", "b"], attachments=[None])
    for activity in (dict_where_a_model_is_declared, odd):
        fast, reference = both(activity)
        assert fast == reference


def _json(rng: random.Random, depth: int = 0):
    kinds = ["str", "int", "float", "bool", "none"] + (["dict", "list"] if depth < 4 else [])
    kind = rng.choice(kinds)
    if kind == "dict":
        return {rng.choice(["type", "text", "id", "body", "wrap", "ü", ""]) + str(i): _json(rng, depth + 1)
                for i in range(rng.randint(0, 4))}
    if kind == "list":
        return [_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {"str": lambda: rng.choice(["", "a", "–•", "x" * 30]), "int": lambda: rng.randint(-5, 10**12),
            "float": lambda: rng.random(), "bool": lambda: rng.random() < 0.5, "none": lambda: None}[kind]()


@pytest.mark.parametrize("seed", range(200))
def test_random_activities(seed):
    rng = random.Random(seed)
    maybe = lambda value: value if rng.random() < 0.6 else None  # noqa: E731
    activity = Activity(
        type=rng.choice([ActivityTypes.message, "message", ActivityTypes.invoke_response, "event"]),
        id=maybe(f"id-{seed}"), text=maybe(rng.choice(["hi", "", "Valid 09:00–09:30 •"])),
        conversation=maybe(ConversationAccount(id="19:x;messageid=1", is_group=maybe(rng.random() < 0.5),
                                               conversation_type=maybe("channel"), tenant_id=maybe("t"))),
        from_property=maybe(ChannelAccount(id="28:bot", name=maybe("Bot"), aad_object_id=maybe("oid"))),
        recipient=maybe(ChannelAccount(id="29:u", role=maybe(rng.choice(["user", "bot"])))),
        attachments=maybe([Attachment(content_type=maybe("application/vnd.microsoft.card.adaptive"),
                                      content=maybe(_json(rng)), name=maybe("n"))
                           for _ in range(rng.randint(0, 3))]),
        channel_data=maybe(_json(rng)), value=maybe(_json(rng)), reply_to_id=maybe("r"),
        service_url=maybe("https://smba.trafficmanager.net/teams/"), channel_id=maybe("msteams"),
        input_hint=maybe(rng.choice(["acceptingInput", "ignoringInput"])), locale=maybe("en-GB"),
        label=maybe("l"), value_type=maybe("vt"), importance=maybe("high"), delivery_mode=maybe("normal"),
        expiration=maybe(datetime(2026, 11, 28, tzinfo=timezone.utc)),
        entities=maybe([Entity(type="mention") for _ in range(rng.randint(0, 2))]),
    )
    fast, reference = both(activity)
    assert fast == reference


@pytest.mark.parametrize("seed", range(100))
def test_inbound_activities_deserialise_as_msrest_does(seed):
    rng = random.Random(seed)
    payload = rng.choice([message, lambda t, **kw: card_action("verify", {"vid": t}, **kw)])(
        rng.choice(["help", "code alice@contoso.example", ""]), timezone=rng.choice([None, "Europe/Berlin"]))
    payload.update({k: _json(rng) for k in rng.sample(["value", "channelData", "extra", "entities", "text"], 2)})
    payload["conversation"]["extra"] = _json(rng)
    assert _outcome(activity_from, payload) == _outcome(Activity().deserialize, payload)


def _outcome(deserialize, payload):
    try:
        return deserialize(copy.deepcopy(payload))
    except Exception as error:  # the edge answers 400 for any of them; the same one either way
        return type(error), str(error)


@pytest.mark.parametrize("seed", range(100))
def test_well_typed_activities_take_the_fast_path_and_deserialise_as_msrest_does(seed):
    rng = random.Random(1000 + seed)
    maybe = lambda value: value if rng.random() < 0.7 else None  # noqa: E731
    payload = rng.choice([message, lambda t, **kw: card_action("verify", {"vid": t}, **kw)])(
        "code alice@contoso.example", timezone=maybe("Europe/Berlin"))
    mention = {"type": "mention", "text": "<at>b</at>", "mentioned": {"id": "b", "name": "B"}}
    if rng.random() < 0.5:
        mention["extra"] = _json(rng)
    payload.update({k: v for k, v in {
        "value": maybe(_json(rng)), "channelData": maybe(_json(rng)),
        "localTimestamp": maybe("2026-11-28T10:00:00+01:00"), "entities": maybe([mention]),
        "membersAdded": maybe([{"id": "28:bot", "name": maybe("Bot"), "aadObjectId": maybe("oid"),
                                "extra": _json(rng)}]),
        "listenFor": maybe(["a", "b"]), "historyDisclosed": maybe(rng.random() < 0.5), "extra": maybe(_json(rng)),
    }.items() if v is not None})
    payload["from"]["userRole"] = maybe("user")
    fast = wire._READER.model(Activity, copy.deepcopy(payload))  # raises if it would fall back
    assert fast == Activity().deserialize(copy.deepcopy(payload))
    assert fast.conversation.additional_properties == {"tenantId": payload["conversation"]["tenantId"]}
