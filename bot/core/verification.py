"""The verification gate: a per-agent, per-conversation, single-use, expiring record.

Pure rules only; the workflow that loads and saves it lives in handlers/code.py.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, time, timedelta

from .errors import InvalidInput, VerificationError
from .proofs import CALLBACK, LABELS
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
    required: tuple[str, ...] = (CALLBACK,)
    done: dict[str, str] = field(default_factory=dict)  # proof -> object id of whoever gave it
    manager_oid: str | None = None
    status: str = PENDING
    ticket: str | None = None
    released_at: str | None = None
    accepted_until: str | None = None  # of the released code: after it, views say "expired"

    @classmethod
    def start(cls, agent_oid: str, target_upn: str, target_oid: str, target_name: str, phone: str,
              window: WindowSpec, now: datetime, required: tuple[str, ...] = (CALLBACK,),
              manager_oid: str | None = None) -> "Verification":
        return cls(
            vid=secrets.token_urlsafe(16), agent_oid=agent_oid, target_upn=target_upn, target_oid=target_oid,
            target_name=target_name, phone_hint=mask_phone(phone), window_kind=window.kind,
            window_at=window.at_local.strftime("%H:%M") if window.at_local else None,
            window_delay_s=int(window.delay.total_seconds()) if window.delay else None,
            created_at=now.isoformat(), required=tuple(required), manager_oid=manager_oid,
        )

    @property
    def window(self) -> WindowSpec:
        at = time.fromisoformat(self.window_at) if self.window_at else None
        delay = timedelta(seconds=self.window_delay_s) if self.window_delay_s else None
        return WindowSpec(self.window_kind, at_local=at, delay=delay)

    def expires_at(self) -> datetime:
        return datetime.fromisoformat(self.created_at) + TTL

    def missing(self) -> list[str]:
        return [p for p in self.required if p not in self.done]

    def proofs_text(self) -> str:
        return ", ".join(LABELS[p] for p in self.required)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["required"] = list(self.required)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Verification":
        fields = cls.__dataclass_fields__
        values = {k: v for k, v in data.items() if k in fields}
        values["required"] = tuple(values.get("required", (CALLBACK,)))
        return cls(**values)

    def check_action(self, vid: str, invoker_oid: str, now: datetime, expected: str) -> None:
        """Raises VerificationError unless this card action may proceed."""
        if invoker_oid != self.agent_oid:
            raise VerificationError("This verification belongs to another agent; only they can continue it.")
        self.check_open(vid, now)
        if self.status != expected:
            if expected == VERIFIED:
                waiting = [LABELS[p] for p in self.missing()]
                raise VerificationError("Verify the caller first." if CALLBACK not in self.done
                                        else f"Still waiting for: {', '.join(waiting)}.")
            raise VerificationError("This step was already done.")

    def check_open(self, vid: str, now: datetime) -> None:
        if not secrets.compare_digest(vid, self.vid):
            raise VerificationError("This card is out of date: a newer request replaced it. Nothing was released.")
        if self.status in (RELEASING, RELEASED):
            raise VerificationError("This verification was already used. Start again with `code <upn>`.")
        if self.status == CANCELLED:
            raise VerificationError("This verification was cancelled. Start again with `code <upn>`.")
        if now >= self.expires_at():
            raise VerificationError("This verification expired after 10 minutes. Start again with `code <upn>`.")

    def verified(self, ticket: str, called_back: bool) -> "Verification":
        ticket = (ticket or "").strip()
        if not _TICKET.match(ticket):
            raise InvalidInput("Enter the ticket or case reference (3–40 letters, digits or . _ / # : -).")
        if not called_back:
            raise InvalidInput("Confirm that you called the user back on the number of record.")
        return replace(self, ticket=ticket).with_proof(CALLBACK, self.agent_oid)

    def with_proof(self, proof: str, by_oid: str) -> "Verification":
        if proof not in self.required:
            raise VerificationError("This request does not need that approval.")
        if proof in self.done:
            raise VerificationError("That approval was already given.")
        done = {**self.done, proof: by_oid}
        status = VERIFIED if all(p in done for p in self.required) else PENDING
        return replace(self, done=done, status=status)

    def with_status(self, status: str) -> "Verification":
        return replace(self, status=status)


def mask_phone(phone: str) -> str:
    """`+44 20 7946 0958` -> `•••••••• 0958`: enough to pick the right record, not to leak it."""
    digits = [ch for ch in phone if ch.isdigit()]
    shown = "".join(digits[-PHONE_DIGITS_SHOWN:])
    return "•" * max(len(digits) - PHONE_DIGITS_SHOWN, 3) + " " + shown
