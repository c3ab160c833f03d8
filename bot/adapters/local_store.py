"""LocalSecretStore: seeds in one AES-GCM encrypted file, for local mode and small setups."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..core.errors import DependencyUnavailable, SeedNotFound
from ..core.models import Seed, TokenStatus, TotpParams
from .files import read_or_create_key, write_atomically

_AAD = b"otpbot-local-seeds-v1"


class LocalSecretStore:
    def __init__(self, path: Path, key_path: Path) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._aead = AESGCM(read_or_create_key(Path(key_path)))
        self._lock = asyncio.Lock()

    async def get_seed(self, object_id: str) -> Seed:
        record = self._load().get(object_id)
        if record is None:
            raise SeedNotFound("No token is enrolled for that user.")
        return _seed_from(object_id, record)

    async def put_seed(self, seed: Seed) -> None:
        async with self._lock:
            records = self._load()
            records[seed.object_id] = _record_from(seed)
            self._save(records)

    async def describe(self, object_id: str) -> Seed:
        return replace(await self.get_seed(object_id), secret="")

    async def list_seeds(self) -> list[Seed]:
        """Metadata only (secret ""), like Key Vault's property listing."""
        return [replace(_seed_from(oid, record), secret="") for oid, record in sorted(self._load().items())]

    async def set_status(self, object_id: str, status: TokenStatus) -> None:
        await self._change(object_id, status=TokenStatus(status).value)

    async def disable(self, object_id: str) -> None:
        await self._change(object_id, enabled=False)

    async def delete_and_purge(self, object_id: str) -> None:
        """The file keeps no deleted copies: deleting is purging."""
        async with self._lock:
            records = self._load()
            if records.pop(object_id, None) is None:
                raise SeedNotFound("No token is enrolled for that user.")
            self._save(records)

    async def _change(self, object_id: str, **fields) -> None:
        async with self._lock:
            records = self._load()
            if object_id not in records:
                raise SeedNotFound("No token is enrolled for that user.")
            records[object_id].update(fields)
            self._save(records)

    async def close(self) -> None:
        pass

    def _load(self) -> dict:
        try:
            blob = self._path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            return json.loads(self._aead.decrypt(blob[:12], blob[12:], _AAD))
        except (InvalidTag, ValueError):
            raise DependencyUnavailable("The local seed store cannot be decrypted with its key file.") from None

    def _save(self, records: dict) -> None:
        nonce = os.urandom(12)
        plain = json.dumps(records, sort_keys=True).encode()
        write_atomically(self._path, nonce + self._aead.encrypt(nonce, plain, _AAD))


def _record_from(seed: Seed) -> dict:
    return {
        "upn": seed.upn, "secret": seed.secret, "period": seed.params.period, "digits": seed.params.digits,
        "algorithm": seed.params.algorithm.value, "status": seed.status.value, "serial": seed.serial,
        "enabled": seed.enabled, "expires_at": seed.expires_at.isoformat() if seed.expires_at else None,
        "not_before": seed.not_before.isoformat() if seed.not_before else None, "version": uuid.uuid4().hex,
    }


def _seed_from(object_id: str, r: dict) -> Seed:
    return Seed(
        object_id=object_id, upn=r["upn"], secret=r["secret"],
        params=TotpParams(r["period"], r["digits"], r["algorithm"]), status=TokenStatus(r["status"]),
        serial=r.get("serial"), enabled=r.get("enabled", True),
        expires_at=datetime.fromisoformat(r["expires_at"]) if r.get("expires_at") else None,
        not_before=datetime.fromisoformat(r["not_before"]) if r.get("not_before") else None,
        version=r.get("version") or "",
    )
