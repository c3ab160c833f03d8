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
        session = self._session()
        if session is None or session.closed:  # the app is shutting down
            raise ClientRequestError("Error occurred in request.", RuntimeError("connector session closed"))
        try:
            async with session.request(
                    http.method, http.url, data=data, headers={**self._config.headers, **http.headers},
                    allow_redirects=False, timeout=aiohttp.ClientTimeout(sock_connect=seconds, sock_read=seconds),
                    **self._proxy,
            ) as response:
                body = await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
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
    """A turn's replies, POSTed on the shared session: the request the generated `reply_to_activity` and
    `send_to_conversation` of `client` build (URL, headers, JSON body, the credentials' bearer) without msrest's
    pipeline and response deserialiser, which cost a reply about a third of its CPU. Proactive messages (the
    notifier) keep the msrest client and its ErrorResponseException, whose status their retry decision reads."""

    def __init__(self, client, credentials, session: Callable[[], aiohttp.ClientSession]) -> None:
        self._base = client.config.base_url.rstrip("/") + "/"
        self._serialize = client.conversations._serialize
        self._credentials, self._session = credentials, session
        self._headers = {**client.config.headers, "User-Agent": client.config.user_agent,
                         "Accept": "application/json", "Content-Type": "application/json; charset=utf-8"}
        seconds = client.config.connection.timeout
        self._timeout = aiohttp.ClientTimeout(sock_connect=seconds, sock_read=seconds)
        proxy = _env_proxy(client.config.base_url)
        self._proxy = {"proxy": proxy[0], "proxy_auth": proxy[1]} if proxy else {}

    async def reply_to_activity(self, conversation_id: str, activity_id: str, activity) -> ResourceResponse:
        return await self._post(f"v3/conversations/{quote(conversation_id, safe='')}/activities/"
                                f"{quote(activity_id, safe='')}", activity, {"x-ms-conversation-id": conversation_id})

    async def send_to_conversation(self, conversation_id: str, activity) -> ResourceResponse:
        return await self._post(f"v3/conversations/{quote(conversation_id, safe='')}/activities", activity, {})

    async def _post(self, path: str, activity, extra_headers: dict) -> ResourceResponse:
        signed = SimpleNamespace(headers={})
        self._credentials.signed_session(signed)  # the bearer header, or none without an app id (local mode)
        headers = {**self._headers, **extra_headers, **signed.headers}
        body = json.dumps(self._serialize.body(activity, "Activity")).encode()
        session = self._session()
        if session is None or session.closed:
            raise ReplyFailed("the connector session is closed")
        try:
            async with session.post(urljoin(self._base, path), data=body, headers=headers, allow_redirects=False,
                                    timeout=self._timeout, **self._proxy) as response:
                status, content = response.status, await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise ReplyFailed(f"no answer from the connector ({type(error).__name__})") from None
        if status not in (200, 201, 202):
            raise ReplyFailed(f"the connector answered HTTP {status}")
        try:
            answer = json.loads(content) if content else {}
        except ValueError:
            answer = {}
        return ResourceResponse(id=answer.get("id") if isinstance(answer, dict) else None)
