"""The HTTP edge through `create_app`, with real Bot Connector JWT validation.

Production mode is built from `Settings.from_env`; its OpenID metadata URL points at a local server
(tests/support/jwt_keys.py) publishing a test RSA key. Only the ports (secrets, directory, state, audit, clock)
are fakes, plus one stub: the bot's *outbound* token (MSAL client credentials against
login.microsoftonline.com, unreachable here). `MicrosoftAppCredentials.get_access_token` is replaced by
a function returning a fixed token, so everything else stays as production wires it (metadata URL →
OpenIdKeys → validator → TeamsAuthentication → connector factory), and the loopback connector can check
that replies carry that token.

Every rejection asserts the exact status and body, the reason logged by the edge (so a case cannot pass
for the wrong reason), and that nothing reached the bot: a spy around `app[BOT]` saw no turn, the
connector and the notifier sent nothing, nothing was audited, claimed or counted, and no seed was read.
"""

from __future__ import annotations

import asyncio
import json
import threading
import logging
import time
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from botframework.connector.auth import MicrosoftAppCredentials

from bot.app import create_app
from bot.core.models import Seed
from bot.settings import Settings
from bot.web import BOT
from tests.support.harness import ADA_PERSON, ALICE, RFC_SEED
from tests.support.fakes import FakeDirectory, FakeNotifier, FakeSecretStore, MemoryAuditLog, MemoryCoordination, MemoryState
from tests.support.jwt_keys import (
    OpenIdServer,
    SigningKey,
    claims,
    hs256_keyed_with,
    rsa_key,
    sign,
    unsigned,
)
from tests.support.teams import CHANNEL_THREAD, TENANT, LoopbackConnector, message

APP_ID = "6b0c1f3e-8d2a-4c57-9e1b-3a7f5d2c9e40"
OTHER_APP_ID = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f60"
OTHER_TENANT = "00000000-0000-4000-8000-0000000000bb"
OUTBOUND_TOKEN = "stubbed-outbound-token"
TEAMS_SERVICE_URL = "https://smba.trafficmanager.net/teams/"
LIMIT = 256 * 1024
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"

TEAMS_KEY = SigningKey("teams-key", rsa_key("teams"), ("msteams",))
WEBCHAT_KEY = SigningKey("webchat-key", rsa_key("webchat"), ("webchat",))
FORGED_TEAMS_KEY = TEAMS_KEY.with_private_key_of(SigningKey("x", rsa_key("attacker"), ()))
UNPUBLISHED_KEY = SigningKey("unpublished-key", rsa_key("attacker"), ("msteams",))


# --- harness ---------------------------------------------------------------------------------------


class BotSpy:
    """Stands in for `app[BOT]`: records every turn, then runs the real bot."""

    def __init__(self) -> None:
        self.bot = None
        self.turns: list[tuple[str, str]] = []

    async def on_turn(self, context) -> None:
        self.turns.append((context.activity.type, context.activity.id))
        await self.bot.on_turn(context)


@dataclass
class RecordingConnector(LoopbackConnector):
    """The loopback connector, also recording the Authorization header of each reply."""

    authorizations: list[str | None] = field(default_factory=list)

    async def _receive(self, request: web.Request) -> web.Response:
        self.authorizations.append(request.headers.get("Authorization"))
        return await super()._receive(request)


@dataclass
class Edge:
    client: TestClient
    connector: RecordingConnector
    openid: OpenIdServer
    spy: BotSpy
    audit: MemoryAuditLog
    secrets: FakeSecretStore
    coordination: MemoryCoordination
    notifier: FakeNotifier

    async def post(self, activity, authorization: str | None = None) -> tuple[int, str]:
        headers = {"Authorization": authorization} if authorization is not None else {}
        response = await self.client.post("/api/messages", json=activity, headers=headers)
        return response.status, await response.text()

    async def post_raw(self, data, content_type: str | None = "application/json") -> tuple[int, dict]:
        headers = {"Content-Type": content_type} if content_type else {}
        response = await self.client.post("/api/messages", data=data, headers=headers)
        return response.status, await response.json()

    def message(self, text: str = "help", **kw) -> dict:
        return message(text, service_url=self.connector.url, **kw)

    def token(self, key: SigningKey = TEAMS_KEY, **claim_overrides) -> str:
        return "Bearer " + sign(claims(APP_ID, self.connector.url, **claim_overrides), key)

    def assert_nothing_reached_bot(self) -> None:
        assert self.spy.turns == []
        assert self.connector.sent == []
        assert self.audit.entries == []
        assert self.secrets.reads == 0
        assert (self.coordination.claims, self.coordination.counters) == ({}, {})
        assert (self.notifier.to_users, self.notifier.to_conversations) == ([], [])

    def assert_help_card_sent(self, activity: dict) -> None:
        assert self.spy.turns == [("message", activity["id"])]
        sent = self.connector.take()
        assert [(a["type"], a["_conversation"]) for a in sent] == [("message", CHANNEL_THREAD)]
        assert [att["contentType"] for att in sent[0]["attachments"]] == [ADAPTIVE_CARD]
        assert sent[0]["attachments"][0]["content"]["body"][0]["text"] == "Helpdesk OTP bot"


