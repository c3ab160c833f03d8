"""Who may start a turn (strict in production, loopback-only in local mode), and the connector clients the
bot answers through.

The connector clients are reused per serviceUrl; the stock CloudAdapter rebuilds msrest clients and
credentials on every turn, which is most of its CPU per turn. They share one aiohttp session (their wire
is in connector_wire.py).
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
from botbuilder.schema import Activity
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import ManagedIdentityAppCredentials, MicrosoftAppCredentials

from ...core.errors import DeliveryFailed
from ...runtime.net import is_loopback_url
from .connector_wire import ConnectorWire, DirectReplies, connector_pipeline
from .wire import ActivitySerializer
from .jwt_validation import AuthenticationFailed, BotConnectorTokenValidator

TO_CHANNEL_SCOPE = "https://api.botframework.com"
TEAMS_CHANNEL = "msteams"
SEND_TIMEOUT_S = 10  # inside Teams' 15 s turn budget
TOKEN_WARM_INTERVAL_S = 240  # MSAL refreshes a token 5 minutes before it expires


class ReusingConnectorFactory:
    def __init__(self, credentials) -> None:
        self._credentials = credentials
        self._clients: dict[str, ConnectorClient] = {}
        self._replies: dict[str, DirectReplies] = {}
        self._token_warmed_at = float("-inf")
        self._warming: asyncio.Future | None = None
        self._session: aiohttp.ClientSession | None = None

    async def create(self, service_url: str) -> ConnectorClient:
        await self._warm_token()
        client = self._clients.get(service_url)
        if client is None:
            if self._session is None:
                self._session = aiohttp.ClientSession()  # proxies: see connector_wire.ConnectorWire
            # No retries anywhere on this wire: a message that carries a code is never re-sent blindly.
            wire = ConnectorWire(lambda: self._session, service_url, SEND_TIMEOUT_S)
            client = ConnectorClient(self._credentials, base_url=service_url, pipeline_type=lambda config:
                                     connector_pipeline(config, self._credentials, wire))
            # The generated operations keep the serializer they were given; same models, faster body().
            serializer = ActivitySerializer(client.conversations._serialize.dependencies)
            client._serialize = client.conversations._serialize = client.attachments._serialize = serializer
            self._clients[service_url] = client
            self._replies[service_url] = DirectReplies(client, self._credentials, wire)
        return client

    async def replies(self, service_url: str) -> DirectReplies:
        """How a turn replies to the Bot Connector at `service_url` (see connector_wire.DirectReplies)."""
        await self.create(service_url)
        return self._replies[service_url]

    async def _warm_token(self) -> None:
        """msrest and DirectReplies ask for the token synchronously on the event loop, and MSAL fetches it with
        blocking HTTP (no timeout). So it is fetched in a worker thread first, once for all the turns that arrive
        meanwhile, and the loop's call is answered from MSAL's cache. If that fetch fails the send fails too,
        rather than retrying it on the loop."""
        if not getattr(self._credentials, "microsoft_app_id", None):
            return  # local mode: no token
        if time.monotonic() - self._token_warmed_at < TOKEN_WARM_INTERVAL_S:
            return
        if self._warming is None:
            self._warming = asyncio.ensure_future(asyncio.to_thread(self._credentials.get_access_token))
        warming = self._warming
        try:
            await asyncio.shield(warming)
            self._token_warmed_at = time.monotonic()
        except Exception as error:
            raise DeliveryFailed(f"the bot's own token could not be fetched ({type(error).__name__})") from None
        finally:
            if self._warming is warming and warming.done():
                self._warming = None

    async def close(self) -> None:
        for client in self._clients.values():
            await client.__aexit__(None, None, None)
        self._clients.clear()
        self._replies.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None


class _ScopedAuthentication:
    """Shared checks: channel and tenant come from the (attacker-visible) activity, so pin them."""

    def __init__(self, tenant_id: str, connectors: ReusingConnectorFactory) -> None:
        self._tenant_id = tenant_id.lower()
        self.connectors = connectors

    def _check_scope(self, activity: Activity) -> None:
        if activity.channel_id != TEAMS_CHANNEL:
            raise PermissionError("channel not allowed")
        conversation_tenant = conversation_tenant_of(activity)
        data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
        tenant = data.get("tenant")
        data_tenant = str(tenant.get("id", "") if isinstance(tenant, dict) else "").lower()
        if conversation_tenant != self._tenant_id or data_tenant != self._tenant_id:
            raise PermissionError("tenant not allowed")


class TeamsAuthentication(_ScopedAuthentication):
    """Production: a valid Bot Connector JWT for our app id, Teams only, our tenant only."""

    def __init__(self, tenant_id: str, validator: BotConnectorTokenValidator, credentials) -> None:
        super().__init__(tenant_id, ReusingConnectorFactory(credentials))
        self._validator = validator

    async def authenticate_request(self, activity: Activity, auth_header: str) -> None:
        """Returns when the request may start a turn; raises PermissionError (→ 401) otherwise."""
        try:
            await self._validator.validate(auth_header, activity.channel_id or "", activity.service_url or "")
        except AuthenticationFailed as error:
            raise PermissionError(str(error)) from None
        self._check_scope(activity)


class LoopbackAuthentication(_ScopedAuthentication):
    """Local mode: the Agents Playground sends no token, so only loopback serviceUrls are answered."""

    def __init__(self, tenant_id: str) -> None:
        super().__init__(tenant_id, ReusingConnectorFactory(MicrosoftAppCredentials.empty()))

    async def authenticate_request(self, activity: Activity, auth_header: str) -> None:
        if not is_loopback_url(activity.service_url or ""):
            raise PermissionError("local mode replies only to loopback serviceUrls")
        self._check_scope(activity)


def conversation_tenant_of(activity: Activity) -> str:
    # The SDK maps "tenantID"; Teams sends "tenantId", which msrest keeps in additional_properties.
    conversation = activity.conversation
    extra = getattr(conversation, "additional_properties", None) or {}
    return str(getattr(conversation, "tenant_id", None) or extra.get("tenantId") or "").lower()


def production_credentials(app_type: str, app_id: str, password: str, tenant_id: str):
    if app_type == "UserAssignedMSI":
        return ManagedIdentityAppCredentials(app_id, oauth_scope=TO_CHANNEL_SCOPE)
    return MicrosoftAppCredentials(app_id, password, tenant_id, TO_CHANNEL_SCOPE)
