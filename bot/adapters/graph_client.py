"""The Microsoft Graph v1.0 client the Graph adapters share (graph.py), over plain aiohttp (no msgraph SDK).

One GraphClient (session + token cache) is shared by the three adapters. Each port method runs under one hard
deadline (default 3 s) covering token, retries and follow-up calls, because Teams gives a turn ~15 s. Retries:
at most 2, only for 429/503/504 and connection errors; a Retry-After above 1 s ends the call at once, since
waiting would overrun the turn. sendMail is not idempotent (the mail may carry a code), so it is retried only
when Graph certainly did not take it: 429, or no connection made. Error mapping, all DependencyUnavailable:

    timeout, connection error, 5xx, other 4xx   "Microsoft Graph did not answer in time / answered with an error"
    429 (Retry-After > 1 s, or retries spent)   "Microsoft Graph is throttling ..."
    401/403                                      "Microsoft Graph refused the bot access ..." (401 drops the token)
    token acquisition failed                     "The bot could not sign in to Microsoft Graph ..."

Tokens, Authorization headers, phone numbers and response bodies are never logged.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import time
import uuid
from typing import Any, Awaitable, Callable, TypeVar
from urllib.parse import quote

import aiohttp
from azure.core.credentials import AccessToken
from azure.core.credentials_async import AsyncTokenCredential
from yarl import URL

from bot.runtime import telemetry
from bot.core.errors import DependencyUnavailable

log = logging.getLogger("otpbot." + __name__.removeprefix("bot."))  # under "otpbot": exported
T = TypeVar("T")

GRAPH_URL = "https://graph.microsoft.com/v1.0"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
DEFAULT_DEADLINE = 3.0
MAX_RETRIES = 2
MAX_RETRY_AFTER = 1.0
TOKEN_REFRESH_MARGIN = 300  # seconds before expiry, as azure-core's bearer policy does
_SAFE_CODE = re.compile(r"[^A-Za-z0-9_.-]")
_RESENT_BY_AIOHTTP = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})  # once, on a dropped connection
_REASONS = {429: "throttled", 401: "denied", 403: "denied", 503: "timeout", 504: "timeout"}
_deadline_at: contextvars.ContextVar[float | None] = contextvars.ContextVar("graph_deadline_at", default=None)

_AGAIN = "Try again in a minute; if it keeps failing, tell the bot admin."
_SENTENCES = {
    "timeout": "Microsoft Graph did not answer in time, so {outcome}. " + _AGAIN,
    "error": "Microsoft Graph answered with an error, so {outcome}. " + _AGAIN,
    "throttled": "Microsoft Graph is throttling the bot's requests, so {outcome}. Try again in a minute.",
    "denied": "Microsoft Graph refused the bot access, so {outcome}. "
              "Tell the bot admin to check the bot's Graph permissions.",
    "signin": "The bot could not sign in to Microsoft Graph, so {outcome}. "
              "Tell the bot admin to check the bot's identity.",
    "incomplete": "Microsoft Graph did not say whether the account is enabled, so {outcome}. "
                  "Tell the bot admin to check the bot's Graph permissions (User.Read.All).",
}


class GraphFailure(Exception):
    """Internal: why a call failed (a _SENTENCES key); GraphClient.run turns it into DependencyUnavailable."""

    @property
    def reason(self) -> str:
        return self.args[0]


class GraphClient:
    """An aiohttp session plus a cached Graph token. Pass session=None to let the client own one."""

    def __init__(self, session: aiohttp.ClientSession | None, credential: AsyncTokenCredential, *,
                 base_url: str = GRAPH_URL, deadline: float = DEFAULT_DEADLINE,
                 owns_credential: bool = False) -> None:
        self._session, self._owns_session = session, session is None
        self._credential, self._owns_credential = credential, owns_credential
        self.base_url, self.deadline = base_url.rstrip("/"), deadline
        self._token: AccessToken | None = None
        self._token_lock = asyncio.Lock()

    @classmethod
    def from_credential(cls, credential: AsyncTokenCredential, *, session: aiohttp.ClientSession | None = None,
                        base_url: str = GRAPH_URL, deadline: float = DEFAULT_DEADLINE,
                        owns_credential: bool = False) -> "GraphClient":
        return cls(session, credential, base_url=base_url, deadline=deadline, owns_credential=owns_credential)

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None
        if self._owns_credential:
            await self._credential.close()

    async def run(self, operation: Callable[[], Awaitable[T]], outcome: str) -> T:
        """Runs one port call under the deadline; every failure becomes DependencyUnavailable."""
        token = _deadline_at.set(asyncio.get_running_loop().time() + self.deadline)
        try:
            return await asyncio.wait_for(operation(), self.deadline)
        except GraphFailure as exc:
            reason = exc.reason
        except (asyncio.TimeoutError, aiohttp.ClientError) as exc:
            log.warning("Microsoft Graph did not answer: %s", type(exc).__name__)
            reason = "timeout"
        finally:
            _deadline_at.reset(token)
        raise DependencyUnavailable(_SENTENCES[reason].format(outcome=outcome)) from None

    async def request(self, method: str, path: str, *, kind: str, json: Any = None,
                      idempotent: bool = True, accept_404: bool = False) -> tuple[int, dict | None]:
        """One Graph request with capped retries. `path` is already percent-encoded; `kind` names it in logs.
        Returns (status, JSON body or None); raises GraphFailure or aiohttp errors."""
        loop = asyncio.get_running_loop()
        deadline_at = _deadline_at.get() or loop.time() + self.deadline
        url = URL(self.base_url + path, encoded=True)  # encoded: yarl would turn %27 back into '
        for attempt in range(MAX_RETRIES + 1):
            headers = {"Authorization": f"Bearer {await self._bearer()}", "Accept": "application/json",
                       "client-request-id": str(uuid.uuid4())}
            try:
                # The span first, so it covers the network time and records connection errors and timeouts.
                async with telemetry.span(f"graph.{kind}", method=method, attempt=attempt) as current, \
                        self._http().request(method, url, json=json, headers=headers,
                                             allow_redirects=False) as response:
                    if current is not None:
                        current.set_attribute("http.status_code", response.status)
                    status = response.status
                    if status == 404 and accept_404:
                        return status, None
                    if 200 <= status < 300:
                        return status, await _json_body(response, kind)
                    code = await _error_code(response)
                    retry_after = _retry_after(response.headers.get("Retry-After"))
                    log.warning("Microsoft Graph %s %s: HTTP %s %s (client-request-id %s, request-id %s)",
                                method, kind, status, code, headers["client-request-id"],
                                log_safe(response.headers.get("request-id", "")) or "-")
            except aiohttp.ClientConnectionError as exc:
                # No connection made: nothing was sent. A dropped one: only idempotent calls, and not GET,
                # which aiohttp itself already sent a second time.
                retriable = isinstance(exc, aiohttp.ClientConnectorError) or (
                    idempotent and method not in _RESENT_BY_AIOHTTP)
                if isinstance(exc, aiohttp.ClientSSLError) or not retriable or attempt == MAX_RETRIES:
                    raise
                log.warning("Microsoft Graph %s %s: %s, retrying", method, kind, type(exc).__name__)
                await _pause(loop, deadline_at, None, attempt, "timeout")
                continue
            reason = _REASONS.get(status, "error")
            if status == 401:
                self._token = None  # revoked or expired early: the next call fetches a fresh one
            retriable = status == 429 or (idempotent and status in (503, 504))
            if not retriable or attempt == MAX_RETRIES:
                raise GraphFailure(reason)
            await _pause(loop, deadline_at, retry_after, attempt, reason)
        raise AssertionError("unreachable")

    async def _bearer(self) -> str:
        async with self._token_lock:
            if self._token is None or self._token.expires_on - time.time() < TOKEN_REFRESH_MARGIN:
                try:
                    self._token = await self._credential.get_token(GRAPH_SCOPE)
                except Exception as exc:  # any credential failure: the message may carry tenant detail
                    log.warning("Could not get a Microsoft Graph token: %s", type(exc).__name__)
                    raise GraphFailure("signin") from None
            return self._token.token

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:  # created lazily: aiohttp wants a running loop
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.deadline))
        return self._session


async def _pause(loop: asyncio.AbstractEventLoop, deadline_at: float, retry_after: float | None,
                 attempt: int, reason: str) -> None:
    """Waits before a retry, or gives up now when the server asks too much or the deadline would pass."""
    wait = retry_after if retry_after is not None else 0.2 * 2 ** attempt
    if wait > MAX_RETRY_AFTER or loop.time() + wait >= deadline_at:
        raise GraphFailure(reason)
    await asyncio.sleep(wait)


def _retry_after(value: str | None) -> float | None:
    """Graph sends delta-seconds; anything else is treated as absent (a short backoff)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


async def _json_body(response: aiohttp.ClientResponse, kind: str) -> dict | None:
    if not await response.read():
        return None
    try:
        body = await response.json(content_type=None)
    except ValueError:
        log.warning("Microsoft Graph %s: the answer was not JSON", kind)
        raise GraphFailure("error") from None
    if not isinstance(body, dict):
        raise GraphFailure("error")
    return body


async def _error_code(response: aiohttp.ClientResponse) -> str:
    """Graph's short error code (e.g. Request_ResourceNotFound), never the message or body."""
    try:
        error = (await response.json(content_type=None)).get("error") or {}
        return log_safe(str(error.get("code") or ""))
    except (ValueError, AttributeError, aiohttp.ClientError):
        return ""


def log_safe(text: str) -> str:
    return _SAFE_CODE.sub("", text)[:60]


def path_segment(value: str) -> str:
    """One path segment: everything but '@' percent-encoded (', #, /, ?, + and %)."""
    return quote(value, safe="@")


