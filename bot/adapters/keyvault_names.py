"""Which Key Vault secret holds a user's current seed: `totp-<objectId>` for the first token (every name
stored before this existed keeps working), then `totp-<objectId>-2`, `-3`, … for each token after a destroyed
one. Why: with purge protection on, a destroyed seed's name stays reserved in the soft-deleted state for up to
90 days (a set answers 409), and a user who lost their token needs a new one now.

A new generation is taken only when no earlier one is live, so the live one is the only one; it is found from
the vault itself (the names are the record): the cached name first, and on a miss each generation in turn until
one is live, or neither live nor deleted (nothing beyond it). Each instance caches what it found; a name that
another instance destroyed meanwhile answers 404, which drops the cache and looks again.
"""

from __future__ import annotations

import re

from azure.core.exceptions import ResourceNotFoundError
from azure.keyvault.secrets.aio import SecretClient

MAX_GENERATIONS = 50
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_NAME = re.compile(rf"totp-({_GUID.pattern})(?:-([1-9][0-9]?))?", re.IGNORECASE)


def secret_name(object_id: str, generation: int = 1) -> str:
    """`totp-<objectId>` (generation 1) or `totp-<objectId>-<n>`; only a GUID is accepted, so names cannot
    collide or carry anything else."""
    if not isinstance(object_id, str) or not _GUID.fullmatch(object_id):
        raise ValueError("An Entra object id must be a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx).")
    base = f"totp-{object_id.lower()}"
    return base if generation == 1 else f"{base}-{generation}"


def parse_name(name: str) -> tuple[str, int] | None:
    """(object id, generation) of one of our secret names, else None."""
    match = _NAME.fullmatch(name or "")
    return (match.group(1).lower(), int(match.group(2) or 1)) if match else None


class SeedNames:
    def __init__(self, client: SecretClient) -> None:
        self._client = client
        self._live: dict[str, str] = {}

    def guess(self, object_id: str) -> str:
        """The cached live name, else generation 1: one request for every token enrolled before generations."""
        return self._live.get(object_id) or secret_name(object_id)

    def forget(self, object_id: str) -> None:
        self._live.pop(object_id, None)

    def remember(self, object_id: str, name: str) -> None:
        self._live[object_id] = name

    async def live(self, object_id: str) -> str | None:
        """The live generation's name, looked up in the vault; None when no seed is live."""
        self.forget(object_id)
        for generation in range(1, MAX_GENERATIONS + 1):
            name = secret_name(object_id, generation)
            if await self._exists(name):
                self.remember(object_id, name)
                return name
            if not await self._deleted(name):
                return None
        return None

    async def free(self, object_id: str, after: int = 0) -> str:
        """The first generation above `after` whose name is neither live nor soft-deleted: for a new token."""
        for generation in range(after + 1, MAX_GENERATIONS + 1):
            name = secret_name(object_id, generation)
            if not await self._exists(name) and not await self._deleted(name):
                return name
        raise ResourceNotFoundError(f"no free secret name left for {object_id}")

    async def latest_deleted(self, object_id: str) -> str | None:
        """The newest soft-deleted generation (a destroy that stopped after its delete)."""
        found = None
        for generation in range(1, MAX_GENERATIONS + 1):
            name = secret_name(object_id, generation)
            if await self._deleted(name):
                found = name
            elif not await self._exists(name):
                return found
        return found

    async def _exists(self, name: str) -> bool:
        try:
            async for _ in self._client.list_properties_of_secret_versions(name):
                return True
        except ResourceNotFoundError:
            pass
        return False

    async def _deleted(self, name: str) -> bool:
        try:
            await self._client.get_deleted_secret(name)
        except ResourceNotFoundError:
            return False
        return True
