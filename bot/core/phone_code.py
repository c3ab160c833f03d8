"""The phone_code proof: a one-time code texted to the target's mobile number of record, read back by the caller.

Rules: 6 digits from `secrets`, valid 5 minutes, 3 tries, "Send again" at most twice. Only a salted scrypt hash
is stored (10^6 codes are few: a plain hash would be reversed at once by anyone who can read the state store;
scrypt makes that cost hours, far beyond the code's 5 minutes), compared in constant time. The code itself is
only ever in the SMS text: never in a log line, an audit record, a card or the state.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta

from .errors import InvalidInput

DIGITS = 6
CODE_TTL = timedelta(minutes=5)
MAX_TRIES = 3
MAX_RESENDS = 2
_SCRYPT = dict(n=2**13, r=8, p=1, dklen=32)
_E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
VERIFIED, WRONG, EXPIRED, LOCKED = "verified", "wrong_code", "expired", "locked"

# GSM 03.38 basic character set (one septet each) and its extension table (two septets each).
GSM7_BASIC = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
              "¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENSION = "^{}\\[~]|€\f"
SEGMENT_SEPTETS = 160


def new_code() -> str:
    return f"{secrets.randbelow(10 ** DIGITS):0{DIGITS}d}"


def sms_text(organisation: str, code: str) -> str:
    """One GSM-7 segment that also warns the real user, should someone else be asking for their code."""
    return (f"{organisation} IT: your helpdesk verification code is {code[:3]} {code[3:]}. Read it only to the "
            "agent who called you. Not you? Call IT security.")


def septets(text: str) -> int | None:
    """GSM-7 length of `text`, or None if a character is outside GSM-7 (the SMS would go out as UCS-2)."""
    total = 0
    for ch in text:
        if ch in GSM7_BASIC:
            total += 1
        elif ch in GSM7_EXTENSION:
            total += 2
        else:
            return None
    return total


def check_organisation(name: str) -> str:
    """The organisation name must keep the SMS one GSM-7 segment; raises ValueError with the reason."""
    name = name.strip()
    if not name:
        raise ValueError("must not be empty")
    length = septets(sms_text(name, "0" * DIGITS))
    if length is None:
        raise ValueError("must use GSM-7 characters only (plain Latin letters, digits, common punctuation)")
    if length > SEGMENT_SEPTETS:
        raise ValueError(f"is too long: the text would need {length} of the {SEGMENT_SEPTETS} characters of one SMS")
    return name


def e164(number: str | None) -> str | None:
    """`+44 20 7946 0958` -> `+442079460958`; None unless it is an international (E.164) number."""
    if not number:
        return None
    compact = re.sub(r"[\s().-]", "", number)
    return compact if _E164.match(compact) else None


def allowed_country(number: str, calling_codes: frozenset[str]) -> bool:
    return any(number.startswith(code) for code in calling_codes)


@dataclass(frozen=True)
class PhoneCode:
    """What the verification keeps of the code it texted: a salted hash, never the digits."""

    salt: str
    digest: str
    sent_at: str
    sends: int = 1  # 1 + how many times "Send again" was used
    tries: int = 0
    locked: bool = False
    message_id: str = ""

    @classmethod
    def issue(cls, code: str, now: datetime, sends: int = 1) -> "PhoneCode":
        salt = secrets.token_bytes(16)
        return cls(salt.hex(), _digest(code, salt), now.isoformat(), sends)

    @property
    def sent_at_time(self) -> datetime:
        return datetime.fromisoformat(self.sent_at)

    def expires_at(self) -> datetime:
        return self.sent_at_time + CODE_TTL

    @property
    def resends_left(self) -> int:
        return MAX_RESENDS - (self.sends - 1)

    def check(self, typed: str, now: datetime) -> tuple["PhoneCode", str]:
        """The code after this try, and the outcome (VERIFIED, WRONG, EXPIRED or LOCKED). A malformed entry
        raises InvalidInput and costs no try."""
        digits = re.sub(r"[\s-]", "", typed or "")
        if not re.fullmatch(rf"[0-9]{{{DIGITS}}}", digits):
            raise InvalidInput(f"Type the {DIGITS} digits the caller reads out to you.")
        if self.locked:
            return self, LOCKED
        if now >= self.expires_at():
            return self, EXPIRED
        tried = replace(self, tries=self.tries + 1)
        if hmac.compare_digest(_digest(digits, bytes.fromhex(self.salt)), self.digest):
            return tried, VERIFIED
        if tried.tries >= MAX_TRIES:
            return replace(tried, locked=True), LOCKED
        return tried, WRONG

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> "PhoneCode | None":
        if not data:
            return None
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _digest(code: str, salt: bytes) -> str:
    return hashlib.scrypt(code.encode(), salt=salt, **_SCRYPT).hex()
