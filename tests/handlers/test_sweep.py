"""The sweeper with a FakeClock across the overdue and maximum-age limits, its lease, the in-process schedule
started by the app, and `otpbot sweep`."""

import asyncio
from datetime import timedelta

import pytest

from bot.app import SERVICES
from bot.core.models import Seed, TokenStatus
from bot.runtime.lifecycle_settings import LifecycleSettings
from bot.handlers.sweep import LEASE_KEY, TASK_NAME, sweep_once
from tests.support.harness import ALICE, BOB, CAROL, RFC_SEED, card_of
from tests.support.lifecycle_fakes import DAVE, HELPDESK, lifecycle_harness

T0 = "2026-11-28T09:00:10+00:00"
REMIND_ALICE = ("Overdue token: alice@contoso.example, burned 30 days ago and not delivered yet (shipped 2026-11-29 "
                "via DHL, tracking JD014600003828). If it has arrived, a lead marks it `delivered "
                "alice@contoso.example`; if it is lost, `revoke alice@contoso.example lost`.")
REMIND_BOB = ("Overdue token: bob@contoso.example, burned 30 days ago and not delivered yet (burned 2026-11-28, not "
              "shipped yet). If it has arrived, a lead marks it `delivered bob@contoso.example`; if it is lost, "
              "`revoke bob@contoso.example lost`.")


def seed(person, status=TokenStatus.BURNED, **fields) -> Seed:
    return Seed(person.object_id, person.upn, RFC_SEED, status=status, **fields)


@pytest.fixture
async def h(clock, tmp_path):
    harness = await lifecycle_harness(clock, tmp_path, seed(ALICE), seed(BOB), seed(CAROL, TokenStatus.DELIVERED),
                                      seed(DAVE, TokenStatus.REVOKED, enabled=False))
    for person in (ALICE, BOB, CAROL, DAVE):
        await harness.state.write({f"token/{person.object_id}": {"upn": person.upn, "burned_at": T0}})
    yield harness
    await harness.close()


def services(h):
    return h.client.server.app[SERVICES]


def posted(h) -> list[tuple[str, str]]:
    return [(conversation, message.text) for conversation, message in h.notifier.to_conversations]


async def sweep_at(h, **delta):
    h.clock.at = h.clock.at.replace(year=2026, month=11, day=28, hour=9, minute=0, second=10) + timedelta(**delta)
    return await sweep_once(services(h), "instance-a")


async def test_reminds_once_per_overdue_token_and_disables_exactly_once_past_the_maximum_age(h):
    h.clock.advance(days=1)
    await h.say("shipped alice@contoso.example DHL JD014600003828")
    assert (await sweep_at(h, days=30)).summary() == "Checked 4 tokens: disabled 0 seeds, posted 0 reminders."
    report = await sweep_at(h, days=30, seconds=1)
    assert report.summary() == "Checked 4 tokens: disabled 0 seeds, posted 2 reminders."
    assert posted(h) == [(HELPDESK, REMIND_ALICE), (HELPDESK, REMIND_BOB)]
    assert (await sweep_at(h, days=31)).reminded == []  # once per token
    assert (await sweep_at(h, days=45)).disabled == []  # at the limit, not past it
    assert [s.enabled for s in h.store.seeds.values()] == [True, True, True, False]
    report = await sweep_at(h, days=45, seconds=1)
    assert (report.disabled, report.reminded) == (["alice@contoso.example", "bob@contoso.example"], [])
    assert {oid: s.enabled for oid, s in h.store.seeds.items()} == {
        ALICE.object_id: False, BOB.object_id: False, CAROL.object_id: True, DAVE.object_id: False}
    assert (await sweep_at(h, days=60)).summary() == "Checked 4 tokens: disabled 0 seeds, posted 0 reminders."
    assert len(posted(h)) == 2
    assert [(r.event, r.actor, r.target, r.details) for r in h.audit.entries[1:]] == [
        ("sweeper.reminded", "otpbot-sweeper", ALICE.upn, {"status": "shipped", "age_days": "30"}),
        ("sweeper.reminded", "otpbot-sweeper", BOB.upn, {"status": "burned", "age_days": "30"}),
        ("sweeper.disabled", "otpbot-sweeper", ALICE.upn, {"status": "shipped", "age_days": "45", "reason": "max_age"}),
        ("sweeper.disabled", "otpbot-sweeper", BOB.upn, {"status": "burned", "age_days": "45", "reason": "max_age"}),
    ]
    assert [c for c, _ in h.store.calls if c != "list"] == ["describe", "set_status", "disable", "disable"]
    assert h.store.reads == 0  # the sweeper never reads a seed's value


