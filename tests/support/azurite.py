"""Azurite (npm `azurite`) for tests: started once per session on loopback, in OAuth mode over TLS.

Auth: Azurite runs with `--oauth basic` over HTTPS (certificate made at test time), and tests talk to it
with a stub *token* credential, so the production code path (bearer tokens, no account keys) is what runs.
Azurite's basic OAuth checks a token's issuer, audience and lifetime but not its signature, so the stub
hands out an HS256 JWT with storage's audience. A token with the wrong audience is refused (403).

Set AZURITE_BLOB_URL and AZURITE_TABLE_URL (account URLs, e.g. http://127.0.0.1:10000/devstoreaccount1) to
use an already-running Azurite instead; for https add AZURITE_CA_CERT, otherwise the well-known dev account
key is used (http cannot carry bearer tokens).

    from tests.support.azurite import azurite  # noqa: F401  (the fixture)
    async def test_x(azurite):
        name = await azurite.new_container()
        container = azurite.container(name)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import jwt
import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.data.tables.aio import TableClient
from azure.storage.blob.aio import ContainerClient

from bot.adapters.azure_audit import client_options as table_options
from bot.adapters.azure_storage import container_client
from tests.support.kv_emulator import StubCredential, make_loopback_cert

ROOT = Path(__file__).resolve().parents[2]
AZURITE = ROOT / "node_modules" / ".bin" / "azurite"
ACCOUNT = "devstoreaccount1"
# Azurite's published development key (tests only; production uses a managed identity).
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
TENANT = "00000000-0000-4000-8000-0000000000aa"
_LISTENING = re.compile(r"Azurite (Blob|Table) service is successfully listening at (\S+)")


def storage_token(audience: str = "https://storage.azure.com", lifetime_s: int = 3600) -> str:
    now = int(time.time())
    claims = {"aud": audience, "iss": f"https://sts.windows.net/{TENANT}/", "iat": now - 60, "nbf": now - 60,
              "exp": now + lifetime_s, "oid": "00000000-0000-4000-8000-00000000b0b0", "tid": TENANT}
    return jwt.encode(claims, "azurite-does-not-check-signatures-" + "x" * 16, algorithm="HS256")


@dataclass
class Azurite:
    blob_url: str  # account URLs: https://127.0.0.1:<port>/devstoreaccount1
    table_url: str
    ca_cert: str | None  # trust this certificate (https), None for http
    oauth: bool

    def credential(self, audience: str = "https://storage.azure.com") -> Any:
        if self.oauth:
            return StubCredential(storage_token(audience))
        return AzureNamedKeyCredential(ACCOUNT, DEV_KEY)

    def _tls(self) -> dict[str, Any]:
        return {"connection_verify": self.ca_cert} if self.ca_cert else {}

    def container(self, name: str, credential: Any = None) -> ContainerClient:
        """A new client (its own connection pool) built the way production builds one."""
        return container_client(self.blob_url, name, credential or self.credential(), **self._tls())

    def table(self, name: str, credential: Any = None) -> TableClient:
        return TableClient(self.table_url, name, credential=credential or self.credential(),
                           **{**table_options(), **self._tls()})

    async def new_container(self) -> str:
        name = f"t{uuid.uuid4().hex[:20]}"
        async with self.container(name) as client:
            await client.create_container()
        return name

    async def new_table(self) -> str:
        name = f"t{uuid.uuid4().hex[:20]}"
        async with self.table(name) as client:
            await client.create_table()
        return name


def _start(workdir: Path) -> tuple[subprocess.Popen, Azurite, Path]:
    cert = make_loopback_cert(workdir / "tls")
    log_path = workdir / "azurite.log"
    args = [str(AZURITE), "--blobHost", "127.0.0.1", "--blobPort", "0", "--tableHost", "127.0.0.1", "--tablePort", "0",
            "--queueHost", "127.0.0.1", "--queuePort", "0", "--disableTelemetry", "--skipApiVersionCheck",
            "--inMemoryPersistence", "--extentMemoryLimit", "256", "--silent",
            "--oauth", "basic", "--cert", str(cert.cert), "--key", str(cert.key)]
    env = {k: v for k, v in os.environ.items() if k != "AZURITE_ACCOUNTS"}  # the default dev account only
    with open(log_path, "wb") as log:
        process = subprocess.Popen(args, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        urls = dict(_LISTENING.findall(log_path.read_text(errors="replace")))
        if len(urls) == 2:
            return process, Azurite(f"{urls['Blob']}/{ACCOUNT}", f"{urls['Table']}/{ACCOUNT}", str(cert.cert),
                                    True), log_path
        if process.poll() is not None:
            break
        time.sleep(0.05)
    _stop(process)
    raise RuntimeError(f"Azurite did not start; its output:\n{log_path.read_text(errors='replace')[-2000:]}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _external() -> Azurite | None:
    blob, table = os.environ.get("AZURITE_BLOB_URL"), os.environ.get("AZURITE_TABLE_URL")
    if not (blob and table):
        return None
    https = blob.startswith("https://") and table.startswith("https://")
    return Azurite(blob.rstrip("/"), table.rstrip("/"), os.environ.get("AZURITE_CA_CERT"), https)


_running: dict[str, Any] = {"users": 0}


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """Each test module that imports this fixture gets its own copy of it; they share one Azurite process."""
    external = _external()
    if external is not None:
        yield external
        return
    if _running["users"] == 0:
        if not AZURITE.exists() or shutil.which("node") is None:
            pytest.fail(f"Azurite is not installed: run `npm ci` (expected {AZURITE})")
        _running["process"], _running["endpoints"], _ = _start(tmp_path_factory.mktemp("azurite"))
    _running["users"] += 1
    try:
        yield _running["endpoints"]
    finally:
        _running["users"] -= 1
        if _running["users"] == 0:
            _stop(_running.pop("process"))
