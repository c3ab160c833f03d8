"""A small Microsoft Graph v1.0 mock on 127.0.0.1 for the adapters in bot/adapters/graph.py.

    from tests.support.graph_mock import StubGraphCredential, graph_mock  # noqa: F401  (the fixture)
    async def test_x(graph_mock):
        alice = graph_mock.add_user("alice@contoso.example", mobile="+44 20 7946 0958", manager="lee@contoso.example")
        graph_mock.fail("user", "429", retry_after=30)          # kinds: user, manager, checkMemberGroups, sendMail
        client = GraphClient(session, StubGraphCredential(), base_url=graph_mock.url)
        ...
        assert graph_mock.counts["user"] == 1 and graph_mock.raw_paths[0] == "/v1.0/users/..."

Only what the adapters use is served: GET /users/{id|upn} (honouring $select; ids and UPNs resolve, UPNs
case-insensitively), GET /users/{id}/manager, POST /users/{id}/checkMemberGroups, POST /users/{upn}/sendMail.
Every request must carry `Authorization: Bearer test-token`, otherwise 401.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError

TOKEN = "test-token"
FAULTS = ("429", "500", "503", "504", "401", "403", "hang", "drop")


@dataclass
class Fault:
    status: str
    retry_after: str | None = None
    times: int | None = 1  # None = every request


class StubGraphCredential:
    """An async credential: AccessToken(token, now + expires_in). `calls` counts get_token; `scopes` records them."""

    def __init__(self, token: str = TOKEN, *, expires_in: int = 24 * 3600, fail: bool = False) -> None:
        self.token, self.expires_in, self.fail = token, expires_in, fail
        self.calls, self.scopes, self.closed = 0, [], False

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls += 1
        self.scopes.append(scopes)
        if self.fail:
            raise ClientAuthenticationError("stub credential refused: tenant 7f3a... secret expired")
        return AccessToken(self.token, int(time.time()) + self.expires_in)

    async def close(self) -> None:
        self.closed = True


class GraphMock:
    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {}  # id -> Graph user JSON
        self.managers: dict[str, str] = {}  # user id -> manager id
        self.groups: dict[str, set[str]] = {}  # user id -> transitive group ids (lower case)
        self.aliases: dict[str, str] = {}  # extra lookup key (lower case) -> user id, to fake odd resolutions
        self.extra_groups: list[str] = []  # added to every checkMemberGroups answer, as a misbehaving server
        self.sent_mail: list[tuple[str, Any]] = []  # (sender as addressed, JSON body)
        self.member_checks: list[tuple[str, Any]] = []  # (user key as addressed, JSON body)
        self.faults: dict[str, Fault] = {}
        self.counts: Counter[str] = Counter()  # by kind, every request including faulted ones
        self.raw_paths: list[str] = []
        self.country_letter_code: str | None = "GB"  # the tenant's organization.countryLetterCode
        self.unauthorized = 0
        self.url = ""
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None

    def add_user(self, upn: str, *, object_id: str | None = None, display_name: str | None = None,
                 mobile: str | None = None, business_phones: tuple[str, ...] = (), enabled: bool | None = True,
                 manager: str | None = None, groups: tuple[str, ...] = ()) -> str:
        """Adds a user (manager given by UPN, added first) and returns its object id."""
        oid = object_id or str(uuid.uuid4())
        self.users[oid] = {"id": oid, "userPrincipalName": upn, "displayName": display_name or upn.split("@")[0],
                           "mobilePhone": mobile, "businessPhones": list(business_phones)}
        if enabled is not None:  # None: as Graph answers without User.Read.All
            self.users[oid]["accountEnabled"] = enabled
        if manager is not None:
            self.managers[oid] = self._resolve(manager) or self.add_user(manager)
        self.groups[oid] = {g.lower() for g in groups}
        return oid

    def fail(self, kind: str, status: str, *, retry_after: int | str | None = None, times: int | None = 1) -> None:
        """The next `times` requests of `kind` fail with `status` (see FAULTS); 'hang' never answers."""
        assert status in FAULTS, status
        self.faults[kind] = Fault(status, None if retry_after is None else str(retry_after), times)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/v1.0/users/{key}", self._get_user)
        app.router.add_get("/v1.0/users/{key}/manager", self._get_manager)
        app.router.add_post("/v1.0/users/{key}/checkMemberGroups", self._check_member_groups)
        app.router.add_post("/v1.0/users/{key}/sendMail", self._send_mail)
        app.router.add_get("/v1.0/organization", self._get_organization)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/v1.0"

    async def stop(self) -> None:
        self._release.set()  # let hung handlers finish
        if self._runner is not None:
            await self._runner.cleanup()

    async def _get_organization(self, request: web.Request) -> web.StreamResponse:
        refused = await self._gate(request, "organization")
        if refused is not None:
            return refused
        return web.json_response({"value": [{"countryLetterCode": self.country_letter_code}]})

    def _resolve(self, key: str) -> str | None:
        key = key.lower()
        if key in self.users:
            return key
        if key in self.aliases:
            return self.aliases[key]
        return next((oid for oid, u in self.users.items() if u["userPrincipalName"].lower() == key), None)

    async def _gate(self, request: web.Request, kind: str) -> web.StreamResponse | None:
        """Counting, the bearer check and fault injection; a response here ends the request."""
        self.counts[kind] += 1
        self.raw_paths.append(request.raw_path)
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.unauthorized += 1
            return _error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
        fault = self.faults.get(kind)
        if fault is None:
            return None
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                del self.faults[kind]
        if fault.status == "hang":
            await self._release.wait()
            return _error(504, "GatewayTimeout", "released at shutdown")
        if fault.status == "drop":
            assert request.transport is not None
            request.transport.abort()
            return web.Response(status=500)  # never reaches the client
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        codes = {"429": "TooManyRequests", "401": "InvalidAuthenticationToken", "403": "Authorization_RequestDenied"}
        # The message echoes a token and a phone number, so a test can prove bodies never reach the log.
        return _error(int(fault.status), codes.get(fault.status, "UnknownError"),
                      "injected fault; Bearer test-token +44 20 7946 0958", headers)

    async def _get_user(self, request: web.Request) -> web.StreamResponse:
        if (refused := await self._gate(request, "user")) is not None:
            return refused
        oid = self._resolve(request.match_info["key"])
        if oid is None:
            return _not_found(request.match_info["key"])
        user = self.users[oid]
        select = request.query.get("$select")
        fields = select.split(",") if select else list(user)
        body = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity"}
        body.update({f: user.get(f) for f in fields})
        return web.json_response(body)

    async def _get_manager(self, request: web.Request) -> web.StreamResponse:
        if (refused := await self._gate(request, "manager")) is not None:
            return refused
        oid = self._resolve(request.match_info["key"])
        if oid is None or oid not in self.managers:
            return _not_found("manager")
        manager = self.users[self.managers[oid]]
        return web.json_response({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects/$entity",
                                  "@odata.type": "#microsoft.graph.user",
                                  "userPrincipalName": manager["userPrincipalName"]})

    async def _check_member_groups(self, request: web.Request) -> web.StreamResponse:
        if (refused := await self._gate(request, "checkMemberGroups")) is not None:
            return refused
        body = await request.json()
        self.member_checks.append((request.match_info["key"], body))
        oid = self._resolve(request.match_info["key"])
        if oid is None:
            return _not_found(request.match_info["key"])
        if len(body.get("groupIds", [])) > 20:
            return _error(400, "Request_BadRequest", "Too many groups.")
        value = [g for g in body["groupIds"] if g.lower() in self.groups.get(oid, set())] + self.extra_groups
        return web.json_response({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)",
                                  "value": value})

    async def _send_mail(self, request: web.Request) -> web.StreamResponse:
        if (refused := await self._gate(request, "sendMail")) is not None:
            return refused
        self.sent_mail.append((request.match_info["key"], await request.json()))
        return web.Response(status=202)


def _error(status: int, code: str, message: str, headers: dict | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


def _not_found(what: str) -> web.Response:
    return _error(404, "Request_ResourceNotFound",
                  f"Resource '{what}' does not exist or one of its queried reference-property objects are not present.")


@pytest.fixture
async def graph_mock():
    mock = GraphMock()
    await mock.start()
    yield mock
    await mock.stop()
