"""Key Vault secrets REST semantics for tests/support/kv_emulator.py: state, faults, counters and the aiohttp routes.

Speaks api-version 7.6 shapes, with the Key Vault quirks that matter to us: requests without a bearer token get
the 401 challenge; GET of a disabled secret is 403 Forbidden/SecretDisabled; names are case-insensitive; a name
held by a soft-deleted secret cannot be set (409); purge is 403 under purge protection.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

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


class Vault:
    """One vault. Tests read `secrets`, `deleted`, `counts` and `challenges` directly."""

    def __init__(self, *, purge_protection: bool = False) -> None:
        self.purge_protection, self.recoverable_days = purge_protection, 90
        self.secrets: dict[str, list[Version]] = {}  # lower-cased name -> versions, oldest first
        self.deleted: dict[str, Deleted] = {}
        self.faults: dict[str | None, Fault] = {}  # None: every secret
        self.counts: Counter[tuple[str, str]] = Counter()  # authenticated requests by (method, kind)
        self.challenges: Counter[tuple[str, str]] = Counter()  # token-less requests answered with the 401
        self._lock = threading.Lock()

    def set_fault(self, kind: str, *, name: str | None = None, retry_after: float | str | None = None,
                  times: int | None = None) -> None:
        """Makes requests for `name` (or every request) fail; `times` limits how many."""
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

    def store(self, name: str, value: str, *, tags: dict[str, str] | None = None, content_type: str | None = None,
              enabled: bool = True, exp: int | None = None) -> Version:
        """Adds a secret version directly, bypassing HTTP, faults and counters."""
        version = Version(uuid.uuid4().hex, value, content_type, dict(tags or {}), enabled, exp)
        self.secrets.setdefault(name.lower(), []).append(version)
        return version

    async def release_hung(self) -> None:
        self._stopping.set()

    def app(self) -> web.Application:
        self._stopping = asyncio.Event()  # made here: app() runs on the serving loop
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
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _error(400, "BadParameter", "The request body is not valid.")
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
