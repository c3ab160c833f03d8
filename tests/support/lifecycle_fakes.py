"""The secret-store fake with the lifecycle calls (describe, list_seeds, set_status, disable, delete_and_purge),
and a harness for lifecycle tests. Metadata calls hand out copies without the secret, like Key Vault's listings;
`reads` (from FakeSecretStore) counts only value reads, so tests can assert no seed value was read."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from bot.core.errors import SeedNotFound
from bot.core.models import Seed, TokenStatus
from bot.runtime.lifecycle_settings import LifecycleSettings
from tests.support.harness import ADA_PERSON, ALICE, BEN_PERSON, BOB, CAROL, LEE, MIA, start_harness
from tests.support.fakes import FakeDirectory, FakeSecretStore

HELPDESK = "19:helpdesk-general@thread.tacv2"
DAVE = type(ALICE)("dave@contoso.example", "00000000-0000-4000-8000-0000000000c4", "Dave User", "+44 20 7946 0999")
PEOPLE = (ALICE, BOB, CAROL, DAVE, ADA_PERSON, MIA, LEE, BEN_PERSON)


class LifecycleSecretStore(FakeSecretStore):
    def __init__(self, *seeds: Seed, purge_protection: bool = False, clock=None) -> None:
        super().__init__(*seeds)
        self.purge_protection, self.clock = purge_protection, clock
        self.deleted: dict[str, Seed] = {}
        self.calls: list[tuple[str, str]] = []

    async def describe(self, object_id: str) -> Seed:
        self.calls.append(("describe", object_id))
        if self.fail:
            raise self.fail
        if object_id not in self.seeds:
            raise SeedNotFound("No token is enrolled for that user.")
        return replace(self.seeds[object_id], secret="")

    async def list_seeds(self) -> list[Seed]:
        self.calls.append(("list", ""))
        return [replace(seed, secret="") for _, seed in sorted(self.seeds.items())]

    async def set_status(self, object_id: str, status: TokenStatus) -> None:
        self._change("set_status", object_id, status=TokenStatus(status))

    async def disable(self, object_id: str) -> None:
        self._change("disable", object_id, enabled=False)

    async def delete_and_purge(self, object_id: str) -> datetime | None:
        self._change("delete", object_id, enabled=False)
        self.deleted[object_id] = self.seeds.pop(object_id)
        if self.purge_protection:
            return self.clock.now() + timedelta(days=90)
        del self.deleted[object_id]
        return None

    def _change(self, call: str, object_id: str, **fields) -> None:
        self.calls.append((call, object_id))
        if self.fail:
            raise self.fail
        if object_id not in self.seeds:
            raise SeedNotFound("No token is enrolled for that user.")
        self.seeds[object_id] = replace(self.seeds[object_id], **fields)


async def lifecycle_harness(clock, tmp_path, *seeds: Seed, secrets=None, lifecycle=None, env=None, **overrides):
    """start_harness with the lifecycle store (reachable as `h.store`), Dave (no token yet), leads as agents."""
    store = secrets or LifecycleSecretStore(*seeds, clock=clock)
    h = await start_harness(clock, tmp_path, secrets=store, directory=FakeDirectory(*PEOPLE),
                            lifecycle=lifecycle or LifecycleSettings(helpdesk_conversation_id=HELPDESK),
                            env=env, **overrides)
    h.store = store
    return h
