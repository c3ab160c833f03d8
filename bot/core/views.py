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
class CardField:
    """An input on the requester's card (built from the proof declarations, plus the ticket)."""

    id: str
    label: str
    kind: str  # "text" | "toggle"
    max_length: int = 0
    error: str = ""


@dataclass(frozen=True)
class VerifyCard:
    """The requester's step: the ticket (asked once) and the proofs they give on this card, in policy order."""

    vid: str
    target_name: str
    target_upn: str
    window_text: str
    expires_text: str
    requester: str = ""
    proofs_text: str = ""
    steps: tuple[str, ...] = ()  # instructions, numbered on the card
    fields: tuple[CardField, ...] = ()
    submit: tuple[str, str] = ("Verify", "verify")  # (title, verb) of the button that takes the fields
    send_again: str | None = None  # the "Send again" title, when a code was texted and resends are left
    second_agent: bool = False  # show "Approve as second agent" to other agents in the channel
    conversation_id: str = ""
    waiting: tuple[str, ...] = ()  # lines about approvals asked of others
    ticket: str | None = None  # recorded: shown, not asked again
    error: str | None = None


@dataclass(frozen=True)
class RevealCard:
    """The requester's part is done; the code is shown only when the requester presses Show code."""

    vid: str
    target_name: str
    target_upn: str
    window_text: str
    requester: str = ""
    waiting: str | None = None
    headline: str = "Callback recorded"
    second_agent: bool = False
    conversation_id: str = ""


@dataclass(frozen=True)
class SecondAgentRequestCard:
    """Posted to the helpdesk channel when the requester is in personal chat, where no second agent can see it."""

    vid: str
    requester: str
    requester_name: str
    conversation_id: str
    target_name: str
    target_upn: str
    ticket: str
    expires_text: str


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


@dataclass(frozen=True)
class EnrollCard:
    """The seed goes into a password-style input; a re-shown card carries only the non-secret values."""

    target_name: str
    target_upn: str
    serial: str = ""
    model: str = ""
    period: int = 30
    digits: int = 6
    algorithm: str = "SHA1"
    error: str | None = None
    run: str = ""  # the provisioning run this card is step 3 of, if any
    title: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class EnrollApprovalCard:
    """Posted to the alerts channel: a lead approves an agent's request to store a seed (four eyes)."""

    target_name: str
    target_upn: str
    requester: str
    requester_name: str
    why: str


@dataclass(frozen=True)
class RunbookCard:
    """One step of `provision <upn>`: instructions, then Done (or Shipped) and Abort."""

    run: str
    step: int
    total: int
    title: str
    lines: tuple[str, ...]
    target_name: str
    target_upn: str
    ask_shipment: bool = False
    done_label: str = "Done"
    error: str | None = None
    outcome: str | None = None  # what the previous step did, e.g. "Saved the token …"


@dataclass(frozen=True)
class PendingRow:
    upn: str
    overdue: bool
    text: str  # "shipped 2026-11-20 via DHL, tracking JD0123 · burned 31 days ago"
    enabled: bool = True


@dataclass(frozen=True)
class PendingCard:
    """Counts over every token not delivered yet, then page `page` of `pages` of the rows `only` selects."""

    total: int
    burned: int
    shipped: int
    overdue: int
    rows: tuple[PendingRow, ...]
    overdue_days: int
    only: str | None = None  # "overdue", "burned", "shipped", or None for all
    page: int = 1
    pages: int = 1
    matching: int = 0  # rows `only` selects, over every page