async def test_a_code_for_a_seed_the_sweeper_disabled_is_refused_with_the_reason(h):
    await sweep_at(h, days=46)
    vid = card_of((await h.say("code alice@contoso.example"))[0])["actions"][0]["data"]["vid"]
    await h.click("verify", {"vid": vid, "ticket": "INC-1", "calledBack": "true"})
    body, _ = await h.click("reveal", {"vid": vid})
    assert [b["text"] for b in body["value"]["body"]] == [
        "The token seed for Alice User is disabled. No code was released."]


async def test_an_expired_seed_is_disabled_before_its_maximum_age(h):
    h.store.seeds[BOB.object_id] = seed(BOB, expires_at=h.clock.now() + timedelta(days=3))
    report = await sweep_at(h, days=3)
    assert report.disabled == ["bob@contoso.example"]
    assert h.audit.entries[-1].details == {"status": "burned", "age_days": "3", "reason": "expired"}


async def test_a_failed_reminder_is_tried_again_next_time(h):
    h.notifier.fail_conversations.add(HELPDESK)
    report = await sweep_at(h, days=31)
    assert report.summary() == ("Checked 4 tokens: disabled 0 seeds, posted 0 reminders, 2 failed "
                                "(alice@contoso.example, bob@contoso.example).")
    h.notifier.fail_conversations.clear()
    assert (await sweep_at(h, days=32)).reminded == ["alice@contoso.example", "bob@contoso.example"]
    assert h.audit.events() == ["sweeper.reminded", "sweeper.reminded"]


async def test_the_lease_keeps_a_second_instance_from_sweeping(h):
    s = services(h)
    h.clock.advance(days=31)
    assert await s.coordination.claim(LEASE_KEY, "instance-b", 15 * 60)
    report = await sweep_once(s, "instance-a")
    assert report.skipped and report.summary() == (
        "Another instance is sweeping right now (it holds the sweeper lease); nothing was done.")
    assert posted(h) == [] and h.audit.events() == []
    h.clock.advance(minutes=15)  # the holder crashed: its lease runs out
    assert (await sweep_once(s, "instance-a")).reminded == ["alice@contoso.example", "bob@contoso.example"]
    assert await s.coordination.claim(LEASE_KEY, "instance-b", 1)  # released after the sweep


async def test_two_instances_sweeping_together_remind_once(h):
    s, gate, entered = services(h), asyncio.Event(), asyncio.Event()
    send = h.notifier.to_conversation

    async def slow_send(conversation, message):
        entered.set()
        await gate.wait()
        return await send(conversation, message)

    h.notifier.to_conversation = slow_send
    h.clock.advance(days=31)
    first = asyncio.ensure_future(sweep_once(s, "instance-a"))
    await entered.wait()  # instance A holds the lease and is mid-sweep
    second = await sweep_once(s, "instance-b")
    gate.set()
    assert second.skipped and (await first).reminded == ["alice@contoso.example", "bob@contoso.example"]
    assert len(posted(h)) == 2


async def test_reminders_go_to_the_alerts_channel_when_no_helpdesk_channel_is_set(clock, tmp_path):
    alerts = "19:security-alerts@thread.tacv2"
    h = await lifecycle_harness(clock, tmp_path, seed(ALICE), lifecycle=LifecycleSettings())
    services(h).alerts_conversation = alerts  # what the alerts channel setting gives (see bot/settings.py)
    await h.state.write({f"token/{ALICE.object_id}": {"upn": ALICE.upn, "burned_at": T0}})
    h.clock.advance(days=31)
    assert (await sweep_once(services(h), "a")).reminded == ["alice@contoso.example"]
    assert [c for c, _ in posted(h)] == [alerts]
    await h.close()


