"""What `make run` is: the app from create_app in local mode on the demo data (`otpbot demo`), its real embedded
stores (encrypted seed file, CSV directory, SQLite) and its SMS outbox; only the clock is fixed.

Done when: a generic client that fills every field with plausible values and ticks every box gets no code;
reading the code from the SMS outbox gets one in at most 4 agent actions.
"""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timezone

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.adapters.local_store import LocalSecretStore
from bot.adapters.sms_outbox import OUTBOX_NAME, read_outbox
from bot.app import create_app
from bot.cli.demo import DEMO_SEEDS, install_demo
from bot.core.totp import code_at, group_code
from bot.settings import Settings
from tests.support.fakes import FakeClock
from tests.support.teams import LoopbackConnector, card_action, message

NOW = datetime(2026, 11, 28, 9, 0, 10, tzinfo=timezone.utc)
ALICE_SEED = next(s for s in DEMO_SEEDS if s.upn == "alice@contoso.example")
PLAUSIBLE = {"ticket": "INC-1001", "phoneCode": "123456", "code": "123456", "carrier": "DHL", "tracking": "1234"}


@pytest.fixture
async def run(tmp_path):
    await install_demo(tmp_path, LocalSecretStore(tmp_path / "seeds.sqlite", tmp_path / "seeds.key"))
    connector = LoopbackConnector()
    await connector.start()
    app = create_app(Settings.from_env({"OTPBOT_DATA_DIR": str(tmp_path)}, local=True), clock=FakeClock(NOW))
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    transcript: list[str] = []

    async def say(text):
        transcript.append(f"Ada types: {text}")
        response = await client.post("/api/messages", json=message(text, service_url=connector.url))
        assert response.status == 200
        sent = connector.take()
        for activity in sent:
            transcript.append(f"bot: {_describe(activity.get('attachments', [{}])[0].get('content')) or activity['text']}")
        return sent

    async def click(verb, data, title=None):
        transcript.append(f"Ada clicks: {title or verb} {json.dumps({k: v for k, v in data.items() if k not in ('vid', 'requester')})}")
        response = await client.post("/api/messages", json=card_action(verb, data, service_url=connector.url))
        assert response.status == 200
        body = await response.json()
        transcript.append(f"bot (to Ada only): {_describe(body['value'])}")
        connector.take()
        return body["value"]

    yield say, click, tmp_path, transcript
    await client.close()
    await connector.server.close()


def _describe(card) -> str:
    if not card:
        return ""
    parts = [b["text"] for b in card.get("body", []) if b.get("type") == "TextBlock"]
    parts += [f"[{b['type']} {b.get('label') or b.get('title')}]" for b in card.get("body", [])
              if b.get("type", "").startswith("Input.")]
    parts += [f"<{a['title']}>" for a in card.get("actions", [])]
    return " | ".join(parts)


def _fill(card) -> dict:
    values = {}
    for item in card.get("body", []):
        if item.get("type") == "Input.Toggle":
            values[item["id"]] = item.get("valueOn", "true")  # tick every box
        elif item.get("type", "").startswith("Input."):
            values[item["id"]] = PLAUSIBLE.get(item["id"], "plausible")
    return values


async def test_a_client_that_fills_every_field_and_ticks_every_box_gets_no_code(run):
    say, click, data_dir, _ = run
    expected = group_code(code_at(ALICE_SEED.secret, ALICE_SEED.params, NOW))
    for target in ("alice@contoso.example", "carol@contoso.example", "lee@contoso.example"):
        [sent] = await say(f"code {target}")
        card = sent["attachments"][0]["content"]
        seen = []
        for turn in itertools.count():
            if turn == 12:
                break
            actions = [a for a in card.get("actions", []) if a["verb"] != "cancel"]
            if not actions:
                break
            action = actions[turn % len(actions)]
            card = await click(action["verb"], {**action["data"], **_fill(card)}, action["title"])
            seen.append(json.dumps(card))
            if not card.get("actions"):  # a plain answer: go back to clicking the last card's actions
                card = json.loads(next((c for c in reversed(seen) if json.loads(c).get("actions")), "{}")) or card
        everything = "\n".join(seen)
        assert "Code for" not in everything, target
        assert expected not in everything and expected.replace(" ", "") not in everything
    assert len(read_outbox(data_dir / OUTBOX_NAME)) >= 1  # codes were texted: to the phone, not to the client
    from bot.adapters.sqlite import SqliteAuditLog

    audit = SqliteAuditLog(data_dir / "audit.sqlite", FakeClock(NOW))
    events = [r.event for r in await audit.records()]
    assert "phone_code.failed" in events and "verification.passed" in events  # it did try, and got that far
    assert "code.released" not in events


async def test_reading_the_code_from_the_sms_outbox_gets_one_in_four_agent_actions(run):
    say, click, data_dir, transcript = run
    [sent] = await say("code alice@contoso.example")  # 1
    card = sent["attachments"][0]["content"]
    vid = card["actions"][0]["data"]["vid"]
    assert [a["title"] for a in card["actions"]] == ["Text the code", "Cancel"]
    card = await click("send_code", {"vid": vid, "ticket": "INC-1001"}, "Text the code")  # 2
    [text] = read_outbox(data_dir / OUTBOX_NAME)
    assert text["to"] == "+447700900958"
    spoken = text["text"].split("code is ")[1][:7]  # what the caller reads out: "482 193"
    transcript.append(f"the caller reads the text on their phone: {text['text']}")
    card = await click("verify", {"vid": vid, "phoneCode": spoken}, "Check code")  # 3
    assert [a["title"] for a in card["actions"]] == ["Show code"]
    card = await click("reveal", {"vid": vid}, "Show code")  # 4
    shown = [b["text"] for b in card["body"]]
    assert shown[:2] == ["Code for Alice User (alice@contoso.example)",
                         group_code(code_at(ALICE_SEED.secret, ALICE_SEED.params, NOW))]
    assert sum(line.startswith(("Ada types", "Ada clicks")) for line in transcript) == 4
    print("\n".join(transcript))
