"""What a handler gets: the turn, and the ports and policies it may use."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ..core import audit_events as events
from ..core.errors import NotAllowed
from ..core.limits import RateLimits
from ..core.models import Agent
from ..core.policy import Authorizer, Place
from ..core.countries import CountrySource, FixedCountries
from ..core.ports import AuditLog, Clock, Coordination, Directory, Mailer, Notifier, SecretStore, SmsSender, StateStore
from ..core.proofs import ProofPolicy
from ..core.window import WindowPolicy

CARD, DIRECT, CONVERSATION = "card", "direct", "conversation"


@dataclass(frozen=True)
class Turn:
    agent: Agent
    conversation_id: str
    text: str = ""
    timezone: str | None = None
    activity_id: str = ""
    place: Place = Place("personal")


@dataclass(frozen=True)
class Action:
    agent: Agent
    conversation_id: str
    verb: str
    data: dict[str, Any] = field(default_factory=dict)
    timezone: str | None = None
    activity_id: str = ""
    place: Place = Place("personal")


@dataclass
class Services:
    secrets: SecretStore
    directory: Directory
    state: StateStore
    audit: AuditLog
    clock: Clock
    authorizer: Authorizer
    coordination: Coordination
    notifier: Notifier
    windows: WindowPolicy = field(default_factory=WindowPolicy)
    proofs: ProofPolicy = field(default_factory=ProofPolicy)
    limits: RateLimits = field(default_factory=RateLimits)
    delivery: str = CARD
    alerts_conversation: str | None = None
    mailer: Mailer | None = None
    overdue_after: timedelta = timedelta(days=30)  # token lifecycle: see bot/runtime/lifecycle_settings.py
    max_seed_age: timedelta = timedelta(days=45)
    helpdesk_conversation: str | None = None  # sweeper reminders; falls back to alerts_conversation
    revoked_retention: timedelta = timedelta(days=7)  # then the sweeper destroys a revoked token's seed
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("otpbot.handlers"))
    checkpoints: Any = None  # core.audit_checkpoint.CheckpointStore; None: no checkpoints (tests)
    draining: bool = False  # set at shutdown: turns in flight finish, no new release starts
    sms: SmsSender | None = None  # phone_code: texts the code (the local outbox, or Azure Communication Services)
    countries: CountrySource = field(default_factory=lambda: FixedCountries(frozenset()))  # where codes may go
    organisation: str = "Contoso"  # names the sender in the SMS text


async def write_together(*writes) -> None:
    """Awaits independent writes at once (one round trip; one group commit on SQLite), then raises the first
    failure in argument order. The others still finish, as they would have one after another."""
    for outcome in await asyncio.gather(*writes, return_exceptions=True):
        if isinstance(outcome, BaseException):
            raise outcome


async def append_best_effort(s: Services, event: str, actor: str, target: str, details: dict) -> None:
    """An audit record about something that already happened (or failed) and stands either way: a failure to
    write it is logged, not raised, so it never turns a done release into a "nothing was done" reply."""
    try:
        await s.audit.append(event, actor, target, details)
    except Exception as error:
        s.log.error("audit write failed for %s: %s", event, type(error).__name__)


async def require_role(s: Services, agent, role: str, what: str, *, target: str = "", fresh: bool = False,
                       refusal: str | None = None) -> None:
    """The agent must hold `role` (fresh: asked of the directory now, not the cache); a refusal is audited as
    access.denied for `what` and raised with `refusal`, or the authorizer's own sentence."""
    try:
        await s.authorizer.require(agent, role, fresh=fresh)
    except NotAllowed as error:
        await s.audit.append(events.ACCESS_DENIED, agent.object_id, target, {"command": what})
        raise NotAllowed(refusal or error.message) from None
