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
    """Step 1: ticket reference and callback confirmation."""

    vid: str
    target_name: str
    target_upn: str
    phone_hint: str
    window_text: str
    expires_text: str
    requester: str = ""
    error: str | None = None


@dataclass(frozen=True)
class RevealCard:
    """Step 2: verified; the code is shown only when the requester presses Show code."""

    vid: str
    target_name: str
    target_upn: str
    window_text: str
    requester: str = ""


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
class ActionOutcome:
    """An invoke's answer: a card for the invoker only, plus notices (never codes) for the thread."""

    card: object
    notices: tuple[str, ...] = ()