def production_env(tmp_path, metadata_url: str) -> dict:
    return {
        "MicrosoftAppId": APP_ID, "MicrosoftAppTenantId": TENANT, "MicrosoftAppType": "SingleTenant",
        "MicrosoftAppPassword": "unused: the outbound token fetch is stubbed",
        "OTPBOT_KEYVAULT_URL": "https://otpbot-test.vault.azure.net/", "OTPBOT_DATA_DIR": str(tmp_path),
        "OTPBOT_DIRECTORY_FILE": str(tmp_path / "directory.csv"), "OTPBOT_AGENT_OBJECT_IDS": ADA_PERSON.object_id,
        "OTPBOT_OPENID_METADATA_URL": metadata_url, "OTPBOT_ORG_NAME": "Contoso",
        "OTPBOT_ACS_ENDPOINT": "https://otpbot-test.communication.azure.com", "OTPBOT_SMS_FROM": "+18005550123",
    }


@pytest.fixture(autouse=True)
def stub_outbound_token(monkeypatch):
    calls = []

    def get_access_token(self, force_refresh: bool = False) -> str:
        on_loop_thread = threading.current_thread() is threading.main_thread()
        calls.append((self.microsoft_app_id, "loop" if on_loop_thread else "worker"))
        return OUTBOUND_TOKEN

    monkeypatch.setattr(MicrosoftAppCredentials, "get_access_token", get_access_token)
    return calls


@pytest.fixture
async def openid():
    server = await OpenIdServer([TEAMS_KEY, WEBCHAT_KEY]).start()
    yield server
    await server.close()


@pytest.fixture
async def start_edge(clock, tmp_path, openid):
    started: list[tuple[TestClient, RecordingConnector]] = []

    async def start(settings: Settings) -> Edge:
        connector = RecordingConnector()
        await connector.start()
        secrets, audit, spy = FakeSecretStore(Seed(ALICE.object_id, ALICE.upn, RFC_SEED)), MemoryAuditLog(clock), BotSpy()
        coordination, notifier = MemoryCoordination(clock), FakeNotifier()
        app = create_app(settings, secrets=secrets, directory=FakeDirectory(ALICE, ADA_PERSON), state=MemoryState(),
                         audit=audit, clock=clock, coordination=coordination, notifier=notifier)

        async def install_spy(app: web.Application) -> None:  # runs after create_app's own startup
            spy.bot, app[BOT] = app[BOT], spy

        app.on_startup.append(install_spy)
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        started.append((client, connector))
        return Edge(client, connector, openid, spy, audit, secrets, coordination, notifier)

    yield start
    for client, connector in started:
        await client.close()
        await connector.server.close()


@pytest.fixture
async def edge(start_edge, tmp_path, openid) -> Edge:
    return await start_edge(Settings.from_env(production_env(tmp_path, openid.metadata_url)))


@pytest.fixture
async def local_edge(start_edge, tmp_path) -> Edge:
    return await start_edge(Settings.from_env({"OTPBOT_DATA_DIR": str(tmp_path)}, local=True))


def rejection_reasons(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "otpbot.web"]


# --- production: accepted ---------------------------------------------------------------------------


async def test_valid_token_is_accepted_and_the_reply_is_sent_with_the_bots_own_token(edge, stub_outbound_token):
    activity = edge.message()

    status, body = await edge.post(activity, edge.token())

    assert (status, body) == (200, "")
    edge.assert_help_card_sent(activity)
    assert edge.connector.authorizations == [f"Bearer {OUTBOUND_TOKEN}"]
    # Warmed in a worker thread first (MSAL fetches with blocking HTTP), so msrest's call on the loop
    # is answered from MSAL's cache.
    assert stub_outbound_token == [(APP_ID, "worker"), (APP_ID, "loop")]


