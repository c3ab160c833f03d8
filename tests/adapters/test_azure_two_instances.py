"""Two bot instances sharing only Azure Storage (Azurite): one dialog hops between them, duplicates release once."""

import asyncio

import pytest

from bot.adapters.azure_audit import TableAuditLog
from bot.adapters.azure_storage import BlobCoordination, BlobStorage
from bot.handlers import DUPLICATE
from tests.support.azurite import azurite  # noqa: F401  (fixture)
from tests.support.harness import card_of, card_texts, start_harness, texts
from tests.support.teams import card_action

ADA_OID = "00000000-0000-4000-8000-0000000000a1"
ALREADY_USED = ["This verification was already used. Start again with `code <upn>`."]
CODE_CARD = [
    "Code for Alice User (alice@contoso.example)", "361 520",
    "Valid 09:00:00–09:00:30 (UTC). Entra accepts it until 09:01:30 (UTC).",
    "Read it to the caller now. It is not stored in this conversation.",
]
NOTICE = ("Ada Agent released a sign-in code for Alice User (alice@contoso.example), window now, after: callback "
          "to the number of record. The code was shown only to them.")


def invoke_texts(body) -> list[str]:
    assert body["statusCode"] == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
    return card_texts(body["value"])


@pytest.fixture
async def pair(azurite, clock, tmp_path):
    """Instances A and B: each its own app, clients and adapters; shared containers, secrets and directory."""
    container, table = await azurite.new_container(), await azurite.new_table()

    def own_adapters():
        return dict(state=BlobStorage(azurite.container(container)),
                    coordination=BlobCoordination(azurite.container(container), clock),
                    audit=TableAuditLog(azurite.table(table), clock))

    ports_a, ports_b = own_adapters(), own_adapters()
    a = await start_harness(clock, tmp_path / "a", **ports_a)
    b = await start_harness(clock, tmp_path / "b", connector=a.connector, secrets=a.secrets, directory=a.directory,
                            **ports_b)
    # start_harness keeps its own fakes on the Harness; point its attributes at what the apps really use.
    for harness, ports in ((a, ports_a), (b, ports_b)):
        harness.state, harness.coordination, harness.audit = ports["state"], ports["coordination"], ports["audit"]
    b.secrets, b.directory = a.secrets, a.directory
    yield a, b
    for harness in (a, b):
        await harness.client.close()
        for adapter in (harness.state, harness.coordination, harness.audit):
            await adapter.close()
    await a.connector.server.close()


async def start_and_verify(a, b) -> str:
    sent = await a.say("code alice@contoso.example")
    vid = card_of(sent[0])["actions"][0]["data"]["vid"]
    body, sent = await b.click("verify", {"vid": vid, "ticket": "INC-1234", "calledBack": "true", "requester": ADA_OID})
    assert invoke_texts(body) == [
        "Callback recorded for Alice User (alice@contoso.example).",
        "Window: now. Press Show code when you are ready to read it out; it is shown only to you and can be shown "
        "once.",
    ]
    assert sent == []
    return vid


async def test_a_dialog_alternating_between_instances_releases_the_code_once(pair):
    a, b = pair
    vid = await start_and_verify(a, b)

    body, sent = await a.click("reveal", {"vid": vid})
    assert invoke_texts(body) == CODE_CARD
    assert texts(sent) == [NOTICE]

    body, sent = await b.click("reveal", {"vid": vid})
    assert invoke_texts(body) == ALREADY_USED
    assert sent == []
    records = await b.audit.records()
    assert [r.event for r in records] == ["verification.started", "verification.passed", "code.released"]
    assert [r.seq for r in records] == [1, 2, 3]
    assert (records[2].actor, records[2].target, records[2].details["vid"]) == (ADA_OID, "alice@contoso.example", vid)
    assert await a.audit.verify() is None
    assert a.secrets.reads == 1


async def test_the_same_activity_delivered_to_both_instances_runs_once(pair):
    a, b = pair
    vid = await start_and_verify(a, b)
    activity = card_action("reveal", {"vid": vid}, service_url=a.connector.url)  # one id, delivered twice
    responses = await asyncio.gather(*(h.client.post("/api/messages", json=activity) for h in (a, b)))
    assert [r.status for r in responses] == [200, 200]
    shown = sorted([invoke_texts(await r.json()) for r in responses], key=len)
    assert shown == [[DUPLICATE], CODE_CARD]
    assert texts(a.connector.take()) == [NOTICE]
    events = [r.event for r in await a.audit.records()]
    assert sorted(events[2:]) == ["activity.duplicate", "code.released"]
    assert await b.audit.verify() is None
    assert a.secrets.reads == 1


async def test_two_reveal_clicks_racing_on_two_instances_release_at_most_one_code(pair):
    a, b = pair
    vid = await start_and_verify(a, b)
    results = await asyncio.gather(a.click("reveal", {"vid": vid}), b.click("reveal", {"vid": vid}))
    shown = [invoke_texts(body) for body, _ in results]
    assert shown.count(CODE_CARD) == 1
    loser = next(s for s in shown if s != CODE_CARD)
    assert loser in (ALREADY_USED, ["Another code release for Alice User is in progress. Try again in a moment."])
    assert [r.event for r in await a.audit.records()].count("code.released") == 1
    assert await a.audit.verify() is None
    assert a.secrets.reads == 1
