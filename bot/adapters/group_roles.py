"""Roles from Entra security groups (transitive membership via Graph checkMemberGroups)."""

from __future__ import annotations

from ..core.policy import AGENT, LEAD, PRIVILEGED
from ..core.ports import GroupMembership


class GroupRoles:
    def __init__(self, membership: GroupMembership, agent_group: str, lead_group: str = "",
                 privileged_groups: frozenset[str] = frozenset()) -> None:
        self._membership = membership
        self._roles = {agent_group: {AGENT}}
        if lead_group:
            self._roles[lead_group] = self._roles.get(lead_group, set()) | {LEAD}
        for group in privileged_groups:
            self._roles[group] = self._roles.get(group, set()) | {PRIVILEGED}

    async def roles_of(self, object_id: str) -> set[str]:
        groups = await self._membership.member_of(object_id, sorted(self._roles))
        return set().union(*(self._roles[g] for g in groups)) if groups else set()
