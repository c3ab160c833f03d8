"""What a handler gets: the turn, and the ports it may use."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ..core.models import Agent
from ..core.policy import AccessPolicy
from ..core.ports import AuditLog, Clock, Directory, SecretStore, StateStore
from ..core.window import WindowPolicy


@dataclass(frozen=True)
class Turn:
    agent: Agent
    conversation_id: str
    text: str = ""
    timezone: str | None = None


@dataclass(frozen=True)
class Action:
    agent: Agent
    conversation_id: str
    verb: str
    data: dict[str, Any] = field(default_factory=dict)
    timezone: str | None = None


@dataclass
class Services:
    secrets: SecretStore
    directory: Directory
    state: StateStore
    audit: AuditLog
    clock: Clock
    access: AccessPolicy
    windows: WindowPolicy = field(default_factory=WindowPolicy)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("otpbot.handlers"))