async def test_without_any_channel_nothing_is_posted_or_marked(clock, tmp_path, caplog):
    h = await lifecycle_harness(clock, tmp_path, seed(ALICE), lifecycle=LifecycleSettings())
    await h.state.write({f"token/{ALICE.object_id}": {"upn": ALICE.upn, "burned_at": T0}})
    h.clock.advance(days=31)
    assert (await sweep_once(services(h), "a")).reminded == []
    assert "1 overdue tokens, but no helpdesk conversation is configured for reminders" in caplog.text
    assert "reminded_at" not in (await h.state.read([f"token/{ALICE.object_id}"]))[f"token/{ALICE.object_id}"]
    await h.close()


async def test_the_app_runs_the_sweeper_in_process_and_stops_it_on_shutdown(clock, tmp_path):
    settings = LifecycleSettings(first_sweep_after=timedelta(0), sweep_every=timedelta(hours=1),
                                 helpdesk_conversation_id=HELPDESK)
    h = await lifecycle_harness(clock, tmp_path, seed(ALICE), lifecycle=settings)
    await h.state.write({f"token/{ALICE.object_id}": {"upn": ALICE.upn, "burned_at": "2026-10-01T00:00:00+00:00"}})
    for _ in range(200):
        if h.notifier.to_conversations:
            break
        await asyncio.sleep(0.01)
    assert [c for c, _ in posted(h)] == [HELPDESK]
    assert services(h).overdue_after == timedelta(days=30) and services(h).helpdesk_conversation == HELPDESK
    (task,) = [t for t in asyncio.all_tasks() if t.get_name() == TASK_NAME]
    await h.client.close()  # runs the cleanup context: the sweeper task is cancelled
    assert task.cancelled()
    await h.connector.server.close()


def test_otpbot_sweep_runs_once_with_the_apps_own_stores(tmp_path, monkeypatch, capsys):
    from bot.__main__ import main
    from bot.adapters.local_store import LocalSecretStore
    from bot.cli.demo import install_demo

    monkeypatch.setenv("OTPBOT_DATA_DIR", str(tmp_path))
    asyncio.run(install_demo(tmp_path, LocalSecretStore(tmp_path / "seeds.enc", tmp_path / "seeds.key")))
    assert main(["sweep", "--local"]) == 0
    assert capsys.readouterr().out == "Checked 4 tokens: disabled 0 seeds, posted 0 reminders.\n"
    from bot.adapters.sqlite import SqliteStorage

    adopted = asyncio.run(SqliteStorage(tmp_path / "state.sqlite").read(
        ["token/00000000-0000-4000-8000-0000000000c1"]))
    assert set(adopted["token/00000000-0000-4000-8000-0000000000c1"]) == {"upn", "burned_at", "adopted_at", "e_tag"}


async def test_a_revoked_tokens_seed_is_destroyed_after_the_undo_period(h):
    await h.state.write({f"token/{DAVE.object_id}": {"upn": DAVE.upn, "burned_at": T0, "status": "revoked",
                                                      "revoked_at": T0}})
    assert (await sweep_at(h, days=6, hours=23)).destroyed == []
    report = await sweep_at(h, days=7)
    assert report.destroyed == [DAVE.upn]
    assert report.summary() == "Checked 4 tokens: disabled 0 seeds, destroyed 1 revoked seeds, posted 0 reminders."
    assert DAVE.object_id not in h.store.seeds
    destroyed = [r for r in h.audit.entries if r.event == "token.destroyed"]
    assert [(r.actor, r.target, r.details) for r in destroyed] == [
        ("otpbot-sweeper", DAVE.upn, {"reason": "revoked", "purged": "true", "purge_scheduled": ""})]
    assert (await sweep_at(h, days=8)).destroyed == []
    assert h.store.reads == 0