async def test_token_expired_within_the_five_minute_leeway_is_accepted(edge):
    activity = edge.message()
    token = edge.token(exp=int(time.time()) - 240)  # expired four minutes ago

    assert await edge.post(activity, token) == (200, "")
    edge.assert_help_card_sent(activity)


async def test_service_url_comparison_ignores_a_trailing_slash_and_case(edge):
    activity = edge.message()
    token = edge.token(serviceurl=edge.connector.url.upper() + "/")

    assert await edge.post(activity, token) == (200, "")
    edge.assert_help_card_sent(activity)


# --- production: rejected (401) ---------------------------------------------------------------------

def with_conversation_tenant(activity: dict, tenant: str | None) -> dict:
    activity["conversation"] = {**activity["conversation"], "tenantId": tenant}
    return activity


# Each case: (activity, Authorization header) built from the edge, and the reason the edge logs.
REJECTED = {
    "no Authorization header": (
        lambda e: (e.message(), None), "missing bearer token"),
    "not a Bearer scheme": (
        lambda e: (e.message(), e.token().replace("Bearer", "Basic")), "missing bearer token"),
    "Bearer with nothing after it": (
        lambda e: (e.message(), "Bearer "), "missing bearer token"),
    "garbage token": (
        lambda e: (e.message(), "Bearer not-a.jwt-at-all"), "malformed token"),
    "signed with a wrong key under the published kid": (
        lambda e: (e.message(), e.token(FORGED_TEAMS_KEY)), "token rejected (InvalidSignatureError)"),
    "alg none": (
        lambda e: (e.message(), "Bearer " + unsigned(claims(APP_ID, e.connector.url), TEAMS_KEY.kid)),
        "token algorithm not allowed"),
    "HS256 keyed with the published public key (algorithm confusion)": (
        lambda e: (e.message(), "Bearer " + hs256_keyed_with(claims(APP_ID, e.connector.url),
                                                             TEAMS_KEY.public_pem, TEAMS_KEY.kid)),
        "token algorithm not allowed"),
    "unknown kid": (
        lambda e: (e.message(), e.token(UNPUBLISHED_KEY)), "unknown signing key"),
    "wrong audience": (
        lambda e: (e.message(), e.token(aud=OTHER_APP_ID)), "token rejected (InvalidAudienceError)"),
    "no audience": (
        lambda e: (e.message(), e.token(aud=None)), "token rejected (MissingRequiredClaimError)"),
    "expired beyond the leeway": (
        lambda e: (e.message(), e.token(exp=int(time.time()) - 360)),
        "token rejected (ExpiredSignatureError)"),
    "no expiry": (
        lambda e: (e.message(), e.token(exp=None)), "token rejected (MissingRequiredClaimError)"),
    "not valid yet beyond the leeway": (
        lambda e: (e.message(), e.token(nbf=int(time.time()) + 360)),
        "token rejected (ImmatureSignatureError)"),
    "wrong issuer": (
        lambda e: (e.message(), e.token(iss="https://sts.windows.net/" + TENANT + "/")),
        "token rejected (InvalidIssuerError)"),
    "serviceurl claim is not the activity's serviceUrl": (
        lambda e: (e.message(), e.token(serviceurl=TEAMS_SERVICE_URL)), "serviceUrl does not match the token"),
    "activity serviceUrl is not the token's serviceurl claim": (
        lambda e: (message("help", service_url=TEAMS_SERVICE_URL), e.token()), "serviceUrl does not match the token"),
    "token without a serviceurl claim, activity without a serviceUrl": (
        lambda e: (message("help", service_url=""), e.token(serviceurl=None)), "token has no serviceurl claim"),
    "channel webchat, key endorsed for msteams only": (
        lambda e: (e.message(channelId="webchat"), e.token()), "signing key not endorsed for this channel"),
    "empty channel": (
        lambda e: (e.message(channelId=""), e.token()), "signing key not endorsed for this channel"),
    "channel webchat, key endorsed for webchat": (
        lambda e: (e.message(channelId="webchat"), e.token(WEBCHAT_KEY)), "channel not allowed"),
    "msteams activity signed with the webchat-only key": (
        lambda e: (e.message(), e.token(WEBCHAT_KEY)), "signing key not endorsed for this channel"),
    "wrong tenant in conversation.tenantId": (
        lambda e: (with_conversation_tenant(e.message(), OTHER_TENANT), e.token()), "tenant not allowed"),
    "no conversation.tenantId": (
        lambda e: (with_conversation_tenant(e.message(), None), e.token()), "tenant not allowed"),
    "wrong tenant in channelData": (
        lambda e: (e.message(channelData={"tenant": {"id": OTHER_TENANT}}), e.token()), "tenant not allowed"),
    "wrong tenant everywhere": (
        lambda e: (e.message(tenant=OTHER_TENANT), e.token()), "tenant not allowed"),
    "no channelData": (
        lambda e: (e.message(channelData=None), e.token()), "tenant not allowed"),
    "channelData.tenant is not an object": (
        lambda e: (e.message(channelData={"tenant": TENANT}), e.token()), "tenant not allowed"),
}


