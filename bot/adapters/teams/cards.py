"""Core views -> Adaptive Cards (schema 1.4, which Teams renders with Action.Execute)."""

from __future__ import annotations

from functools import singledispatch

from botbuilder.core import CardFactory, MessageFactory
from botbuilder.schema import Activity

from ...core.views import (ApprovalRequestCard, AuditCard, CodeCard, HelpCard, RevealCard, SecondAgentRequestCard,
                           Text, VerifyCard)

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"


def _card(body: list, actions: list | None = None) -> dict:
    card = {"type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": "1.4", "body": body}
    if actions:
        card["actions"] = actions
    return card


def _text(text: str, **style) -> dict:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _execute(title: str, verb: str, data: dict, **style) -> dict:
    return {"type": "Action.Execute", "title": title, "verb": verb, "data": data, **style}


def _no_inputs(title: str, verb: str, data: dict, **style) -> dict:
    """An action that takes no input (Cancel, Send again, an approval by someone else, Show code): Teams' and the
    Playground's renderer validate every required input of the card before any other action is sent."""
    return {**_execute(title, verb, data, **style), "associatedInputs": "none"}


def message_of(view, refresh_for: str | None = None) -> Activity:
    """A view as a message activity: plain text, or its Adaptive Card. `refresh_for`: the requester of a
    VerifyCard, whose Teams then asks us for their current view (verified, released, expired) whenever it shows
    the card again (Universal Actions refresh), so no code lingers in a re-rendered card."""
    if isinstance(view, Text):
        return MessageFactory.text(view.text)
    card = render(view)
    if isinstance(view, VerifyCard) and refresh_for:
        card["refresh"] = {"userIds": [refresh_for], "action": {
            "type": "Action.Execute", "verb": "refresh", "data": {"vid": view.vid, "requester": view.requester}}}
    return MessageFactory.attachment(CardFactory.adaptive_card(card))


@singledispatch
def _build(view) -> dict:
    raise TypeError(f"no card for {type(view).__name__}")


def render(view) -> dict:
    """A view's card, with the fallbackText a client that cannot render the card shows instead."""
    card = _build(view)
    card.setdefault("fallbackText", _fallback_text(card))
    return card


render.register = _build.register  # cards are registered per view type, here and in lifecycle_cards.py


def _fallback_text(card: dict) -> str:
    def texts(items):
        for item in items:
            if item.get("type") == "TextBlock":
                yield item["text"]
            yield from texts(item.get("items", []))
            for column in item.get("columns", []):
                yield from texts(column.get("items", []))
    first = next(texts(card.get("body", [])), "")
    return (first or "A card from the OTP bot: open it in Teams.")[:300]


@render.register
def _(view: Text) -> dict:
    return _card([_text(view.text)])


@render.register
def _(view: HelpCard) -> dict:
    rows = [{"title": c.usage, "value": c.summary} for c in view.commands]
    return _card([_text("Helpdesk OTP bot", weight="Bolder", size="Medium"),
                  {"type": "FactSet", "facts": rows},
                  _text("Codes are shown only to the agent who asked, after verification.", isSubtle=True)])


@render.register
def _(view: VerifyCard) -> dict:
    body = [
        _text(f"Verify the caller for {view.target_name} ({view.target_upn})", weight="Bolder"),
        _text(f"Window: {view.window_text}. This verification expires at {view.expires_text}."),
        _text(f"Proofs needed: {view.proofs_text}."),
    ]
    if view.error:
        body.insert(1, _text(view.error, color="Attention"))
    body += [_text(line) for line in view.waiting]
    number = 0
    for number, line in enumerate(view.steps, 1):
        body.append(_text(f"{number}. {line}"))
    if view.ticket:
        body.append(_text(f"Ticket: {view.ticket}."))
    for item in view.fields:
        if item.kind == "toggle":
            body.append({"type": "Input.Toggle", "id": item.id, "valueOn": "true", "valueOff": "false",
                         "value": "false", "title": item.label})
            continue
        number += 1 if item.id == "ticket" else 0
        label = f"{number}. {item.label}" if item.id == "ticket" else item.label
        body.append({"type": "Input.Text", "id": item.id, "label": label, "isRequired": True,
                     "maxLength": item.max_length, "errorMessage": item.error})
    data = {"vid": view.vid, "requester": view.requester}
    title, verb = view.submit
    actions = [_execute(title, verb, data, style="positive")]
    if view.send_again:
        actions.append(_no_inputs(view.send_again, "send_code", data))
    actions.append(_no_inputs("Cancel", "cancel", data))
    if view.second_agent:
        actions.append(_no_inputs("Approve as second agent", "approve_agent", data))
    return _card(body, actions)


