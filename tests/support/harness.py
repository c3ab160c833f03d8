from __future__ import annotations

from datetime import datetime, timezone

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.core.models import Algorithm, Person, Seed, TokenStatus, TotpParams
from bot.settings import Settings
from tests.support.fakes import (FakeClock, FakeDirectory, FakeNotifier, FakeSecretStore, MemoryAuditLog,
                         MemoryCoordination, MemoryState)
from tests.support.teams import ADA, LoopbackConnector, card_action, message

ALICE = Person("alice@contoso.example", "00000000-0000-4000-8000-0000000000c1", "Alice User",
               "+44 7700 900958", "mia@contoso.example", mobile="+44 7700 900958")
MIA = Person("mia@contoso.example", "00000000-0000-4000-8000-0000000000d1", "Mia Manager", "+44 20 7946 0104")
LEE = Person("lee@contoso.example", "00000000-0000-4000-8000-0000000000b1", "Lee Lead", "+44 7700 900103",
             mobile="+44 7700 900103")
BEN_PERSON = Person("ben@contoso.example", "00000000-0000-4000-8000-0000000000a2", "Ben Agent", "+44 20 7946 0102")
BOB = Person("bob@contoso.example", "00000000-0000-4000-8000-0000000000c2", "Bob User", "+1 425 555 0143",
             mobile="+1 425 555 0143")
CARL = Person("carl@contoso.example", "00000000-0000-4000-8000-0000000000c5", "Carl Landline", "+44 20 7946 0959",
              "mia@contoso.example")  # a landline of record only: nothing can be texted to him
CAROL = Person("carol@contoso.example", "00000000-0000-4000-8000-0000000000c3", "Carol NoPhone", None)
ADA_PERSON = Person("ada@contoso.example", ADA.oid, "Ada Agent", "+44 20 7946 0101")
RFC_SEED = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # base32 of "12345678901234567890" (RFC 6238)
# The callback policy (still accepted, no longer the default): most release-mechanics tests run on it. Tests of
# the shipped default policy (phone_code) pass `policy=SHIPPED_POLICY` (tests/test_phone_code_dialog.py).
CALLBACK_POLICY = {"OTPBOT_PROOFS_STANDARD": "callback", "OTPBOT_PROOFS_PRIVILEGED": "callback,second_agent_approval"}
SHIPPED_POLICY: dict = {}


class Harness:
    """Drives the real app (aiohttp edge in local mode, the turn runner, the handlers) with Teams activities over HTTP."""

    def __init__(self, client: TestClient, connector: LoopbackConnector, clock, secrets, audit, state,
                 coordination, notifier, directory, data_dir=None) -> None:
        self.client, self.connector, self.clock = client, connector, clock
        self.secrets, self.audit, self.state = secrets, audit, state
        self.coordination, self.notifier, self.directory = coordination, notifier, directory
        self.data_dir = data_dir

    def texts_sent(self) -> list[dict]:
        """The local SMS outbox, as `make run` writes it (<OTPBOT_DATA_DIR>/sms-outbox.jsonl)."""
        from bot.adapters.sms_outbox import OUTBOX_NAME, read_outbox

        return read_outbox(self.data_dir / OUTBOX_NAME)

    def last_code(self) -> str:
        """The code in the newest text, as the caller reads it out (`482 193`)."""
        import re

        return re.search(r"code is (\d{3} \d{3})\.", self.texts_sent()[-1]["text"]).group(1)

    async def close(self) -> None:
        await self.client.close()
        await self.connector.server.close()

    async def say(self, text: str, **kw) -> list[dict]:
        response = await self.client.post("/api/messages", json=message(text, service_url=self.connector.url, **kw))
        assert response.status == 200, await response.text()
        return self.connector.take()

    async def click(self, verb: str, data: dict, **kw) -> tuple[dict, list[dict]]:
        response = await self.client.post("/api/messages",
                                          json=card_action(verb, data, service_url=self.connector.url, **kw))
        assert response.status == 200, await response.text()
        body = await response.json()
        return body, self.connector.take()


def texts(sent: list[dict]) -> list[str]:
    return [a.get("text") for a in sent]


def card_of(activity: dict) -> dict:
    return activity["attachments"][0]["content"]


def card_texts(card: dict) -> list[str]:
    return [b["text"] for b in card["body"] if b.get("type") == "TextBlock"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 28, 9, 0, 10, tzinfo=timezone.utc))


async def start_harness(clock, tmp_path, state=None, connector=None, env: dict | None = None,
                        policy: dict = CALLBACK_POLICY, **overrides) -> Harness:
    connector = connector or LoopbackConnector()
    if connector.server is None:
        await connector.start()
    secrets = FakeSecretStore(
        Seed(ALICE.object_id, ALICE.upn, RFC_SEED),
        Seed(BOB.object_id, BOB.upn, RFC_SEED, TotpParams(60, 8, Algorithm.SHA256), TokenStatus.SHIPPED),
        Seed(CAROL.object_id, CAROL.upn, RFC_SEED),
        Seed(LEE.object_id, LEE.upn, RFC_SEED),
    )
    audit, state = MemoryAuditLog(clock), state or MemoryState()
    coordination, notifier = MemoryCoordination(clock), FakeNotifier()
    directory = overrides.pop("directory", None) or FakeDirectory(ALICE, BOB, CAROL, CARL, ADA_PERSON, MIA, LEE,
                                                                  BEN_PERSON)
    secrets.seeds[CARL.object_id] = Seed(CARL.object_id, CARL.upn, RFC_SEED)
    settings = Settings.from_env({"OTPBOT_DATA_DIR": str(tmp_path), **policy, **(env or {})}, local=True)
    ports = dict(secrets=secrets, directory=directory, state=state, audit=audit, clock=clock,
                 coordination=coordination, notifier=notifier)
    app = create_app(settings, **{**ports, **overrides})
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return Harness(client, connector, clock, secrets, audit, state, coordination, notifier, directory, tmp_path)


@pytest.fixture
async def harness(clock, tmp_path):
    harness = await start_harness(clock, tmp_path)
    yield harness
    await harness.close()
