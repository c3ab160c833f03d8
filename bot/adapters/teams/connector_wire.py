"""The wire of the connector clients (see ReusingConnectorFactory in auth.py):

- sent over one shared aiohttp session, instead of msrest's default sender, which runs `requests` in the
  default thread pool (a thread hop, a second HTTP stack and GIL contention on every reply);
- activities serialised by wire.ActivitySerializer: msrest's output, without msrest's per-call round trip.
"""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any, Callable

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
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
