"""A Key Vault secrets emulator on loopback TLS that the real azure SecretClient talks to.

The REST semantics live in tests/support/kv_vault.py; this module adds the run-time certificate, a thread with its own
event loop (so it serves sync and async tests alike, and a hung request never blocks the test's loop), a stub
credential, pytest fixtures and a command line.

In a test (import the fixtures, or list this module in the root conftest's `pytest_plugins`):

    from tests.support.kv_emulator import StubCredential, kv_cert, kv_emulator  # noqa: F401
    async def test_x(kv_emulator):
        client = SecretClient(kv_emulator.url, StubCredential(), **kv_emulator.client_kwargs())
        kv_emulator.set_fault("429", name="totp-...", retry_after=30, times=None)
        ...
        assert kv_emulator.counts[("GET", "secret")] == 1

By hand or for a benchmark (GET /_emulator/counts returns the tallies; POST /_emulator/faults sets a fault):

    python -m tests.support.kv_emulator --port 8443 --cert-dir /tmp/kv
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import signal
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from aiohttp import web
from azure.core.credentials import AccessToken
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.kv_vault import FAULTS, TENANT_ID, Vault  # noqa: F401  (re-exported for tests)


@dataclass(frozen=True)
class CertPaths:
    cert: Path  # PEM; clients trust it directly: connection_verify=str(cert)
    key: Path  # PEM, mode 0600

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


def make_loopback_cert(directory: Path | str) -> CertPaths:
    """A fresh self-signed certificate for 127.0.0.1 and localhost, written to directory/{cert,key}.pem."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(timezone.utc)
    unused = ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement", "crl_sign",
              "encipher_only", "decipher_only")
    san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        # CA:TRUE so OpenSSL accepts the certificate as its own trust anchor (cafile=cert).
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, **dict.fromkeys(unused, False)),
                       critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    paths = CertPaths(directory / "cert.pem", directory / "key.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    with os.fdopen(os.open(paths.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
        out.write(pem)
    return paths


class StubCredential:
    """An async token credential handing out a fake token; `requests` records (scopes, tenant_id)."""

    def __init__(self, token: str = "fake-token") -> None:
        self.token, self.requests, self.closed = token, [], False

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.requests.append((scopes, kwargs.get("tenant_id")))
        return AccessToken(self.token, int(time.time()) + 3600)

    async def close(self) -> None:
        self.closed = True

    async def __aenter__(self) -> "StubCredential":
        return self

    async def __aexit__(self, *args: Any) -> None:
        await self.close()


class KeyVaultEmulator(Vault):
    """A Vault served on https://127.0.0.1:<port> from a background thread. Use as a context manager."""

    def __init__(self, cert: CertPaths, *, port: int = 0, purge_protection: bool = False) -> None:
        super().__init__(purge_protection=purge_protection)
        self.cert = cert
        self._sock = socket.create_server(("127.0.0.1", port))  # bound now, so the port is known at once
        self.port: int = self._sock.getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    def client_kwargs(self) -> dict[str, Any]:
        """What a SecretClient needs to talk to this emulator."""
        return {"verify_challenge_resource": False, "connection_verify": str(self.cert.cert), "api_version": "7.6"}

    def start(self) -> "KeyVaultEmulator":
        self._forget_challenge()
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="kv-emulator", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("The Key Vault emulator did not start.")
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._thread = None
        self._forget_challenge()

    def __enter__(self) -> "KeyVaultEmulator":
        return self.start()

    def __exit__(self, *args: Any) -> None:
        self.stop()

    def _forget_challenge(self) -> None:
        # The SDK caches the challenge per host:port for the whole process; a reused port must start clean.
        from azure.keyvault.secrets._shared import http_challenge_cache

        http_challenge_cache.remove_challenge_for_url(self.url)

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=1)
        self._loop.run_until_complete(self._runner.setup())
        site = web.SockSite(self._runner, self._sock, ssl_context=self.cert.server_context())
        self._loop.run_until_complete(site.start())
        ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _shutdown(self) -> None:
        await self.release_hung()
        await self._runner.cleanup()


@pytest.fixture(scope="session")
def kv_cert(tmp_path_factory: pytest.TempPathFactory) -> CertPaths:
    return make_loopback_cert(tmp_path_factory.mktemp("kv-tls"))


@pytest.fixture
def kv_emulator(kv_cert: CertPaths) -> Iterator[KeyVaultEmulator]:
    """A fresh, empty vault per test; set `purge_protection`, faults and secrets on it freely."""
    with KeyVaultEmulator(kv_cert) as emulator:
        yield emulator


def main() -> None:
    parser = argparse.ArgumentParser(description="Key Vault secrets emulator on loopback TLS")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--cert-dir", type=Path, required=True)
    parser.add_argument("--purge-protection", action="store_true")
    args = parser.parse_args()
    cert = make_loopback_cert(args.cert_dir)
    with KeyVaultEmulator(cert, port=args.port, purge_protection=args.purge_protection) as emulator:
        print(f"Key Vault emulator on {emulator.url} (trust {cert.cert}, tenant {TENANT_ID}); Ctrl-C or SIGTERM stops it",
              flush=True)
        done = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: done.set())
        done.wait()


if __name__ == "__main__":
    main()
