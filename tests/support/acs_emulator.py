"""A small Azure Communication Services SMS emulator on loopback TLS that the real async SmsClient talks to.

REST shape (azure-communication-sms 1.1, api-version 2021-03-07): `POST {endpoint}/sms?api-version=2021-03-07`
with `{"from", "smsRecipients": [{"to", "repeatabilityRequestId", "repeatabilityFirstSent"}], "message",
"smsSendOptions": {"enableDeliveryReport"}}`, answered `202 {"value": [{"to", "messageId", "httpStatusCode",
"repeatabilityResult", "successful", "errorMessage"}]}`.

Faults (`set_fault(kind, times=1, retry_after=None)`): "recipient" (202, `successful: false`), "401", "403",
"429" (with Retry-After), "500", "hang" (never answers until the emulator stops). `requests` keeps every
request's headers and JSON body, so tests can count sends and compare repeatability ids.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest_asyncio
from aiohttp import web

from tests.support.kv_emulator import CertPaths, make_loopback_cert

API_VERSION = "2021-03-07"
_ids = itertools.count(1)


@dataclass
class Fault:
    kind: str
    times: int | None = 1  # None: every request
    retry_after: float | None = None


@dataclass
class AcsSmsEmulator:
    cert: CertPaths
    requests: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    url: str = ""

    def set_fault(self, kind: str, times: int | None = 1, retry_after: float | None = None) -> None:
        self.faults.append(Fault(kind, times, retry_after))

    async def start(self) -> "AcsSmsEmulator":
        app = web.Application()
        app.router.add_post("/sms", self._send)
        self._hung = asyncio.Event()
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.cert.server_context())
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"https://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        self._hung.set()
        await self._runner.cleanup()

    def _next_fault(self) -> Fault | None:
        if not self.faults:
            return None
        fault = self.faults[0]
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                self.faults.pop(0)
        return fault

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append({"query": dict(request.query), "headers": dict(request.headers), "body": body})
        if request.query.get("api-version") != API_VERSION:
            return web.json_response({"error": {"code": "UnsupportedApiVersion"}}, status=400)
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return web.json_response({"error": {"code": "Unauthorized"}}, status=401)
        fault = self._next_fault()
        headers = {"Retry-After": str(fault.retry_after)} if fault and fault.retry_after is not None else {}
        if fault and fault.kind == "hang":
            await self._hung.wait()
            return web.Response(status=503)
        if fault and fault.kind in ("401", "403", "429", "500"):
            return web.json_response({"error": {"code": fault.kind, "message": "fault"}}, status=int(fault.kind),
                                     headers=headers)
        items = []
        for recipient in body["smsRecipients"]:
            if fault and fault.kind == "recipient":
                items.append({"to": recipient["to"], "httpStatusCode": 400, "repeatabilityResult": "accepted",
                              "successful": False, "errorMessage": "Invalid To phone number format."})
            else:
                items.append({"to": recipient["to"], "messageId": f"Outgoing_{next(_ids):04d}_noam",
                              "httpStatusCode": 202, "repeatabilityResult": "accepted", "successful": True})
        return web.json_response({"value": items}, status=202)


@pytest_asyncio.fixture
async def acs_emulator(tmp_path_factory):
    emulator = await AcsSmsEmulator(make_loopback_cert(tmp_path_factory.mktemp("acs-tls"))).start()
    yield emulator
    await emulator.stop()