@pytest.mark.parametrize("case", list(REJECTED), ids=list(REJECTED))
async def test_rejected_requests_get_401_and_never_reach_the_bot(edge, caplog, case):
    build, reason = REJECTED[case]
    activity, authorization = build(edge)

    with caplog.at_level(logging.WARNING, logger="otpbot.web"):
        status, body = await edge.post(activity, authorization)

    assert (status, json.loads(body)) == (401, {"error": "unauthorized"})
    assert rejection_reasons(caplog) == [f"rejected request: {reason}"]
    edge.assert_nothing_reached_bot()


# --- OpenID metadata: outages and caching ------------------------------------------------------------

BROKEN_METADATA = {
    "metadata 503": dict(metadata_override=lambda: web.Response(status=503)),
    "JWKS 503": dict(jwks_override=lambda: web.Response(status=503)),
    "metadata is not JSON": dict(metadata_override=lambda: web.Response(text="<html>maintenance</html>")),
    "metadata is a JSON list": dict(metadata_override=lambda: web.json_response(["jwks_uri"])),
    "metadata without jwks_uri": dict(metadata_override=lambda: web.json_response({"issuer": "x"})),
    "JWKS without keys": dict(jwks_override=lambda: web.json_response({"kets": []})),
    "JWKS keys is not a list": dict(jwks_override=lambda: web.json_response({"keys": "none"})),
}
BROKEN_METADATA_REASONS = {
    "metadata 503": "OpenID metadata unavailable (ClientResponseError)",
    "JWKS 503": "OpenID metadata unavailable (ClientResponseError)",
    "metadata is not JSON": "OpenID metadata unavailable (JSONDecodeError)",
    "metadata is a JSON list": "OpenID metadata unavailable (TypeError)",
    "metadata without jwks_uri": "OpenID metadata unavailable (KeyError)",
    "JWKS without keys": "OpenID metadata unavailable (KeyError)",
    "JWKS keys is not a list": "OpenID metadata unavailable (TypeError)",
}


@pytest.mark.parametrize("case", list(BROKEN_METADATA), ids=list(BROKEN_METADATA))
async def test_broken_metadata_is_401_not_500_and_is_retried_once_it_recovers(edge, caplog, case):
    for name, override in BROKEN_METADATA[case].items():
        setattr(edge.openid, name, override)

    with caplog.at_level(logging.WARNING, logger="otpbot.web"):
        status, body = await edge.post(edge.message(), edge.token())

    assert (status, json.loads(body)) == (401, {"error": "unauthorized"})
    assert rejection_reasons(caplog) == [f"rejected request: {BROKEN_METADATA_REASONS[case]}"]
    edge.assert_nothing_reached_bot()

    edge.openid.metadata_override = edge.openid.jwks_override = None  # recovered: a failure is not cached
    activity = edge.message()
    assert await edge.post(activity, edge.token()) == (200, "")
    edge.assert_help_card_sent(activity)


async def test_a_malformed_key_in_the_jwks_does_not_hide_the_good_ones(edge):
    bad = {"kty": "RSA", "kid": "broken", "n": "not base64!", "e": "AQAB"}
    edge.openid.jwks_override = lambda: web.json_response({"keys": [bad, TEAMS_KEY.jwk()]})
    activity = edge.message()

    assert await edge.post(activity, edge.token()) == (200, "")
    edge.assert_help_card_sent(activity)


