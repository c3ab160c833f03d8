"""Who may ask, and where. Deny by default; if a check cannot be made, the answer is no."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from .errors import DependencyUnavailable, NotAllowed
from .models import Agent, Person

AGENT, LEAD, PRIVILEGED = "agent", "lead", "privileged"
ROLE_CACHE_TTL = timedelta(minutes=5)


class RoleSource(Protocol):
    """Roles of an object id among AGENT, LEAD, PRIVILEGED. Raises DependencyUnavailable on failure."""

    async def roles_of(self, object_id: str) -> set[str]: ...


@dataclass(frozen=True)
class AllowListRoles:
    """Explicit object-id lists: the alternative to groups, and what local mode uses."""

    agents: frozenset[str]
    leads: frozenset[str] = frozenset()
    privileged: frozenset[str] = frozenset()

    async def roles_of(self, object_id: str) -> set[str]:
        table = ((AGENT, self.agents), (LEAD, self.leads), (PRIVILEGED, self.privileged))
        return {role for role, ids in table if object_id in ids}


@dataclass(frozen=True)
class Place:
    conversation_type: str  # "personal" | "channel" | "groupChat"
    channel_id: str | None = None


@dataclass
class Authorizer:
    source: RoleSource
    clock: object
    tenant_id: str
    allowed_channels: frozenset[str] = frozenset()
    _cache: dict[str, tuple[datetime, set[str]]] = field(default_factory=dict)

    async def roles(self, object_id: str, fresh: bool = False) -> set[str]:
        now = self.clock.now()
        cached = self._cache.get(object_id)
        if cached and not fresh and now - cached[0] < ROLE_CACHE_TTL:
            return cached[1]
        try:
            roles = await self.source.roles_of(object_id)
        except DependencyUnavailable:
            self._cache.pop(object_id, None)
            raise NotAllowed("I could not confirm your helpdesk membership (the directory did not answer), "
                             "so I can't do that now. Nothing was released.") from None
        self._cache[object_id] = (now, roles)
        return roles

    async def require(self, agent: Agent, role: str, fresh: bool = False) -> None:
        accepted = {AGENT, LEAD} if role == AGENT else {role}  # leads are agents too
        if agent.tenant_id != self.tenant_id or not accepted & await self.roles(agent.object_id, fresh):
            raise NotAllowed(_REFUSALS[role])

    def require_place(self, place: Place) -> None:
        if place.conversation_type == "personal":
            return
        if place.conversation_type == "channel" and place.channel_id in self.allowed_channels:
            return
        raise NotAllowed("I only take commands in the helpdesk channels and in personal chat with me.")

    async def is_privileged(self, target: Person) -> bool:
        return bool(await self.roles(target.object_id) & {AGENT, LEAD, PRIVILEGED})

    @staticmethod
    def require_not_self(agent: Agent, target: Person) -> None:
        if agent.object_id == target.object_id:
            raise NotAllowed("You cannot release a code for your own account. Ask another agent.")


_REFUSALS = {
    AGENT: "You are not on the helpdesk agent list. Ask your Teams admin to add you.",
    LEAD: "Only helpdesk leads can do that.",
}
