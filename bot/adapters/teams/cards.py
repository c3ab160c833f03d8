"""Core views -> Adaptive Cards (schema 1.4, which Teams renders with Action.Execute)."""

from __future__ import annotations

from functools import singledispatch

from botbuilder.core import CardFactory, MessageFactory
from botbuilder.schema import Activity

from ...core.views import ApprovalRequestCard, AuditCard, CodeCard, HelpCard, RevealCard, Text, VerifyCard

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
def render(view) -> dict:
    raise TypeError(f"no card for {type(view).__name__}")


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
        _text(f"1. Hang up and call {view.target_name} back on the number of record: **{view.phone_hint}**. "
              "Never use a number the caller gives you."),
        {"type": "Input.Text", "id": "ticket", "label": "2. Ticket or case reference", "isRequired": True,
         "maxLength": 40, "errorMessage": "Enter the ticket reference."},
        {"type": "Input.Toggle", "id": "calledBack", "valueOn": "true", "valueOff": "false", "value": "false",
         "title": "I called back on the number of record and reached the user."},
    ]
    if view.manager_name:
        body.insert(3, _text(f"{view.manager_name} (manager of record) is asked to approve in Teams."))
    if view.error:
        body.insert(1, _text(view.error, color="Attention"))
    data = {"vid": view.vid, "requester": view.requester}
    actions = [_execute("Verify", "verify", data, style="positive"), _execute("Cancel", "cancel", data)]
    if view.second_agent:
        actions.append(_execute("Approve as second agent", "approve_agent", data))
    return _card(body, actions)


@render.register
def _(view: RevealCard) -> dict:
    body = [_text(f"Callback recorded for {view.target_name} ({view.target_upn}).", weight="Bolder")]
    if view.waiting:
        body.append(_text(f"Still waiting for: {view.waiting}. Press Show code once it is given."))
    body.append(_text(f"Window: {view.window_text}. Press Show code when you are ready to read it out; "
                      "it is shown only to you and can be shown once."))
    return _card(body, [_execute("Show code", "reveal", {"vid": view.vid, "requester": view.requester},
                                 style="positive")])


@render.register
def _(view: ApprovalRequestCard) -> dict:
    data = {"vid": view.vid, "requester": view.requester, "conversation": view.conversation_id}
    return _card(
        [_text("Helpdesk approval request", weight="Bolder"),
         _text(f"{view.requester_name} asks to release a one-time sign-in code for {view.target_name} "
               f"({view.target_upn}), whose manager of record you are."),
         _text("Approve only if you know that this person asked the helpdesk for a code. "
               f"The request expires at {view.expires_text}.")],
        [_execute("Approve", "approve_manager", data, style="positive"),
         _execute("Deny", "deny_manager", data, style="destructive")],
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
