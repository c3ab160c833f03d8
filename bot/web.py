"""HTTP edge: POST /api/messages and GET /healthz.

Everything here runs before any handler: size, media type, JSON shape, then authentication.
Any authentication failure is a 401 and never reaches the bot.
"""

from __future__ import annotations

import json
import logging
from aiohttp import web

from .adapters.teams.wire import activity_from
from .runtime import telemetry

log = logging.getLogger("otpbot.web")
TURNS = web.AppKey("turns", object)
BOT = web.AppKey("bot", object)
AUTH = web.AppKey("authentication", object)
MAX_BODY = web.AppKey("max_body", int)
READINESS = web.AppKey("readiness", object)


def add_routes(app: web.Application) -> None:
    app.middlewares.append(request_span)
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)


@web.middleware
async def request_span(request: web.Request, handler) -> web.StreamResponse:
    """One server span per inbound request, named by route (never by the raw path), with its status code."""
    route = request.match_info.route.resource
    name = f"{request.method} {route.canonical if route is not None else 'unmatched'}"
    async with telemetry.span(name, kind="server", **{"http.request.method": request.method}) as current:
        response = await handler(request)
        if current is not None:
            current.set_attribute("http.response.status_code", response.status)
        return response


async def readyz(request: web.Request) -> web.Response:
    report = await request.app[READINESS].report()
    return web.json_response(report, status=200 if report["status"] == "ready" else 503)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def messages(request: web.Request) -> web.Response:
    limit = request.app[MAX_BODY]
    if request.content_length is not None and request.content_length > limit:
        return _problem(413, "body too large")
    if request.content_type != "application/json":
        return _problem(415, "expected application/json")
    body = await _read_limited(request, limit)
    if body is None:
        return _problem(413, "body too large")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the decoder's stack
        return _problem(400, "body is not valid JSON")
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        return _problem(400, "body is not an activity")
    try:
        activity = activity_from(payload)
    except Exception:  # msrest raises several types for shape errors
        return _problem(400, "body is not an activity")
    try:
        await request.app[AUTH].authenticate_request(activity, request.headers.get("Authorization", ""))
    except PermissionError as error:
        log.warning("rejected request: %s", str(error)[:120])
        return _problem(401, "unauthorized")
    response = await request.app[TURNS].run(activity, request.app[BOT].on_turn)
    if response is None:
        return web.Response(status=200)
    return web.json_response(response.body, status=response.status)  # bodies are plain JSON (cards.invoke_body)


async def _read_limited(request: web.Request, limit: int) -> bytes | None:
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _problem(status: int, detail: str) -> web.Response:
    return web.json_response({"error": detail}, status=status)
