"""What the bot shows, as plain data. The Teams adapter renders these as messages and Adaptive Cards."""

from __future__ import annotations

from dataclasses import dataclass, field

from .commands import CommandHelp


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class HelpCard:
    commands: tuple[CommandHelp, ...]


@dataclass(frozen=True)
class VerifyCard:
    """Step 1: ticket reference and callback confirmation; approvals if the policy needs them."""

    vid: str
    target_name: str
    target_upn: str
    phone_hint: str
    window_text: str
    expires_text: str
    requester: str = ""
    proofs_text: str = ""
    second_agent: bool = False  # show "Approve as second agent" to other agents in the channel
    manager_name: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class RevealCard:
    """Step 2: the callback is recorded; the code is shown only when the requester presses Show code."""

    vid: str
    target_name: str
    target_upn: str
    window_text: str
    requester: str = ""
    waiting: str | None = None


@dataclass(frozen=True)
class ApprovalRequestCard:
    """Sent to the target's manager of record in a 1:1 chat."""

    vid: str
    requester: str
    requester_name: str
    conversation_id: str
    target_name: str
    target_upn: str
    expires_text: str


@dataclass(frozen=True)
class CodeCard:
    target_name: str
    target_upn: str
    code: str = field(repr=False)  # grouped digits; never logged
    valid_from: str
    valid_to: str
    accepted_until: str
    zone: str


@dataclass(frozen=True)
class AuditRow:
    at: str
    event: str
    actor: str
    summary: str


@dataclass(frozen=True)
class AuditCard:
    target_upn: str
    since: str
    rows: tuple[AuditRow, ...]


@dataclass(frozen=True)
class ActionOutcome:
    """An invoke's answer: a card for the invoker only, plus notices (never codes) for the thread."""

    card: object
    notices: tuple[str, ...] = ()
