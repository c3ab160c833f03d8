"""The CloudAdapter, configured: our authentication, and errors logged by type only. And the wire of the
connector clients it replies through (see ReusingConnectorFactory in auth.py):

- sent over one shared aiohttp session, instead of msrest's default sender, which runs `requests` in the
  default thread pool (a thread hop, a second HTTP stack and GIL contention on every reply);
- activities serialised by ActivitySerializer: msrest's output, without msrest's per-call round trip.
"""

from __future__ import annotations

import asyncio
import logging
from enum import Enum
from types import SimpleNamespace
from typing import Any, Callable

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from botbuilder.integration.aiohttp import CloudAdapter
from msrest.exceptions import ClientRequestError, SerializationError
from msrest.pipeline import AsyncHTTPSender, AsyncPipeline, Response, SansIOHTTPPolicy
from msrest.pipeline.universal import RawDeserializer
from msrest.serialization import Model, Serializer
from msrest.universal_http.async_abc import AsyncClientResponse
from multidict import CIMultiDict
from yarl import URL

log = logging.getLogger("otpbot.teams")


def make_adapter(authentication) -> CloudAdapter:
    adapter = CloudAdapter(authentication)
    adapter.on_turn_error = _on_turn_error
    return adapter


async def _on_turn_error(context, error: Exception) -> None:
    # Never echo the exception to the user: it may carry request details.
    log.error("turn failed: %s", type(error).__name__, exc_info=error)


# --- the connector clients' wire ----------------------------------------------------------------------


def connector_pipeline(config, credentials, session: Callable[[], aiohttp.ClientSession]) -> AsyncPipeline:
    """msrest's default connector pipeline with our sender: user agent, bearer token, body, HTTP log."""
    return AsyncPipeline([config.user_agent_policy, _BearerPolicy(credentials), RawDeserializer(),
                          config.http_logger_policy], _AiohttpSender(session, config, _env_proxy(config.base_url)))


def _env_proxy(url: str) -> tuple | None:
    """The proxy the environment names for this service URL (HTTPS_PROXY, NO_PROXY...), looked up once per
    client. The requests sender honoured these; aiohttp's own trust_env would look them (and ~/.netrc) up
    in a worker thread on every request."""
    try:
        return get_env_proxy_for_url(URL(url))
    except (LookupError, ValueError):
        return None


class _BearerPolicy(SansIOHTTPPolicy):
    """msrest's AsyncRequestsCredentialsPolicy without a requests.Session: the credentials' own
    signed_session() decides the header (a bearer token, or none when there is no app id)."""

    def __init__(self, credentials) -> None:
        self._credentials = credentials

    def on_request(self, request, **kwargs) -> None:
        signed = SimpleNamespace(headers={})
        self._credentials.signed_session(signed)
        if "Authorization" in signed.headers:
            request.http_request.headers["Authorization"] = signed.headers["Authorization"]


class _AiohttpSender(AsyncHTTPSender):
    """Sends a connector request on the shared aiohttp session, body read in full. Like the requests
    sender it replaces: connect and read timeouts of config.connection.timeout each, no retries, network
    errors raised as msrest's ClientRequestError; unlike it, redirects are not followed (the Bot Connector
    API does not redirect, and a bearer token should not follow one)."""

    def __init__(self, session: Callable[[], aiohttp.ClientSession], config, proxy: tuple | None) -> None:
        self._session, self._config = session, config
        self._proxy = {"proxy": proxy[0], "proxy_auth": proxy[1]} if proxy else {}

    async def __aenter__(self) -> "_AiohttpSender":
        return self

    async def __aexit__(self, *exc_details) -> None:
        pass  # the session's owner closes it

    def build_context(self) -> None:
        return None

    async def send(self, request, **kwargs) -> Response:
        http = request.http_request
        seconds = self._config.connection.timeout
        data = http.data.encode() if isinstance(http.data, str) else http.data
        try:
            async with self._session().request(
                    http.method, http.url, data=data, headers={**self._config.headers, **http.headers},
                    allow_redirects=False, timeout=aiohttp.ClientTimeout(sock_connect=seconds, sock_read=seconds),
                    **self._proxy,
            ) as response:
                body = await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise ClientRequestError("Error occurred in request.", error) from error
        return Response(request, _ReadResponse(http, response, body))


class _ReadResponse(AsyncClientResponse):
    def __init__(self, request, response: aiohttp.ClientResponse, body: bytes) -> None:
        super().__init__(request, response)
        self.status_code = response.status
        self.headers = CIMultiDict(response.headers)
        self.reason = response.reason
        self._body = body

    def body(self) -> bytes:
        return self._body


class _Unusual(Exception):
    """A value the fast path does not handle; msrest handles it instead."""


