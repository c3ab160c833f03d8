"""Who may ask. Deny by default: an empty allow-list admits nobody."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import NotAllowed
from .models import Agent, Person


@dataclass(frozen=True)
class AccessPolicy:
    agent_object_ids: frozenset[str]
    tenant_id: str

    def require_agent(self, agent: Agent) -> None:
        if agent.tenant_id != self.tenant_id or agent.object_id not in self.agent_object_ids:
            raise NotAllowed("You are not on the helpdesk agent list. Ask your Teams admin to add you.")

    @staticmethod
    def require_not_self(agent: Agent, target: Person) -> None:
        if agent.object_id == target.object_id:
            raise NotAllowed("You cannot release a code for your own account. Ask another agent.")
