"""The verification gate: a per-agent, per-conversation, single-use, expiring record.

Pure rules only; the workflow that loads and saves it lives in handlers/code.py.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, time, timedelta

from .errors import InvalidInput, VerificationError
from .phone_code import PhoneCode
from .proofs import CALLBACK, DECLARATIONS, LABELS
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
    conversation_id: str = ""  # where the requester's card is: approvals given elsewhere are reported there
    timezone: str | None = None  # the requester's, when they asked: `at 14:30` means their 14:30 at Show code too
    mobile_hint: str = ""  # the mobile of record, masked, for phone_code
    phone_code: dict | None = None  # PhoneCode.to_dict(): a salted hash, never the digits
    manager_name: str | None = None
    personal: bool = False  # asked in personal chat: a second agent's approval is requested in the channel

    @classmethod
    def start(cls, agent_oid: str, target_upn: str, target_oid: str, target_name: str, phone: str | None,
              window: WindowSpec, now: datetime, required: tuple[str, ...] = (CALLBACK,),
              manager_oid: str | None = None, *, conversation_id: str = "", timezone: str | None = None,
              mobile: str | None = None, manager_name: str | None = None, personal: bool = False
              ) -> "Verification":
        return cls(
            vid=secrets.token_urlsafe(16), agent_oid=agent_oid, target_upn=target_upn, target_oid=target_oid,
            target_name=target_name, phone_hint=mask_phone(phone) if phone else "", window_kind=window.kind,
            window_at=window.at_local.strftime("%H:%M") if window.at_local else None,
            window_delay_s=int(window.delay.total_seconds()) if window.delay else None,
            created_at=now.isoformat(), required=tuple(required), manager_oid=manager_oid,
            conversation_id=conversation_id, timezone=timezone, mobile_hint=mask_phone(mobile) if mobile else "",
            manager_name=manager_name, personal=personal,
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

    def missing_from_requester(self) -> list[str]:
        """Proofs still to be given on the requester's own card (callback, phone_code), in policy order."""
        return [p for p in self.missing() if DECLARATIONS[p].by_requester]

    def awaiting(self) -> list[str]:
        """Approvals still to be given by someone other than the requester."""
        return [p for p in self.missing() if not DECLARATIONS[p].by_requester]

    @property
    def requester_done(self) -> bool:
        """The requester's part is over (ticket recorded, their proofs given): the card offers Show code."""
        return bool(self.ticket) and not self.missing_from_requester()

    @property
    def code_sent(self) -> PhoneCode | None:
        return PhoneCode.from_dict(self.phone_code)

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
                raise VerificationError("Verify the caller first." if not self.requester_done
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

    def with_ticket(self, typed: str) -> "Verification":
        """The ticket is asked once: a recorded one stays, whatever a later card submits."""
        if self.ticket:
            return self
        ticket = (typed or "").strip()
        if not _TICKET.match(ticket):
            raise InvalidInput("Enter the ticket or case reference (3–40 letters, digits or . _ / # : -).")
        return replace(self, ticket=ticket)

    def check_toggles(self, data: dict) -> None:
        """Every toggle a missing requester proof declares must be on (e.g. "I called back")."""
        for name in self.missing_from_requester():
            for field_ in DECLARATIONS[name].inputs:
                if field_.kind == "toggle" and str(data.get(field_.id, "")).lower() != "true":
                    raise InvalidInput(TOGGLE_REFUSALS.get(field_.id, f"Confirm: {field_.label}"))

    def with_code(self, code: PhoneCode | None) -> "Verification":
        return replace(self, phone_code=code.to_dict() if code else None)

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


TOGGLE_REFUSALS = {"calledBack": "Confirm that you called the user back on the number of record."}


def mask_phone(phone: str) -> str:
    """`+44 20 7946 0958` -> `•••••••• 0958`: enough to pick the right record, not to leak it."""
    digits = [ch for ch in phone if ch.isdigit()]
    shown = "".join(digits[-PHONE_DIGITS_SHOWN:])
    return "•" * max(len(digits) - PHONE_DIGITS_SHOWN, 3) + " " + shown
