"""Value objects of the domain. Secrets are excluded from repr so they never reach a log by accident."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping


class Algorithm(str, enum.Enum):
    SHA1 = "SHA1"
    SHA256 = "SHA256"
    SHA512 = "SHA512"


class TokenStatus(str, enum.Enum):
    BURNED = "burned"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    DESTROYED = "destroyed"
    REVOKED = "revoked"


ALLOWED_PERIODS = (30, 60)
ALLOWED_DIGITS = (6, 8)


@dataclass(frozen=True)
class TotpParams:
    period: int = 30
    digits: int = 6
    algorithm: Algorithm = Algorithm.SHA1

    def __post_init__(self) -> None:
        if self.period not in ALLOWED_PERIODS:
            raise ValueError(f"period must be 30 or 60 seconds, not {self.period}")
        if self.digits not in ALLOWED_DIGITS:
            raise ValueError(f"digits must be 6 or 8, not {self.digits}")
        if not isinstance(self.algorithm, Algorithm):
            object.__setattr__(self, "algorithm", Algorithm(str(self.algorithm).upper()))


@dataclass(frozen=True)
class Seed:
    """A token's secret and its metadata. `secret` is normalised base32 without padding."""

    object_id: str
    upn: str
    secret: str = field(repr=False)
    params: TotpParams = TotpParams()
    status: TokenStatus = TokenStatus.BURNED
    serial: str | None = None
    enabled: bool = True
    expires_at: datetime | None = None
    not_before: datetime | None = None  # Key Vault's nbf: informational there, enforced by the bot
    version: str = field(default="", compare=False)  # the store's id of this value, named in the release record


@dataclass(frozen=True)
class Person:
    """A directory entry. The phones of record come from the directory, never from the caller: `phone_of_record`
    is the number to call back (the mobile, else an office line), `mobile` the only one a code is texted to
    (Graph mobilePhone). A disabled account (a leaver, a blocked sign-in) is still found, so its token can be
    revoked; nothing is released or enrolled for it."""

    upn: str
    object_id: str
    display_name: str
    phone_of_record: str | None = None
    manager_upn: str | None = None
    enabled: bool = True
    mobile: str | None = None


@dataclass(frozen=True)
class Agent:
    """The helpdesk agent behind a turn, from the authenticated activity only."""

    object_id: str
    tenant_id: str
    display_name: str = ""


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    at: datetime
    event: str
    actor: str
    target: str
    details: Mapping[str, str]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class SentMessage:
    """Where a proactive message landed, so it can be updated later (e.g. to say "expired")."""

    conversation_id: str
    activity_id: str
