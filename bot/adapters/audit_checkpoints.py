"""Where checkpoints live (core/audit_checkpoint.py): Key Vault in production, a keyed file locally.

Key Vault: one secret, `otpbot-audit-checkpoint`, one version per checkpoint. Whoever writes the audit Table
(Storage Table Data Contributor) holds no Key Vault role, so cannot write, rewrite or delete it; versions cannot
be deleted one by one, and deleting the secret leaves it soft-deleted (recoverable; kept under purge
protection), which `latest` reports as tampering. Local mode: the same record in a file beside audit.sqlite,
sealed with HMAC-SHA256 under its own 0600 key file, so a writer of audit.sqlite without that key cannot forge
one (deleting the file is not detectable locally: Key Vault's soft delete has no file equivalent).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from pathlib import Path

from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.keyvault.secrets.aio import SecretClient

from ..core.audit_checkpoint import Checkpoint, CheckpointTampered
from ..core.errors import DependencyUnavailable
from .files import read_or_create_key, write_atomically

SECRET_NAME = "otpbot-audit-checkpoint"
CONTENT_TYPE = "application/vnd.otpbot.audit-checkpoint"
DEADLINE = 5.0
UNAVAILABLE = "Key Vault did not answer, so the audit checkpoint could not be read or written."


class KeyVaultCheckpoints:
    def __init__(self, client: SecretClient, *, deadline: float = DEADLINE) -> None:
        self._client, self._deadline = client, deadline

    async def latest(self) -> Checkpoint | None:
        try:
            secret = await asyncio.wait_for(self._client.get_secret(SECRET_NAME), self._deadline)
        except ResourceNotFoundError:
            return await self._none_or_deleted()
        except (AzureError, asyncio.TimeoutError) as error:
            raise DependencyUnavailable(UNAVAILABLE) from error
        return Checkpoint.from_dict(json.loads(secret.value or "{}"))

    async def _none_or_deleted(self) -> None:
        try:
            await asyncio.wait_for(self._client.get_deleted_secret(SECRET_NAME), self._deadline)
        except ResourceNotFoundError:
            return None
        except (AzureError, asyncio.TimeoutError) as error:
            raise DependencyUnavailable(UNAVAILABLE) from error
        raise CheckpointTampered(f"the Key Vault secret {SECRET_NAME} holding the audit checkpoints was deleted")

    async def publish(self, checkpoint: Checkpoint) -> None:
        try:
            await asyncio.wait_for(self._client.set_secret(
                SECRET_NAME, json.dumps(checkpoint.to_dict(), sort_keys=True), content_type=CONTENT_TYPE,
                tags={"seq": str(checkpoint.seq)}), self._deadline)
        except (AzureError, asyncio.TimeoutError) as error:
            raise DependencyUnavailable(UNAVAILABLE) from error

    async def close(self) -> None:
        await self._client.close()


class LocalCheckpoints:
    def __init__(self, path: Path, key_path: Path) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._key = read_or_create_key(Path(key_path))

    async def latest(self) -> Checkpoint | None:
        try:
            sealed = json.loads(self._path.read_text())
        except FileNotFoundError:
            return None
        body = json.dumps(sealed.get("checkpoint"), sort_keys=True)
        if not hmac.compare_digest(str(sealed.get("mac", "")), self._mac(body)):
            raise CheckpointTampered(f"the audit checkpoint file {self._path.name} was changed by someone without "
                                     "its key")
        return Checkpoint.from_dict(sealed["checkpoint"])

    async def publish(self, checkpoint: Checkpoint) -> None:
        body = json.dumps(checkpoint.to_dict(), sort_keys=True)
        write_atomically(self._path, json.dumps({"checkpoint": checkpoint.to_dict(), "mac": self._mac(body)}).encode())

    def _mac(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()

    async def close(self) -> None:
        pass
