"""No seed in any reply, card, invoke response, notice, log line, audit record or state record.

Drives every lifecycle path that touches a seed (enrollment in every format, refusals, a seed typed into chat or
into the wrong field, a whole provisioning run, shipping, pending, the sweeper, delivery) and then scans all that
the test produced, except the secret store itself. The scan ignores case, spaces and dashes, so a seed echoed in
Entra's grouped form or lower case would be found too.
"""

import json
import logging
import re
from datetime import timedelta

import pytest

from bot.app import SERVICES
from bot.handlers.sweep import sweep_once
from tests.support.harness import ALICE, BOB
from tests.support.lifecycle_fakes import DAVE, lifecycle_harness
from tests.support.teams import LEE, PERSONAL

ENTRA, RFC, LONG, CHAT = "2SK2TSMKJP7KDBCK", "JBSWY3DPEHPK3PXP", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "MFRGGZDFMZTWQ2LK"
SEEDS = (ENTRA, RFC, LONG, CHAT)


def compact(text: str) -> str:
    return re.sub(r"[\s\-]+", "", text).upper()


def test_the_scan_would_find_a_seed_in_any_spelling():
    for leaked in ("2sk2 tsmk jp7k dbck", "2SK2-TSMK-JP7K-DBCK", '{"v": "2sk2tsmkjp7kdbck"}'):
        assert ENTRA in compact(leaked)


@pytest.fixture
async def h(clock, tmp_path):
    harness = await lifecycle_harness(clock, tmp_path)
    yield harness
    await harness.close()


async def test_nothing_the_bot_produced_contains_a_seed(h, caplog):
    caplog.set_level(logging.DEBUG)
    produced: list = []

    async def say(text, **kw):
        produced.append(await h.say(text, **kw))

    async def click(verb, data, **kw):
        body, sent = await h.click(verb, data, **kw)
        produced.append([body, sent])
        return body

    form = {"period": "30", "digits": "6", "algorithm": "SHA1", "serial": "TK-1", "model": "C302"}
    # seeds typed into chat, in every shape
    for text in (f"enroll dave@contoso.example {CHAT}", "enroll dave@contoso.example mfrg gzdf mztw q2lk",
                 CHAT.lower(), f"otpauth://totp/x?secret={CHAT}", f"shipped dave@contoso.example {CHAT}",
                 f"revoke dave@contoso.example {CHAT}"):
        await say(text)
    await say(CHAT, conversation=PERSONAL, mention=False)
    # refused card submissions: bad formats, wrong code, seed in the serial or model field, not a lead
    for seed, code in ((f"otpauth://hotp/x?secret={RFC}", "123456"), ("2sk2 tsmk jp7k dbc1", "123456"),
                       ("2sk2 tsmk jp7k dbck", "655355"), (f"otpauth://totp/x?secret={LONG}&period=45", "1")):
        await click("enroll", {**form, "upn": DAVE.upn, "seed": seed, "code": code})
    await click("enroll", {**form, "upn": DAVE.upn, "seed": "x", "code": "1", "serial": ENTRA.lower()})
    await click("enroll", {**form, "upn": DAVE.upn, "seed": "x", "code": "1", "model": "jbsw y3dp ehpk 3pxp"})
    # accepted: Entra's lowercase grouped seed for Dave, an otpauth link for Bob, a replacement refused then done
    await click("enroll", {**form, "upn": DAVE.upn, "seed": "2sk2 tsmk jp7k dbck", "code": "138424"})
    link = f"otpauth://totp/Contoso:bob%40contoso.example?secret={RFC}&digits=8&algorithm=SHA512"
    await click("enroll", {**form, "upn": BOB.upn, "seed": link, "code": "30882132"})
    await click("enroll", {**form, "upn": DAVE.upn, "seed": LONG, "code": "361520", "replace": "true"})
    await click("enroll", {**form, "upn": DAVE.upn, "seed": LONG, "code": "361520", "replace": "true"}, user=LEE)
    # a provisioning run for Alice
    card = (await h.say("provision alice@contoso.example"))[0]["attachments"][0]["content"]
    for _ in range(2):
        card = (await click("provision_step", card["actions"][0]["data"]))["value"]
    card = (await click("enroll", {**form, **card["actions"][0]["data"], "seed": "2sk2tsmkjp7kdbck",
                                   "code": "138 424"}))["value"]
    for _ in range(3):
        card = (await click("provision_step", card["actions"][0]["data"]))["value"]
    await click("provision_step", {**card["actions"][0]["data"], "carrier": "DHL", "tracking": "JD0146"})
    # the rest of the lifecycle
    await say("shipped bob@contoso.example")
    await say("pending")
    h.clock.advance(days=46)
    await sweep_once(h.client.server.app[SERVICES], "instance-a")
    await say("pending")
    await say("delivered bob@contoso.example", user=LEE)
    await say("revoke dave@contoso.example")

    assert {h.store.seeds[p.object_id].secret for p in (ALICE, DAVE)} == {ENTRA, LONG}  # the flows really ran
    assert len(h.notifier.to_conversations) >= 1 and len(caplog.records) > 10  # the sweep digest at least
    haystacks = {
        "replies, cards and invoke responses": json.dumps(produced),
        "log records": "\n".join(f"{r.getMessage()} {r.args} {r.exc_text}" for r in caplog.records),
        "audit records": "\n".join(str(record) for record in h.audit.entries),
        "state records": json.dumps(h.state.items),
        "proactive messages": "\n".join(repr(m) for _, m in h.notifier.to_conversations + h.notifier.to_users),
    }
    for where, text in haystacks.items():
        for seed in SEEDS:
            assert seed not in compact(text), f"a seed reached the {where}"
    assert h.store.reads == 0  # and no seed value was read back by any of it