class ActivitySerializer(Serializer):
    """msrest's Serializer, with a fast `body()` for a model sent as its own type (an Activity, or the
    ConversationParameters of a proactive chat) whose values are plain: str, enums, bool, int, models, lists
    of them, and JSON-shaped dicts/lists in `object` fields (card content, channel data).

    msrest's body() first *deserialises* the model it was given into a model again (meant for dicts passed
    as bodies; for a model it is an identity copy), validates it, then serialises it attribute by attribute
    through generic dispatch. For such a model the output here is the same dict, key for key and in the same
    order: None values left out, enums as their value, `object` fields copied. Validation cannot fail for
    these classes (their `_validation` is empty, which the plan checks). Anything else goes to msrest as
    before: the attribute alone when msrest's round trip leaves it untouched (dates, floats, odd values in
    `object` fields), the whole body when the round trip could change it (a dict where a model is declared,
    enum- or dict-of-model-typed attributes). tests/bench/test_wire.py compares both, on the activities this
    bot sends and on random ones.
    """

    def body(self, data, data_type, **kwargs):
        cls = self.dependencies.get(data_type)
        if not kwargs and cls is not None and type(data) is cls:
            try:
                return self._model(data)
            except _Unusual:
                pass
        return super().body(data, data_type, **kwargs)

    def _model(self, model: Model) -> dict:
        out = {}
        for attr, key, kind, data_type in self._plan(type(model)):
            value = getattr(model, attr)
            if value is None:
                continue
            if kind == "str":
                if type(value) is str:
                    out[key] = value
                elif isinstance(value, Enum):
                    out[key] = value.value  # msrest's serialize_unicode
                else:
                    self._fallback(out, key, value, data_type)
            elif kind == "bool" or kind == "int":
                if type(value) is _BASIC[kind]:
                    out[key] = value
                else:
                    self._fallback(out, key, value, data_type)
            elif kind == "model":
                out[key] = self._nested(value)
            elif kind == "models" or kind == "strs":
                if type(value) is not list:
                    raise _Unusual()
                out[key] = [None if v is None else self._nested(v) if kind == "models" else _str(v) for v in value]
            elif kind == "object":
                try:
                    out[key] = self._plain(value)
                except _Unusual:
                    self._fallback(out, key, value, data_type)
            elif kind == "other":
                self._fallback(out, key, value, data_type)
            else:  # "roundtrip": msrest's deserialising round trip may change this value
                raise _Unusual()
        return out

    def _nested(self, value: Any) -> dict:
        if not isinstance(value, Model):
            raise _Unusual()  # msrest's round trip would turn it into a model first
        return self._model(value)

    def _plain(self, value: Any) -> Any:
        """msrest's serialize_object for JSON-shaped values: a copy (models inside are serialised)."""
        kind = type(value)
        if kind is str or kind is int or kind is bool or kind is float or value is None:
            return value
        if kind is dict:
            out = {}
            for k, v in value.items():
                if type(k) is not str:
                    raise _Unusual()
                out[k] = self._plain(v)
            return out
        if kind is list:
            return [self._plain(v) for v in value]
        if isinstance(value, Model):
            return self._model(value)
        raise _Unusual()

    def _fallback(self, out: dict, key: str, value: Any, data_type: str) -> None:
        """Exactly what msrest's _serialize does for one attribute."""
        try:
            out[key] = self.serialize_data(value, data_type, is_xml=False)
        except ValueError as error:
            if isinstance(error, SerializationError):
                raise
            # msrest leaves the attribute out

    def _plan(self, cls: type) -> list[tuple[str, str, str, str]]:
        """Per model class, once: (attribute, JSON key, kind, msrest type)."""
        plan = _PLANS.get(cls)
        if plan is None:
            _PLANS[cls] = plan = self._make_plan(cls)
        return plan

    def _make_plan(self, cls: type) -> list[tuple[str, str, str, str]]:
        if getattr(cls, "_validation", None) or getattr(cls, "_subtype_map", None) or cls.is_xml_model():
            raise _Unusual()
        plan = []
        for attr, desc in cls._attribute_map.items():
            key, data_type = desc["key"], desc["type"]
            if not isinstance(data_type, str) or "." in key or (attr == "additional_properties" and key == ""):
                raise _Unusual()  # flattened keys, additional properties: msrest's own handling
            inner = self.dependencies.get(data_type.strip("[]{}"))
            if data_type in ("str", "bool", "int", "object"):
                kind = data_type
            elif data_type == "[str]":
                kind = "strs"
            elif _is_model(inner) and data_type == f"[{inner.__name__}]":
                kind = "models"
            elif _is_model(inner) and data_type == inner.__name__:
                kind = "model"
            elif inner is not None:
                kind = "roundtrip"
            else:
                kind = "other"  # dates, floats, dicts of plain values, bytes: msrest, attribute by attribute
            plan.append((attr, key, kind, data_type))
        return plan


_BASIC = {"bool": bool, "int": int}
_PLANS: dict[type, list[tuple[str, str, str, str]]] = {}


def _is_model(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, Model)


def _str(value: Any) -> str:
    if type(value) is not str:
        raise _Unusual()
    return value
