"""A small Azure Key Vault *secrets* REST emulator on loopback TLS, for the real SecretClient.

Speaks api-version 7.6 shapes: challenge auth (401 + WWW-Authenticate on requests without a bearer token),
set/get/update/list secrets and versions, soft delete, get deleted, purge, recover, and Key Vault's quirks that
matter to us: GET of a disabled secret is 403 Forbidden/SecretDisabled; names are case-insensitive; a name in
the deleted state cannot be set (409). Faults per secret name or global: "429" (Retry-After), "500", "403",
"hang" (no answer until the server stops). `counts` tallies authenticated requests by (method, kind);
`challenges` tallies the unauthenticated ones that got the 401 challenge.

In tests: the `kv_emulator` fixture (import it, or list this module in `pytest_plugins`). By hand:
    python -m tests.kv_emulator --port 8443 --cert-dir /tmp/kv   # GET /_emulator/counts for the tallies
"""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
from aiohttp import web
from azure.core.credentials import AccessToken

from tests.kv_tls import CertPaths, make_loopback_cert

TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
FAULTS = ("429", "500", "403", "hang")
_NAME = re.compile(r"[0-9A-Za-z-]{1,127}")
_ERRORS = {
    "429": ("Throttled", "Request was not processed because too many requests were received."),
    "500": ("InternalServerError", "An unexpected error occurred."),
    "403": ("Forbidden", "Caller is not authorized to perform action on resource."),
}


@dataclass
class Version:
    id: str
    value: str
    content_type: str | None
    tags: dict[str, str]
    enabled: bool = True
    exp: int | None = None
    nbf: int | None = None
    created: int = field(default_factory=lambda: int(time.time()))
    updated: int = field(default_factory=lambda: int(time.time()))


@dataclass
class Deleted:
    name: str
    versions: list[Version]
    deleted_date: int
    scheduled_purge_date: int


@dataclass
class Fault:
    kind: str
    retry_after: str | None = None
    remaining: int | None = None  # None: every request


class StubCredential:
    """An async token credential that hands out a fake token and records what it was asked for."""

    def __init__(self, token: str = "fake-token") -> None:
        self.token, self.requests = token, []

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.requests.append((scopes, kwargs.get("tenant_id")))
        return AccessToken(self.token, int(time.time()) + 3600)

    async def close(self) -> None:
        pass

    async def __aenter__(self) -> "StubCredential":
        return self

    async def __aexit__(self, *args: Any) -> None:
        pass