@render.register
def _(view: RevealCard) -> dict:
    body = [_text(f"{view.headline} for {view.target_name} ({view.target_upn}).", weight="Bolder")]
    if view.waiting:
        body.append(_text(f"Still waiting for: {view.waiting}. Press Show code once it is given."))
    body.append(_text(f"Window: {view.window_text}. Press Show code when you are ready to read it out; "
                      "it is shown only to you and can be shown once."))
    data = {"vid": view.vid, "requester": view.requester}
    actions = [_no_inputs("Show code", "reveal", data, style="positive")]
    if view.second_agent:
        actions.append(_no_inputs("Approve as second agent", "approve_agent", data))
    return _card(body, actions)


@render.register
def _(view: SecondAgentRequestCard) -> dict:
    data = {"vid": view.vid, "requester": view.requester, "conversation": view.conversation_id}
    return _card(
        [_text("Second agent approval needed", weight="Bolder"),
         _text(f"{view.requester_name} asks, in a personal chat, to release a one-time sign-in code for "
               f"{view.target_name} ({view.target_upn}), a privileged account."),
         _text("Approve only if you know the request is genuine (ask the requester). "
               f"The request expires at {view.expires_text}.")],
        [_no_inputs("Approve as second agent", "approve_agent", data, style="positive")],
    )


@render.register
def _(view: ApprovalRequestCard) -> dict:
    data = {"vid": view.vid, "requester": view.requester, "conversation": view.conversation_id}
    return _card(
        [_text("Helpdesk approval request", weight="Bolder"),
         _text(f"{view.requester_name} asks to release a one-time sign-in code for {view.target_name} "
               f"({view.target_upn}), whose manager of record you are."),
         _text("Approve only if you know that this person asked the helpdesk for a code. "
               f"The request expires at {view.expires_text}.")],
        [_no_inputs("Approve", "approve_manager", data, style="positive"),
         _no_inputs("Deny", "deny_manager", data, style="destructive")],
    )


@render.register
def _(view: AuditCard) -> dict:
    rows = [{"title": f"{r.at} {r.event}", "value": f"{r.actor}" + (f" — {r.summary}" if r.summary else "")}
            for r in view.rows]
    body = [_text(f"Audit trail for {view.target_upn} since {view.since}", weight="Bolder")]
    body.append({"type": "FactSet", "facts": rows} if rows else _text("No records."))
    return _card(body)


@render.register
def _(view: CodeCard) -> dict:
    return _card([
        _text(f"Code for {view.target_name} ({view.target_upn})", weight="Bolder"),
        _text(view.code, size="ExtraLarge", weight="Bolder", fontType="Monospace"),
        _text(f"Valid {view.valid_from}–{view.valid_to} ({view.zone}). "
              f"Entra accepts it until {view.accepted_until} ({view.zone})."),
        _text("Read it to the caller now. It is not stored in this conversation.", isSubtle=True),
    ])


def invoke_body(card: dict) -> dict:
    """The Universal Actions invoke response: the card the invoker (only) now sees."""
    return {"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": card}


from . import lifecycle_cards  # noqa: E402,F401  (registers the token lifecycle cards on render)
