"""Audit checkpoints in Key Vault, through the real SecretClient against the emulator: versions are published and
the newest read back; a deleted checkpoint secret (soft-deleted) is reported as tampering, not as "none yet"."""

from datetime import datetime, timezone

import pytest
from azure.keyvault.secrets.aio import SecretClient

from bot.adapters.audit_checkpoints import CONTENT_TYPE, SECRET_NAME, KeyVaultCheckpoints
from bot.core.audit_checkpoint import Checkpoint, CheckpointTampered
from tests.support.kv_emulator import StubCredential, kv_cert, kv_emulator  # noqa: F401  (fixtures)

AT = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
async def store(kv_emulator):
    client = SecretClient(kv_emulator.url, StubCredential(), **kv_emulator.client_kwargs())
    yield KeyVaultCheckpoints(client)
    await client.close()


async def test_publish_then_latest_reads_the_newest_version(store, kv_emulator):
    assert await store.latest() is None
    await store.publish(Checkpoint(5, "a" * 64, AT, AT))
    await store.publish(Checkpoint(9, "b" * 64, AT, AT))
    assert await store.latest() == Checkpoint(9, "b" * 64, AT, AT)
    versions = kv_emulator.secrets[SECRET_NAME]
    assert [(v.content_type, v.tags) for v in versions] == [(CONTENT_TYPE, {"seq": "5"}), (CONTENT_TYPE, {"seq": "9"})]


async def test_a_deleted_checkpoint_secret_is_tampering(store, kv_emulator):
    await store.publish(Checkpoint(5, "a" * 64, AT, AT))
    from tests.support.kv_vault import Deleted

    kv_emulator.deleted[SECRET_NAME] = Deleted(SECRET_NAME, kv_emulator.secrets.pop(SECRET_NAME), 0, 0)
    with pytest.raises(CheckpointTampered, match="was deleted"):
        await store.latest()
