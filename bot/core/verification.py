"""The verification gate: a per-agent, per-conversation, single-use, expiring record.

Pure rules only; the workflow that loads and saves it lives in handlers/code.py.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import asdict, dataclass, replace
from datetime import datetime, time, timedelta

from .errors import InvalidInput, VerificationError
from .window import WindowSpec

TTL = timedelta(minutes=10)
PENDING, VERIFIED, RELEASING, RELEASED, CANCELLED = "pending", "verified", "releasing", "released", "cancelled"
_TICKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/#:-]{2,39}$")
PHONE_DIGITS_SHOWN = 4


def state_key(tenant_id: str, conversation_id: str, agent_oid: str) -> str:
    """Two agents in one channel thread never share a dialog: the agent is part of the key."""
    return f"verification/{tenant_id}/{conversation_id}/{agent_oid}"


@dataclass(frozen=True)
class Verification:
    vid: str
    agent_oid: str
    target_upn: str
    target_oid: str
    target_name: str
    phone_hint: str
    window_kind: str
    window_at: str | None
    window_delay_s: int | None
    created_at: str
    status: str = PENDING
    ticket: str | None = None

    @classmethod
    def start(cls, agent_oid: str, target_upn: str, target_oid: str, target_name: str,
              phone: str, window: WindowSpec, now: datetime) -> "Verification":
        return cls(
            vid=secrets.token_urlsafe(16), agent_oid=agent_oid, target_upn=target_upn, target_oid=target_oid,
            target_name=target_name, phone_hint=mask_phone(phone), window_kind=window.kind,
            window_at=window.at_local.strftime("%H:%M") if window.at_local else None,
            window_delay_s=int(window.delay.total_seconds()) if window.delay else None,
            created_at=now.isoformat(),
        )

    @property
    def window(self) -> WindowSpec:
        at = time.fromisoformat(self.window_at) if self.window_at else None
        delay = timedelta(seconds=self.window_delay_s) if self.window_delay_s else None
        return WindowSpec(self.window_kind, at_local=at, delay=delay)

    def expires_at(self) -> datetime:
        return datetime.fromisoformat(self.created_at) + TTL

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Verification":
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in fields})

    def check_action(self, vid: str, invoker_oid: str, now: datetime, expected: str) -> None:
        """Raises VerificationError unless this card action may proceed."""
        if invoker_oid != self.agent_oid:
            raise VerificationError("This verification belongs to another agent; only they can continue it.")
        if not secrets.compare_digest(vid, self.vid):
            raise VerificationError("This card is out of date: a newer request replaced it. Nothing was released.")
        if self.status in (RELEASING, RELEASED):
            raise VerificationError("This verification was already used. Start again with `code <upn>`.")
        if self.status == CANCELLED:
            raise VerificationError("This verification was cancelled. Start again with `code <upn>`.")
        if now >= self.expires_at():
            raise VerificationError("This verification expired after 10 minutes. Start again with `code <upn>`.")
        if self.status != expected:
            step = "Verify the caller first." if expected == VERIFIED else "This step was already done."
            raise VerificationError(step)

    def verified(self, ticket: str, called_back: bool) -> "Verification":
        ticket = (ticket or "").strip()
        if not _TICKET.match(ticket):
            raise InvalidInput("Enter the ticket or case reference (3–40 letters, digits or . _ / # : -).")
        if not called_back:
            raise InvalidInput("Confirm that you called the user back on the number of record.")
        return replace(self, status=VERIFIED, ticket=ticket)

    def with_status(self, status: str) -> "Verification":
        return replace(self, status=status)


def mask_phone(phone: str) -> str:
    """`+44 20 7946 0958` -> `••• •••• 0958`: enough to dial the right record, not to leak it."""
    digits = [ch for ch in phone if ch.isdigit()]
    shown = "".join(digits[-PHONE_DIGITS_SHOWN:])
    return "•" * max(len(digits) - PHONE_DIGITS_SHOWN, 3) + " " + shown
