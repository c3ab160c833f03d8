"""Texts through Azure Communication Services with the real `azure-communication-sms` SmsClient (async).

Authenticated with the managed identity (DefaultAzureCredential; the SDK asks for the
`https://communication.azure.com//.default` scope); endpoint `https://<resource>.communication.azure.com`.
Every send runs under a hard deadline (3 s, as Key Vault) and is retried only when the service certainly did
not take the request: a 429 whose Retry-After is short. A text carries a code, so after an unknown outcome (a 5xx,
a timeout, a broken connection after the request went out) it is never re-sent on its own. azure-core would
otherwise retry a POST answered 500/503/504 or carrying any Retry-After.

    202, recipient successful            -> the message id
    202, recipient `successful: false`   -> SmsNotSent("rejected")   (a landline, a blocked or invalid number)
    400                                  -> SmsNotSent("rejected")
    401 / 403                            -> SmsNotSent("refused")    (the identity lacks its role)
    429 (after the capped retry)         -> SmsNotSent("throttled")
    connection refused, no answer at all -> SmsNotSent("unreachable") (nothing reached the service)
    5xx, read timeout, deadline          -> SmsOutcomeUnknown
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from azure.communication.sms.aio import SmsClient
from azure.core.exceptions import (ClientAuthenticationError, HttpResponseError, ServiceRequestError,
                                   ServiceRequestTimeoutError, ServiceResponseError)

from ..core.errors import SmsNotSent, SmsOutcomeUnknown
from .azure_sdk import CappedRetryPolicy, env_proxy_options

log = logging.getLogger("otpbot." + __name__.removeprefix("bot."))  # under "otpbot": exported
DEFAULT_DEADLINE = 3.0
NOT_SENT = "No code was texted"


class ThrottleOnlyRetryPolicy(CappedRetryPolicy):
    """Retries a send only on 429 (the service refused to take it, so nothing was sent), with a short
    Retry-After; never on a 5xx or a timeout, where the text may already be on its way."""

    def is_retry(self, settings: dict[str, Any], response: Any) -> bool:
        if response.http_response.status_code != 429:
            return False
        return super().is_retry(settings, response)


def client_options(deadline: float = DEFAULT_DEADLINE) -> dict[str, Any]:
    return {
        "retry_policy": ThrottleOnlyRetryPolicy(retry_total=2, retry_backoff_factor=0.2, retry_backoff_max=1,
                                                max_retry_after=1.0, retry_read=0, timeout=deadline),
        "connection_timeout": min(1.0, deadline / 3),
        "read_timeout": deadline / 2,
        "logging_enable": False,  # True would log request bodies: the text, and so the code
    }


class AcsSmsSender:
    """SmsSender on Azure Communication Services. Tests pass their own client; production uses from_endpoint."""

    def __init__(self, client: SmsClient, sender: str, *, deadline: float = DEFAULT_DEADLINE) -> None:
        self._client, self._from, self._deadline = client, sender, deadline

    @classmethod
    def from_endpoint(cls, endpoint: str, sender: str, credential, *, deadline: float = DEFAULT_DEADLINE,
                      **client_kwargs: Any) -> "AcsSmsSender":
        options = {**client_options(deadline), **env_proxy_options(endpoint), **client_kwargs}
        return cls(SmsClient(endpoint, credential, **options), sender, deadline=deadline)

    async def close(self) -> None:
        await self._client.close()

    async def send(self, to: str, text: str) -> str:
        try:
            results = await asyncio.wait_for(self._client.send(self._from, [to], text), self._deadline)
        except (ClientAuthenticationError, HttpResponseError) as exc:
            raise _refusal(exc) from None
        except ServiceRequestError as exc:
            connect_failed = isinstance(exc, ServiceRequestTimeoutError) or isinstance(
                getattr(exc, "inner_exception", None), aiohttp.ClientConnectorError)
            if not connect_failed:
                log.warning("Communication Services dropped a send: %s", type(exc).__name__)
                raise SmsOutcomeUnknown("connection lost") from None  # it may have carried the request
            log.warning("Communication Services could not be reached: %s", type(exc).__name__)
            raise SmsNotSent(f"The SMS service could not be reached. {NOT_SENT}; try Send again in a minute.",
                             "unreachable") from None
        except (ServiceResponseError, asyncio.TimeoutError) as exc:
            log.warning("Communication Services did not answer a send: %s", type(exc).__name__)
            raise SmsOutcomeUnknown("no answer") from None
        result = results[0] if results else None
        if result is None or not result.successful or not result.message_id:
            status = getattr(result, "http_status_code", None)
            log.warning("Communication Services refused a recipient: HTTP %s", status)
            raise SmsNotSent(f"The SMS service would not text the mobile of record (it may be a landline or a "
                             f"blocked number). {NOT_SENT}. Call the user back instead, or ask a lead.", "rejected")
        return result.message_id


def _refusal(exc: HttpResponseError) -> Exception:
    status = exc.status_code or 0
    log.warning("Communication Services refused a send: HTTP %s", status)
    if status in (401, 403) or isinstance(exc, ClientAuthenticationError):
        return SmsNotSent(f"The SMS service refused the bot access. {NOT_SENT}. Tell the bot admin to check the "
                          "bot's role on the Communication Services resource.", "refused")
    if status == 429:
        return SmsNotSent(f"The SMS service is throttling texts. {NOT_SENT}; try Send again in a minute.",
                          "throttled")
    if 400 <= status < 500:
        return SmsNotSent(f"The SMS service rejected the text. {NOT_SENT}; tell the bot admin.", "rejected")
    return SmsOutcomeUnknown(f"HTTP {status}")
