"""HTTP edge: POST /api/messages and GET /healthz.

Everything here runs before any handler: size, media type, JSON shape, then authentication.
Any authentication failure is a 401 and never reaches the bot.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import botbuilder.schema
from aiohttp import web
from botbuilder.core import BotAdapter, serializer_helper
from botbuilder.schema import Activity
from msrest import Deserializer
from msrest.serialization import Model

log = logging.getLogger("otpbot.web")
ADAPTER = web.AppKey("adapter", BotAdapter)
BOT = web.AppKey("bot", object)
AUTH = web.AppKey("authentication", object)
MAX_BODY = web.AppKey("max_body", int)


READINESS = web.AppKey("readiness", object)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)


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
        auth = await request.app[AUTH].authenticate_request(activity, request.headers.get("Authorization", ""))
    except PermissionError as error:
        log.warning("rejected request: %s", str(error)[:120])
        return _problem(401, "unauthorized")
    response = await request.app[ADAPTER].process_activity(auth, activity, request.app[BOT].on_turn)
    if response is None:
        return web.Response(status=200)
    body = response.body if isinstance(response.body, (dict, list, type(None))) else serializer_helper(response.body)
    return web.json_response(body, status=response.status)


def activity_from(payload: dict) -> Activity:
    """The Activity msrest's `Activity().deserialize(payload)` gives, faster (see _ActivityReader)."""
    try:
        return _READER.model(Activity, payload)
    except _Unusual:
        return _READER(Activity.__name__, payload)


class _Unusual(Exception):
    """A payload the fast path leaves to msrest."""


class _ActivityReader(Deserializer):
    """msrest's Deserializer, built once, with a fast path for well-typed JSON.

    `Activity().deserialize(payload)` builds a throwaway Activity, a dict of every schema model and a
    Deserializer on every call, then walks each of Activity's 42 attributes through generic dispatch. Here
    each model class's attributes are planned once, and a payload whose values have the JSON types the
    schema declares (strings, booleans, integers, nested models and lists of them, any JSON in `object`
    fields, ISO dates parsed by msrest itself) becomes the same Activity: the same attribute values, the
    same copies of `object` fields, the same `additional_properties` for unknown keys. Any other payload —
    a number where a string is declared, a string where a model is, a type the plan does not know — goes
    to msrest whole, so its conversions and its errors are exactly msrest's. tests/bench/test_wire.py
    compares both on random payloads.
    """

    def __init__(self) -> None:
        super().__init__({k: v for k, v in vars(botbuilder.schema).items() if isinstance(v, type)})
        self._plans: dict[type, tuple[list, frozenset]] = {}

    def model(self, cls: type, data: Any) -> Any:
        if type(data) is not dict:
            raise _Unusual()
        plan, known = self._plans.get(cls) or self._plan(cls)
        kwargs = {}
        for attr, key, kind, target in plan:
            raw = data.get(key)
            if raw is None:
                kwargs[attr] = None
            elif kind is str or kind is bool or kind is int:
                if type(raw) is not kind:
                    raise _Unusual()
                kwargs[attr] = raw
            elif kind == "object":
                kwargs[attr] = _json_copy(raw)
            elif kind == "model":
                kwargs[attr] = self.model(target, raw)
            elif kind == "models" or kind == "strs":
                if type(raw) is not list:
                    raise _Unusual()
                kwargs[attr] = [None if v is None else self.model(target, v) if kind == "models" else _exact_str(v)
                                for v in raw]
            elif kind == "iso-8601":
                try:
                    kwargs[attr] = self.deserialize_data(raw, kind)
                except Exception:
                    raise _Unusual() from None
            else:
                raise _Unusual()
        instance = cls(**kwargs)
        extra = data.keys() - known
        if extra:
            instance.additional_properties = {k: data[k] for k in extra}
        return instance

    def _plan(self, cls: type) -> tuple[list, frozenset]:
        if cls._validation or "_subtype_map" in cls.__dict__:
            raise _Unusual()
        plan, known = [], set()
        for attr, desc in cls._attribute_map.items():
            key, data_type = desc["key"], desc["type"]
            if not isinstance(data_type, str) or not key or "." in key:
                raise _Unusual()  # flattened keys, additional-properties maps: msrest
            known.add(key)
            inner = self.dependencies.get(data_type.strip("[]{}"))
            is_model = isinstance(inner, type) and issubclass(inner, Model)
            if data_type in ("str", "bool", "int"):
                plan.append((attr, key, {"str": str, "bool": bool, "int": int}[data_type], None))
            elif data_type in ("object", "iso-8601"):
                plan.append((attr, key, data_type, None))
            elif data_type == "[str]":
                plan.append((attr, key, "strs", None))
            elif is_model and data_type == f"[{inner.__name__}]":
                plan.append((attr, key, "models", inner))
            elif is_model and data_type == inner.__name__:
                plan.append((attr, key, "model", inner))
            else:
                plan.append((attr, key, "other", None))  # floats, dicts, bytes: msrest, for the whole payload
        self._plans[cls] = result = (plan, frozenset(known))
        return result


def _json_copy(value: Any) -> Any:
    """msrest's deserialize_object on parsed JSON: a deep copy."""
    kind = type(value)
    if kind is dict:
        return {k: _json_copy(v) for k, v in value.items()}
    if kind is list:
        return [_json_copy(v) for v in value]
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    raise _Unusual()


def _exact_str(value: Any) -> str:
    if type(value) is not str:
        raise _Unusual()
    return value


_READER = _ActivityReader()


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