async def test_metadata_server_down_is_401(start_edge, tmp_path, caplog):
    down = await OpenIdServer([TEAMS_KEY]).start()
    url = down.metadata_url
    await down.close()  # nothing listens on that port any more
    edge = await start_edge(Settings.from_env(production_env(tmp_path, url)))

    with caplog.at_level(logging.WARNING, logger="otpbot.web"):
        status, body = await edge.post(edge.message(), edge.token())

    assert (status, json.loads(body)) == (401, {"error": "unauthorized"})
    assert rejection_reasons(caplog) == ["rejected request: OpenID metadata unavailable (ClientConnectorError)"]
    edge.assert_nothing_reached_bot()


async def test_metadata_is_fetched_once_and_cached_across_requests(edge):
    for _ in range(3):
        activity = edge.message()
        assert await edge.post(activity, edge.token()) == (200, "")
        edge.assert_help_card_sent(activity)
        edge.spy.turns.clear()
    assert await edge.post(edge.message(), edge.token(UNPUBLISHED_KEY)) == (401, '{"error": "unauthorized"}')

    assert edge.openid.hits == {"metadata": 1, "jwks": 1}  # an unknown kid does not force a refetch either


async def test_concurrent_first_requests_fetch_the_metadata_once(edge):
    edge.openid.delay_s = 0.2  # all five are waiting while the first fetch is in flight
    activities = [edge.message() for _ in range(5)]

    results = await asyncio.gather(*(edge.post(a, edge.token()) for a in activities))

    assert results == [(200, "")] * 5
    assert edge.openid.hits == {"metadata": 1, "jwks": 1}
    assert sorted(edge.spy.turns) == sorted(("message", a["id"]) for a in activities)


async def test_concurrent_requests_during_an_outage_share_one_failed_fetch(edge, caplog):
    edge.openid.delay_s = 0.2
    edge.openid.metadata_override = lambda: web.Response(status=503)

    with caplog.at_level(logging.WARNING, logger="otpbot.web"):
        results = await asyncio.gather(*(edge.post(edge.message(), edge.token()) for _ in range(5)))

    assert results == [(401, '{"error": "unauthorized"}')] * 5
    assert edge.openid.hits == {"metadata": 1, "jwks": 0}  # not five fetches queued behind one lock
    assert sorted(rejection_reasons(caplog)) == (
        ["rejected request: OpenID metadata unavailable (ClientResponseError)"]
        + ["rejected request: OpenID metadata unavailable (a concurrent fetch failed)"] * 4)
    edge.assert_nothing_reached_bot()


async def test_requests_rejected_before_authentication_do_not_fetch_metadata(edge):
    assert (await edge.post_raw(b"{", "application/json"))[0] == 400
    assert (await edge.post_raw(json.dumps(edge.message()).encode(), "text/plain"))[0] == 415

    assert edge.openid.hits == {"metadata": 0, "jwks": 0}


# --- body size, media type, JSON shape ---------------------------------------------------------------


def activity_of_size(activity: dict, size: int) -> bytes:
    padded = {**activity, "summary": ""}
    padding = size - len(json.dumps(padded).encode())
    body = json.dumps({**padded, "summary": "x" * padding}).encode()
    assert len(body) == size
    return body


async def chunked(body: bytes, chunk: int = 10_000):
    for start in range(0, len(body), chunk):
        yield body[start:start + chunk]


@pytest.mark.parametrize("transfer", ["content-length", "chunked"])
async def test_body_size_limit(edge, caplog, transfer):
    wrap = (lambda body: body) if transfer == "content-length" else chunked

    with caplog.at_level(logging.WARNING, logger="otpbot.web"):
        at_limit = await edge.post_raw(wrap(activity_of_size(edge.message(), LIMIT)))
        over_limit = await edge.post_raw(wrap(activity_of_size(edge.message(), LIMIT + 1)))

    assert at_limit == (401, {"error": "unauthorized"})  # read and parsed: only the missing token stops it
    assert over_limit == (413, {"error": "body too large"})
    assert rejection_reasons(caplog) == ["rejected request: missing bearer token"]
    edge.assert_nothing_reached_bot()


