"""The wire of the connector clients (see ReusingConnectorFactory in auth.py):

- sent over one shared aiohttp session, instead of msrest's default sender, which runs `requests` in the
  default thread pool (a thread hop, a second HTTP stack and GIL contention on every reply);
- activities serialised by wire.ActivitySerializer: msrest's output, without msrest's per-call round trip;
- a turn's replies (DirectReplies) skip msrest's pipeline altogether: the same request, ~0.25 ms less CPU each.
"""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any, Callable
from urllib.parse import quote, urljoin

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from botbuilder.schema import ResourceResponse
from msrest.exceptions import ClientRequestError
from msrest.pipeline import AsyncHTTPSender, AsyncPipeline, Response, SansIOHTTPPolicy
from msrest.pipeline.universal import RawDeserializer
from msrest.universal_http.async_abc import AsyncClientResponse
from multidict import CIMultiDict
from yarl import URL


def connector_pipeline(config, credentials, wire: "ConnectorWire") -> AsyncPipeline:
    """msrest's default connector pipeline with our sender: user agent, bearer token, body, HTTP log."""
    return AsyncPipeline([config.user_agent_policy, _BearerPolicy(credentials), RawDeserializer(),
                          config.http_logger_policy], _AiohttpSender(wire, config))


class WireError(Exception):
    """No answer: the session is closed (shutting down) or the network failed. The outcome of a send is unknown."""


class ConnectorWire:
    """The HTTP of one Bot Connector endpoint, shared by its msrest client and its DirectReplies: the shared
    aiohttp session, connect and read timeouts of `seconds` each, the environment's proxy for the endpoint
    (HTTPS_PROXY, NO_PROXY: looked up once; aiohttp's trust_env would look it and ~/.netrc up in a worker thread
    on every request), no redirects (the Bot Connector API does not redirect, and a bearer token should not
    follow one), no retries, the body read in full."""

    def __init__(self, session: Callable[[], aiohttp.ClientSession | None], base_url: str, seconds: float) -> None:
        self._session = session
        self._timeout = aiohttp.ClientTimeout(sock_connect=seconds, sock_read=seconds)
        proxy = _env_proxy(base_url)
        self._proxy = {"proxy": proxy[0], "proxy_auth": proxy[1]} if proxy else {}

    async def send(self, method: str, url: str, data: bytes | None,
                   headers: dict) -> tuple[aiohttp.ClientResponse, bytes]:
        session = self._session()
        if session is None or session.closed:
            raise WireError("the connector session is closed")
        try:
            async with session.request(method, url, data=data, headers=headers, allow_redirects=False,
                                       timeout=self._timeout, **self._proxy) as response:
                return response, await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise WireError(f"no answer from the connector ({type(error).__name__})") from error


def _env_proxy(url: str) -> tuple | None:
    try:
        return get_env_proxy_for_url(URL(url))
    except (LookupError, ValueError):
        return None


def bearer(credentials) -> dict[str, str]:
    """The Authorization header the credentials' own signed_session() sets: a bearer token, or none when there
    is no app id (local mode)."""
    signed = SimpleNamespace(headers={})
    credentials.signed_session(signed)
    return {"Authorization": signed.headers["Authorization"]} if "Authorization" in signed.headers else {}


class _BearerPolicy(SansIOHTTPPolicy):
    """msrest's AsyncRequestsCredentialsPolicy without a requests.Session."""

    def __init__(self, credentials) -> None:
        self._credentials = credentials

    def on_request(self, request, **kwargs) -> None:
        request.http_request.headers.update(bearer(self._credentials))


class _AiohttpSender(AsyncHTTPSender):
    """msrest's sender on a ConnectorWire, in place of its default (`requests` in the default thread pool: a
    thread hop, a second HTTP stack and GIL contention on every send). Network errors are raised as msrest's
    ClientRequestError, as the requests sender raised them."""

    def __init__(self, wire: ConnectorWire, config) -> None:
        self._wire, self._config = wire, config

    async def __aenter__(self) -> "_AiohttpSender":
        return self

    async def __aexit__(self, *exc_details) -> None:
        pass  # the session's owner closes it

    def build_context(self) -> None:
        return None

    async def send(self, request, **kwargs) -> Response:
        http = request.http_request
        data = http.data.encode() if isinstance(http.data, str) else http.data
        try:
            response, body = await self._wire.send(http.method, http.url, data,
                                                   {**self._config.headers, **http.headers})
        except WireError as error:
            raise ClientRequestError("Error occurred in request.", error) from error
        return Response(request, _ReadResponse(http, _Received(response, body)))


class _Received:
    """The response as msrest's callers see it in `error.response` (a requests.Response before): status_code,
    reason, headers, content, text, json(). The notifier decides on retries from `status_code`."""

    def __init__(self, response: aiohttp.ClientResponse, body: bytes) -> None:
        self.status_code, self.reason, self.url = response.status, response.reason, str(response.url)
        self.headers, self.content = CIMultiDict(response.headers), body

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class _ReadResponse(AsyncClientResponse):
    def __init__(self, request, received: _Received) -> None:
        super().__init__(request, received)
        self.status_code, self.headers, self.reason = received.status_code, received.headers, received.reason

    def body(self) -> bytes:
        return self.internal_response.content


class ReplyFailed(Exception):
    """A turn's reply was not accepted (HTTP status) or its outcome is unknown (network). Never retried."""


class DirectReplies:
    """A turn's replies, on the endpoint's ConnectorWire: the request the generated `reply_to_activity` and
    `send_to_conversation` of `client` build (URL, headers, JSON body, the credentials' bearer) without msrest's
    pipeline and response deserialiser, which cost a reply about a third of its CPU. Proactive messages (the
    notifier) keep the msrest client and its ErrorResponseException, whose status their retry decision reads."""

    def __init__(self, client, credentials, wire: ConnectorWire) -> None:
        self._base = client.config.base_url.rstrip("/") + "/"
        self._serialize = client.conversations._serialize
        self._credentials, self._wire = credentials, wire
        self._headers = {**client.config.headers, "User-Agent": client.config.user_agent,
                         "Accept": "application/json", "Content-Type": "application/json; charset=utf-8"}

    async def reply_to_activity(self, conversation_id: str, activity_id: str, activity) -> ResourceResponse:
        return await self._post(f"v3/conversations/{quote(conversation_id, safe='')}/activities/"
                                f"{quote(activity_id, safe='')}", activity, {"x-ms-conversation-id": conversation_id})

    async def send_to_conversation(self, conversation_id: str, activity) -> ResourceResponse:
        return await self._post(f"v3/conversations/{quote(conversation_id, safe='')}/activities", activity, {})

    async def _post(self, path: str, activity, extra_headers: dict) -> ResourceResponse:
        headers = {**self._headers, **extra_headers, **bearer(self._credentials)}
        body = json.dumps(self._serialize.body(activity, "Activity")).encode()
        try:
            response, content = await self._wire.send("POST", urljoin(self._base, path), body, headers)
        except WireError as error:
            raise ReplyFailed(str(error)) from None
        if response.status not in (200, 201, 202):
            raise ReplyFailed(f"the connector answered HTTP {response.status}")
        try:
            answer = json.loads(content) if content else {}
        except ValueError:
            answer = {}
        return ResourceResponse(id=answer.get("id") if isinstance(answer, dict) else None)