class KeyVaultEmulator:
    def __init__(self, cert: CertPaths, *, port: int = 0, purge_protection: bool = False) -> None:
        self.cert, self.purge_protection, self.recoverable_days = cert, purge_protection, 90
        self.secrets: dict[str, list[Version]] = {}  # lower-cased name -> versions, oldest first
        self.deleted: dict[str, Deleted] = {}
        self.faults: dict[str | None, Fault] = {}  # None: every secret
        self.counts: Counter[tuple[str, str]] = Counter()
        self.challenges: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", port))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None

    # --- control, from tests -----------------------------------------------------------------
    def set_fault(self, kind: str, *, name: str | None = None, retry_after: float | str | None = None,
                  times: int | None = None) -> None:
        if kind not in FAULTS:
            raise ValueError(f"fault must be one of {FAULTS}")
        key = name.lower() if name else None
        self.faults[key] = Fault(kind, None if retry_after is None else str(retry_after), times)

    def clear_faults(self) -> None:
        self.faults.clear()

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()
            self.challenges.clear()

    def client_kwargs(self) -> dict[str, Any]:
        """What a SecretClient needs to talk to this emulator."""
        return {"verify_challenge_resource": False, "connection_verify": str(self.cert.cert), "api_version": "7.6"}

    def store(self, name: str, value: str, *, tags: dict[str, str] | None = None, content_type: str | None = None,
              enabled: bool = True, exp: int | None = None) -> Version:
        """Puts a secret version directly, bypassing HTTP, faults and counters."""
        version = Version(uuid.uuid4().hex, value, content_type, dict(tags or {}), enabled, exp)
        self.secrets.setdefault(name.lower(), []).append(version)
        return version

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> "KeyVaultEmulator":
        self._forget_challenge()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="kv-emulator", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("Key Vault emulator did not start")
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
        # The SDK caches challenges per host:port for the whole process; a reused port must start clean.
        from azure.keyvault.secrets._shared import http_challenge_cache

        http_challenge_cache.remove_challenge_for_url(self.url)

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._stopping = asyncio.Event()
        self._runner = web.AppRunner(self._app(), access_log=None, shutdown_timeout=1)
        self._loop.run_until_complete(self._runner.setup())
        site = web.SockSite(self._runner, self._sock, ssl_context=self.cert.server_context(), shutdown_timeout=1)
        self._loop.run_until_complete(site.start())
        ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _shutdown(self) -> None:
        self._stopping.set()  # release hung requests
        await self._runner.cleanup()

    # --- HTTP -------------------------------------------------------------------------------------
    def _app(self) -> web.Application:
        app = web.Application()
        add, op = app.router.add_route, self._op
        add("GET", "/secrets", op("secrets", self._list))
        add("GET", "/secrets/{name}/versions", op("versions", self._versions))
        add("PUT", "/secrets/{name}", op("secret", self._set))
        add("DELETE", "/secrets/{name}", op("secret", self._delete))
        add("GET", "/secrets/{name}/{version:[^/]*}", op("secret", self._get))
        add("GET", "/secrets/{name}", op("secret", self._get))
        add("PATCH", "/secrets/{name}/{version:[^/]*}", op("secret", self._update))
        add("GET", "/deletedsecrets/{name}", op("deletedsecret", self._get_deleted))
        add("DELETE", "/deletedsecrets/{name}", op("deletedsecret", self._purge))
        add("POST", "/deletedsecrets/{name}/recover", op("recover", self._recover))
        add("GET", "/_emulator/counts", self._counts_endpoint)
        add("POST", "/_emulator/faults", self._fault_endpoint)
        return app

    def _op(self, kind: str, handler: Any) -> Any:
        async def gate(request: web.Request) -> web.StreamResponse:
            key = (request.method, kind)
            if not request.headers.get("Authorization", "").startswith("Bearer "):
                with self._lock:
                    self.challenges[key] += 1
                challenge = (f'Bearer authorization="https://login.microsoftonline.com/{TENANT_ID}", '
                             'resource="https://vault.azure.net"')
                return _error(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.",
                              headers={"WWW-Authenticate": challenge})
            with self._lock:
                self.counts[key] += 1
            if "api-version" not in request.query:
                return _error(400, "BadParameter", "The 'api-version' query parameter is missing.")
            name = request.match_info.get("name")
            if name is not None and not _NAME.fullmatch(name):
                return _error(400, "BadParameter", "The secret name is invalid.")
            fault = self._take_fault(name)
            if fault is None:
                return await handler(request, name.lower() if name else None)
            if fault.kind == "hang":
                await self._stopping.wait()
                return _error(503, "ServiceUnavailable", "The emulator is stopping.")
            code, message = _ERRORS[fault.kind]
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            return _error(int(fault.kind), code, message, headers=headers)

        return gate

    def _take_fault(self, name: str | None) -> Fault | None:
        key = name.lower() if name and name.lower() in self.faults else None
        fault = self.faults.get(key)
        if fault and fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                del self.faults[key]
        return fault

    def _bundle(self, request: web.Request, name: str, v: Version, *, value: bool = True) -> dict[str, Any]:
        level = "Recoverable" if self.purge_protection else "Recoverable+Purgeable"
        attributes = {"enabled": v.enabled, "created": v.created, "updated": v.updated,
                      "recoveryLevel": level, "recoverableDays": self.recoverable_days}
        attributes.update({k: t for k, t in (("exp", v.exp), ("nbf", v.nbf)) if t is not None})
        body: dict[str, Any] = {"id": f"https://{request.host}/secrets/{name}/{v.id}", "attributes": attributes}
        if v.tags:
            body["tags"] = v.tags
        if v.content_type:
            body["contentType"] = v.content_type
        if value:
            body["value"] = v.value
        return body

    def _deleted_bundle(self, request: web.Request, d: Deleted) -> dict[str, Any]:
        body = self._bundle(request, d.name, d.versions[-1], value=False)
        body.update(recoveryId=f"https://{request.host}/deletedsecrets/{d.name}",
                    deletedDate=d.deleted_date, scheduledPurgeDate=d.scheduled_purge_date)
        return body

    async def _set(self, request: web.Request, name: str) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("value"), str) or len(body.get("tags") or {}) > 15:
            return _error(400, "BadParameter", "The request body is not a valid secret.")
        attrs = body.get("attributes") or {}
        if name in self.deleted:
            return _error(409, "Conflict", f"Secret {name} is currently in a deleted but recoverable state, "
                          "and its name cannot be reused; in this state, the secret can only be recovered or purged.")
        version = self.store(name, body["value"], tags=body.get("tags"), content_type=body.get("contentType"),
                             enabled=attrs.get("enabled", True) is not False, exp=attrs.get("exp"))
        version.nbf = attrs.get("nbf")
        return web.json_response(self._bundle(request, name, version))

    def _find(self, name: str, version_id: str = "") -> Version | web.Response:
        versions = self.secrets.get(name, [])
        found = [v for v in versions if v.id == version_id] if version_id else versions[-1:]
        if not found:
            ident = f"{name}/{version_id}" if version_id else name
            return _error(404, "SecretNotFound", f"A secret with (name/id) {ident} was not found in this key vault.")
        return found[0]

    async def _get(self, request: web.Request, name: str) -> web.Response:
        version = self._find(name, request.match_info.get("version", ""))
        if isinstance(version, web.Response):
            return version
        if not version.enabled:
            return _error(403, "Forbidden", "Operation get is not allowed on a disabled secret.",
                          inner="SecretDisabled")
        return web.json_response(self._bundle(request, name, version))

    async def _update(self, request: web.Request, name: str) -> web.Response:
        version = self._find(name, request.match_info.get("version", ""))
        if isinstance(version, web.Response):
            return version
        body = await request.json()
        attrs = body.get("attributes") or {}
        for key in ("enabled", "exp", "nbf"):
            if key in attrs:
                setattr(version, key, attrs[key])
        if "tags" in body:
            version.tags = dict(body["tags"] or {})
        if "contentType" in body:
            version.content_type = body["contentType"]
        version.updated = int(time.time())
        return web.json_response(self._bundle(request, name, version, value=False))

    def _items(self, request: web.Request, name: str, versions: list[Version], *, with_version: bool) -> list:
        items = []
        for v in versions:
            item = self._bundle(request, name, v, value=False)
            if not with_version:
                item["id"] = f"https://{request.host}/secrets/{name}"
            items.append(item)
        return items

    async def _list(self, request: web.Request, _: None) -> web.Response:
        items = [i for n, vs in self.secrets.items() for i in self._items(request, n, vs[-1:], with_version=False)]
        return web.json_response({"value": items, "nextLink": None})

    async def _versions(self, request: web.Request, name: str) -> web.Response:
        items = self._items(request, name, self.secrets.get(name, []), with_version=True)
        return web.json_response({"value": items, "nextLink": None})

    async def _delete(self, request: web.Request, name: str) -> web.Response:
        if name not in self.secrets:
            return self._find(name)  # type: ignore[return-value]  # the 404
        now = int(time.time())
        deleted = Deleted(name, self.secrets.pop(name), now, now + self.recoverable_days * 86400)
        self.deleted[name] = deleted
        return web.json_response(self._deleted_bundle(request, deleted))

    def _find_deleted(self, name: str) -> Deleted | web.Response:
        if name not in self.deleted:
            return _error(404, "SecretNotFound", f"Deleted Secret not found: {name}")
        return self.deleted[name]

    async def _get_deleted(self, request: web.Request, name: str) -> web.Response:
        deleted = self._find_deleted(name)
        return deleted if isinstance(deleted, web.Response) else web.json_response(
            self._deleted_bundle(request, deleted))

    async def _purge(self, request: web.Request, name: str) -> web.Response:
        deleted = self._find_deleted(name)
        if isinstance(deleted, web.Response):
            return deleted
        if self.purge_protection:
            return _error(403, "Forbidden", 'Operation "purge" is not allowed because purge protection is '
                          "enabled for this vault. Key Vault service will automatically purge it after the "
                          "retention period has passed.")
        del self.deleted[name]
        return web.Response(status=204)

    async def _recover(self, request: web.Request, name: str) -> web.Response:
        deleted = self._find_deleted(name)
        if isinstance(deleted, web.Response):
            return deleted
        if name in self.secrets:
            return _error(409, "Conflict", f"Secret {name} already exists.")
        self.secrets[name] = self.deleted.pop(name).versions
        return web.json_response(self._bundle(request, name, self.secrets[name][-1], value=False))

    async def _counts_endpoint(self, request: web.Request) -> web.Response:
        with self._lock:
            tallies = {"counts": list(self.counts.items()), "challenges": list(self.challenges.items())}
        return web.json_response({k: [[m, kind, n] for (m, kind), n in v] for k, v in tallies.items()})

    async def _fault_endpoint(self, request: web.Request) -> web.Response:
        body = await request.json()  # {"kind": "429", "name": null, "retry_after": 30, "times": null} or {}
        if not body.get("kind"):
            self.clear_faults()
        else:
            self.set_fault(body["kind"], name=body.get("name"), retry_after=body.get("retry_after"),
                           times=body.get("times"))
        return web.Response(status=204)


def _error(status: int, code: str, message: str, *, inner: str | None = None,
           headers: dict[str, str] | None = None) -> web.Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if inner:
        error["innererror"] = {"code": inner}
    return web.json_response({"error": error}, status=status, headers=headers)


@pytest.fixture(scope="session")
def kv_cert(tmp_path_factory: pytest.TempPathFactory) -> CertPaths:
    return make_loopback_cert(tmp_path_factory.mktemp("kv-tls"))


@pytest.fixture
def kv_emulator(kv_cert: CertPaths) -> Iterator[KeyVaultEmulator]:
    with KeyVaultEmulator(kv_cert) as emulator:
        yield emulator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--cert-dir", type=Path, required=True)
    parser.add_argument("--purge-protection", action="store_true")
    args = parser.parse_args()
    cert = make_loopback_cert(args.cert_dir)
    with KeyVaultEmulator(cert, port=args.port, purge_protection=args.purge_protection) as emulator:
        print(f"Key Vault emulator on {emulator.url} (trust {cert.cert}); Ctrl-C stops it", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