async def test_oversized_body_with_a_valid_token_is_413(edge):
    body = activity_of_size(edge.message(), LIMIT + 1)
    response = await edge.client.post("/api/messages", data=body, headers={
        "Content-Type": "application/json", "Authorization": edge.token()})

    assert (response.status, await response.json()) == (413, {"error": "body too large"})
    edge.assert_nothing_reached_bot()


BAD_BODIES = {
    "text/plain": (lambda e: json.dumps(e.message()).encode(), "text/plain", 415, "expected application/json"),
    "no content type": (lambda e: json.dumps(e.message()).encode(), None, 415, "expected application/json"),
    "form encoded": (lambda e: b"type=message", "application/x-www-form-urlencoded", 415,
                     "expected application/json"),
    "invalid JSON": (lambda e: b'{"type": "message",', "application/json", 400, "body is not valid JSON"),
    "not UTF-8": (lambda e: b'{"type": "\xff"}', "application/json", 400, "body is not valid JSON"),
    "empty body": (lambda e: b"", "application/json", 400, "body is not valid JSON"),
    "deeply nested JSON": (lambda e: b"[" * 100_000 + b"]" * 100_000, "application/json", 400,
                           "body is not valid JSON"),
    "a JSON list": (lambda e: json.dumps([e.message()]).encode(), "application/json", 400, "body is not an activity"),
    "a JSON string": (lambda e: b'"message"', "application/json", 400, "body is not an activity"),
    "no type": (lambda e: json.dumps({**e.message(), "type": None}).encode(), "application/json", 400,
                "body is not an activity"),
    "type is not a string": (lambda e: json.dumps({**e.message(), "type": 7}).encode(), "application/json", 400,
                             "body is not an activity"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES), ids=list(BAD_BODIES))
async def test_bad_bodies_are_rejected_before_authentication(edge, case):
    build, content_type, status, error = BAD_BODIES[case]

    assert await edge.post_raw(build(edge), content_type) == (status, {"error": error})
    edge.assert_nothing_reached_bot()


async def test_a_bad_body_is_rejected_even_with_a_valid_token(edge):
    response = await edge.client.post("/api/messages", data=b"[]", headers={
        "Content-Type": "application/json", "Authorization": edge.token()})

    assert (response.status, await response.json()) == (400, {"error": "body is not an activity"})
    edge.assert_nothing_reached_bot()


async def test_healthz(edge):
    response = await edge.client.get("/healthz")

    assert (response.status, response.content_type, await response.json()) == (
        200, "application/json", {"status": "ok"})
    assert edge.spy.turns == []


# --- local mode ---------------------------------------------------------------------------------------


async def test_local_mode_accepts_no_token_for_a_loopback_service_url(local_edge, stub_outbound_token):
    activity = local_edge.message()

    assert await local_edge.post(activity) == (200, "")
    local_edge.assert_help_card_sent(activity)
    assert local_edge.connector.authorizations == [None]  # local mode has no app credentials
    assert stub_outbound_token == []


LOCAL_REJECTED = {
    "Teams service URL": (TEAMS_SERVICE_URL, "local mode replies only to loopback serviceUrls"),
    "localhost as a subdomain": ("http://localhost.evil.example:3978/", "local mode replies only to loopback serviceUrls"),
    "loopback as userinfo": ("http://127.0.0.1@evil.example/", "local mode replies only to loopback serviceUrls"),
    "no serviceUrl": ("", "local mode replies only to loopback serviceUrls"),
    "not http": ("file:///etc/passwd", "local mode replies only to loopback serviceUrls"),
}


@pytest.mark.parametrize("case", list(LOCAL_REJECTED), ids=list(LOCAL_REJECTED))
async def test_local_mode_rejects_non_loopback_service_urls(local_edge, caplog, case):
    service_url, reason = LOCAL_REJECTED[case]

    with caplog.at_level(logging.WARNING, logger="otpbot.web"):
        status, body = await local_edge.post(message("help", service_url=service_url))

    assert (status, json.loads(body)) == (401, {"error": "unauthorized"})
    assert rejection_reasons(caplog) == [f"rejected request: {reason}"]
    local_edge.assert_nothing_reached_bot()


async def test_local_mode_still_pins_channel_and_tenant(local_edge):
    for activity in (local_edge.message(channelId="webchat"), local_edge.message(tenant=OTHER_TENANT)):
        status, body = await local_edge.post(activity)
        assert (status, json.loads(body)) == (401, {"error": "unauthorized"})
    local_edge.assert_nothing_reached_bot()
