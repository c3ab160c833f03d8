"""Everything the bench serves from its own process: the OpenID metadata (test signing key), the loopback
Bot Connector the bots reply to, the Key Vault emulator holding the seeds, and the generated directory."""

from __future__ import annotations

import asyncio
import csv
import secrets
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from bot.adapters.keyvault import CONTENT_TYPE
from tests.support.jwt_keys import OpenIdServer, SigningKey, claims, rsa_key, sign
from tests.support.kv_emulator import KeyVaultEmulator, make_loopback_cert
from tests.support.teams import TENANT, User

APP_ID = "6b0c1f3e-8d2a-4c57-9e1b-3a7f5d2c9e40"
TEAMS_KEY = SigningKey("bench-teams-key", rsa_key("bench-teams"), ("msteams",))
FORGED_KEY = TEAMS_KEY.with_private_key_of(SigningKey("x", rsa_key("bench-attacker"), ()))
CHANNEL = "19:bench-codes@thread.tacv2"
TARGETS = 200
AGENTS = 64  # one per concurrent worker at the highest concurrency
PERMISSIVE_LIMIT = "99999/1h"
FRESH_TOKENS = 2000  # > VERIFIED_TOKENS_KEPT (256) in bot/adapters/teams/jwt_validation.py


@dataclass(frozen=True)
class Target:
    upn: str
    oid: str
    seed: str


def target(i: int) -> Target:
    return Target(f"user{i:03d}@bench.example", f"00000000-0000-4000-8000-1000{i:08d}", "")


def agent(i: int) -> User:
    return User(f"00000000-0000-4000-8000-2000{i:08d}", f"Agent {i:02d}")


@dataclass
class Connector:
    """The loopback Bot Connector: answers every send like the real one ({"id": ...}), keeps the last body
    per conversation (the load generator reads cards from it) and counts sends and wrong bearer tokens."""

    expected_auth: str
    sent: int = 0
    bad_auth: int = 0
    last: dict[str, bytes] = field(default_factory=dict)
    runner: web.AppRunner | None = None
    url: str = ""

    async def start(self) -> "Connector":
        app = web.Application()
        app.router.add_post("/v3/conversations/{cid}/activities", self._receive)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._receive)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001 (aiohttp exposes no public getter)
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.sent += 1
        if request.headers.get("Authorization") != self.expected_auth:
            self.bad_auth += 1
        self.last[request.match_info["cid"]] = body
        return web.Response(body=b'{"id":"sent"}', content_type="application/json")

    async def close(self) -> None:
        await self.runner.cleanup()


@dataclass
class World:
    tmp: Path
    openid: OpenIdServer
    connector: Connector
    kv: KeyVaultEmulator
    targets: list[Target]
    token: str  # the Bot Connector's bearer token for the bots (signed once, reused like the real service's)
    forged_token: str
    fresh_tokens: list[str] = field(default_factory=list)  # distinct tokens: each one is new to the bot

    def sign_fresh_tokens(self, n: int = FRESH_TOKENS) -> list[str]:
        """`n` distinct valid tokens (a `jti` each), signed once per run (~1 ms each): far more than the bot's
        memory of verified tokens, so cycling through them makes it verify the signature on every request."""
        if not self.fresh_tokens:
            self.fresh_tokens = ["Bearer " + sign(claims(APP_ID, self.connector.url, jti=str(i)), TEAMS_KEY)
                                 for i in range(n)]
        return self.fresh_tokens

    def kv_counts(self) -> tuple[Counter, Counter]:
        """(authenticated requests, token-less requests answered with the 401 challenge), by (method, kind)."""
        with self.kv._lock:  # noqa: SLF001 (the emulator's own lock for its counters)
            return Counter(self.kv.counts), Counter(self.kv.challenges)

    def bot_env(self, data_dir: Path) -> dict[str, str]:
        """Production-mode settings (Settings.from_env) for the bot process."""
        return {
            "MicrosoftAppId": APP_ID, "MicrosoftAppTenantId": TENANT, "MicrosoftAppType": "SingleTenant",
            "MicrosoftAppPassword": "unused: the outbound token fetch is stubbed",
            "OTPBOT_KEYVAULT_URL": self.kv.url, "OTPBOT_DATA_DIR": str(data_dir),
            "OTPBOT_DIRECTORY_FILE": str(self.tmp / "directory.csv"),
            "OTPBOT_AGENT_OBJECT_IDS": ",".join(agent(i).oid for i in range(AGENTS)),
            "OTPBOT_ALLOWED_CHANNEL_IDS": CHANNEL,
            "OTPBOT_OPENID_METADATA_URL": self.openid.metadata_url,
            "OTPBOT_LIMIT_PER_AGENT": PERMISSIVE_LIMIT, "OTPBOT_LIMIT_PER_TARGET": PERMISSIVE_LIMIT,
            "OTPBOT_LIMIT_GLOBAL": PERMISSIVE_LIMIT,
            # The benchmark measures the callback dialog (no SMS service here), a policy still accepted.
            "OTPBOT_PROOFS_STANDARD": "callback", "OTPBOT_PROOFS_PRIVILEGED": "callback,second_agent_approval",
            "BENCH_KV_URL": self.kv.url, "SSL_CERT_FILE": str(self.kv.cert.cert),
        }

    async def close(self) -> None:
        await self.connector.close()
        await self.openid.close()
        await asyncio.to_thread(self.kv.stop)


async def build_world() -> World:
    tmp = Path(tempfile.mkdtemp(prefix="otpbot-bench-"))  # on the machine's disk: SQLite fsyncs are real
    openid = await OpenIdServer([TEAMS_KEY]).start()
    from tests.bench.bot_process import OUTBOUND_TOKEN

    connector = await Connector(f"Bearer {OUTBOUND_TOKEN}").start()
    kv = KeyVaultEmulator(make_loopback_cert(tmp / "kv-tls")).start()
    targets = []
    for i in range(TARGETS):
        t = target(i)
        t = Target(t.upn, t.oid, _base32_seed())
        kv.store(f"totp-{t.oid}", t.seed, content_type=CONTENT_TYPE,
                 tags={"upn": t.upn, "status": "burned", "period": "30", "digits": "6", "algorithm": "SHA1"})
        targets.append(t)
    _write_directory(tmp / "directory.csv", targets)
    token = "Bearer " + sign(claims(APP_ID, connector.url), TEAMS_KEY)
    forged = "Bearer " + sign(claims(APP_ID, connector.url), FORGED_KEY)
    return World(tmp, openid, connector, kv, targets, token, forged)


def _base32_seed() -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return "".join(secrets.choice(alphabet) for _ in range(32))


def _write_directory(path: Path, targets: list[Target]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["upn", "object_id", "display_name", "phone", "manager_upn"])
        for i, t in enumerate(targets):
            writer.writerow([t.upn, t.oid, f"Bench User {i:03d}", f"+44 20 7946 {i:04d}", ""])
        for i in range(AGENTS):
            a = agent(i)
            writer.writerow([f"agent{i:02d}@bench.example", a.oid, a.name, f"+44 20 7000 {i:04d}", ""])
