"""The sweeper with a FakeClock across the overdue and maximum-age limits, its lease, the in-process schedule
started by the app, and `otpbot sweep`."""

import asyncio
from datetime import timedelta

import pytest

from bot.app import SERVICES
from bot.core.models import Seed, TokenStatus
from bot.runtime.lifecycle_settings import LifecycleSettings
from bot.handlers.sweep import LEASE_KEY, TASK_NAME, sweep_once
from tests.support.harness import ALICE, BOB, CAROL, RFC_SEED, card_of, texts
from tests.support.lifecycle_fakes import DAVE, HELPDESK, lifecycle_harness

T0 = "2026-11-28T09:00:10+00:00"
OVERDUE_BOTH = ("Daily token sweep: checked 4 tokens.\n\n2 tokens are overdue (not delivered 30 days after burning); "
                "the oldest: alice@contoso.example (burned 30 days ago), bob@contoso.example (burned 30 days ago). "
                "Type `pending overdue` for the list; when one has arrived, a lead marks it `delivered <upn>`; if "
                "it is lost, `revoke <upn> lost`.")


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


async def test_one_digest_per_sweep_and_each_seed_disabled_exactly_once_past_the_maximum_age(h):
    h.clock.advance(days=1)
    await h.say("shipped alice@contoso.example DHL JD014600003828")
    report = await sweep_at(h, days=30)
    assert report.summary() == "Checked 4 tokens: disabled 0 seeds, 0 overdue."
    assert posted(h) == [] and h.audit.events()[1:] == []  # nothing to say: no digest
    report = await sweep_at(h, days=30, seconds=1)
    assert report.summary() == "Checked 4 tokens: disabled 0 seeds, 2 overdue; digest posted."
    assert posted(h) == [(HELPDESK, OVERDUE_BOTH)]
    assert (await sweep_at(h, days=45)).disabled == []  # at the limit, not past it
    assert [s.enabled for s in h.store.seeds.values()] == [True, True, True, False]
    report = await sweep_at(h, days=45, seconds=1)
    assert (report.disabled, report.overdue) == (["alice@contoso.example", "bob@contoso.example"], 2)
    assert posted(h)[-1] == (HELPDESK, (
        "Daily token sweep: checked 4 tokens.\n\nDisabled 2 seeds older than 45 days or past their expiry: "
        "alice@contoso.example, bob@contoso.example.\n\n2 tokens are overdue (not delivered 30 days after "
        "burning); the oldest: alice@contoso.example (burned 45 days ago), bob@contoso.example (burned 45 days "
        "ago). Type `pending overdue` for the list; when one has arrived, a lead marks it `delivered <upn>`; if it "
        "is lost, `revoke <upn> lost`."))
    assert {oid: s.enabled for oid, s in h.store.seeds.items()} == {
        ALICE.object_id: False, BOB.object_id: False, CAROL.object_id: True, DAVE.object_id: False}
    assert (await sweep_at(h, days=60)).summary() == "Checked 4 tokens: disabled 0 seeds, 2 overdue; digest posted."
    assert len(posted(h)) == 4  # one message per sweep that had something to say
    digest = {"checked": "4", "disabled": "0", "destroyed": "0", "overdue": "2", "failed": "0",
              "oldest": ALICE.upn, "posted": "true"}
    assert [(r.event, r.actor, r.target, r.details) for r in h.audit.entries[1:]] == [
        ("sweeper.digest", "otpbot-sweeper", "", digest),
        ("sweeper.digest", "otpbot-sweeper", "", digest),
        ("sweeper.disabled", "otpbot-sweeper", ALICE.upn, {"status": "shipped", "age_days": "45", "reason": "max_age"}),
        ("sweeper.disabled", "otpbot-sweeper", BOB.upn, {"status": "burned", "age_days": "45", "reason": "max_age"}),
        ("sweeper.digest", "otpbot-sweeper", "", {**digest, "disabled": "2"}),
        ("sweeper.digest", "otpbot-sweeper", "", digest),
    ]
    assert [c for c, _ in h.store.calls if c != "list"] == ["describe", "set_status", "disable", "disable"]
    assert h.store.reads == 0  # the sweeper never reads a seed's value


async def test_a_code_for_a_seed_the_sweeper_disabled_is_refused_with_the_reason(h):
    await sweep_at(h, days=46)
    assert texts(await h.say("code alice@contoso.example")) == [  # before any dialog: no call made for nothing
        "The token seed for Alice User is disabled. No code was released."]


async def test_an_expired_seed_is_disabled_before_its_maximum_age(h):
    h.store.seeds[BOB.object_id] = seed(BOB, expires_at=h.clock.now() + timedelta(days=3))
    report = await sweep_at(h, days=3)
    assert report.disabled == ["bob@contoso.example"]
    assert h.audit.entries[-2].details == {"status": "burned", "age_days": "3", "reason": "expired"}


async def test_a_digest_that_cannot_be_sent_is_reported_and_the_next_sweep_posts_its_own(h):
    h.notifier.fail_conversations.add(HELPDESK)
    report = await sweep_at(h, days=31)
    assert report.summary() == "Checked 4 tokens: disabled 0 seeds, 2 overdue; digest not posted (the send failed)."
    assert h.audit.entries[-1].details["posted"] == "false"
    h.notifier.fail_conversations.clear()
    assert (await sweep_at(h, days=32)).digest == "posted"
    assert h.audit.events() == ["sweeper.digest", "sweeper.digest"]


async def test_a_hanging_send_is_cut_off_by_its_deadline(h, monkeypatch):
    import bot.handlers.sweep as sweeper

    monkeypatch.setattr(sweeper, "SEND_DEADLINE_S", 0.05)

    async def hang(conversation, message):
        await asyncio.sleep(60)

    h.notifier.to_conversation = hang
    assert (await sweep_at(h, days=31)).digest == "not posted (the send failed)"


async def test_the_lease_keeps_a_second_instance_from_sweeping(h):
    s = services(h)
    h.clock.advance(days=31)
    assert await s.coordination.claim(LEASE_KEY, "instance-b", 15 * 60)
    report = await sweep_once(s, "instance-a")
    assert report.skipped and report.summary() == (
        "Another instance is sweeping right now (it holds the sweeper lease); nothing was done.")
    assert posted(h) == [] and h.audit.events() == []
    h.clock.advance(minutes=15)  # the holder crashed: its lease runs out
    assert (await sweep_once(s, "instance-a")).overdue == 2
    assert await s.coordination.claim(LEASE_KEY, "instance-b", 1)  # released after the sweep


async def test_two_instances_sweeping_together_post_one_digest(h):
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
    assert second.skipped and (await first).digest == "posted"
    assert len(posted(h)) == 1


async def test_the_digest_goes_to_the_alerts_channel_when_no_helpdesk_channel_is_set(clock, tmp_path):
    alerts = "19:security-alerts@thread.tacv2"
    h = await lifecycle_harness(clock, tmp_path, seed(ALICE), lifecycle=LifecycleSettings())
    services(h).alerts_conversation = alerts  # what the alerts channel setting gives (see bot/settings.py)
    await h.state.write({f"token/{ALICE.object_id}": {"upn": ALICE.upn, "burned_at": T0}})
    h.clock.advance(days=31)
    assert (await sweep_once(services(h), "a")).digest == "posted"
    assert [c for c, _ in posted(h)] == [alerts]
    await h.close()


async def test_without_any_channel_nothing_is_posted(clock, tmp_path, caplog):
    h = await lifecycle_harness(clock, tmp_path, seed(ALICE), lifecycle=LifecycleSettings())
    await h.state.write({f"token/{ALICE.object_id}": {"upn": ALICE.upn, "burned_at": T0}})
    h.clock.advance(days=31)
    assert (await sweep_once(services(h), "a")).summary() == (
        "Checked 1 tokens: disabled 0 seeds, 1 overdue; digest not posted (no channel).")
    assert "sweep digest not posted: no helpdesk conversation is configured (1 overdue tokens)" in caplog.text
    assert posted(h) == []
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
    asyncio.run(install_demo(tmp_path, LocalSecretStore(tmp_path / "seeds.sqlite", tmp_path / "seeds.key")))
    assert main(["sweep", "--local"]) == 0
    assert capsys.readouterr().out == "Checked 5 tokens: disabled 0 seeds, 0 overdue.\n"
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
    assert report.summary() == "Checked 4 tokens: disabled 0 seeds, destroyed 1 revoked seeds, 0 overdue; digest posted."
    assert DAVE.object_id not in h.store.seeds
    destroyed = [r for r in h.audit.entries if r.event == "token.destroyed"]
    assert [(r.actor, r.target, r.details) for r in destroyed] == [
        ("otpbot-sweeper", DAVE.upn, {"reason": "revoked", "purged": "true", "purge_scheduled": ""})]
    assert (await sweep_at(h, days=8)).destroyed == []
    assert h.store.reads == 0


async def test_a_sweep_stopped_after_a_page_is_resumed_from_there_under_the_next_lease(h, monkeypatch):
    import bot.handlers.sweep as sweeper
    from bot.core.errors import DependencyUnavailable

    monkeypatch.setattr(sweeper, "PAGE", 2)  # Alice and Bob, then Carol and Dave
    monkeypatch.setattr(sweeper, "PAGE_RETRY_PAUSE_S", 0)
    s, read, pages = services(h), h.state.read, []

    async def read_failing_on_the_second_page(keys):
        if len(keys) > 1:  # a page of records (a change reads its one record)
            pages.append(len(keys))
            if len(pages) in (2, 3):  # the second page, and its one retry
                raise DependencyUnavailable("The bot's shared state (Azure Storage) did not answer in time.")
        return await read(keys)

    h.state.read = read_failing_on_the_second_page
    report = await sweep_at(h, days=46)
    assert report.summary() == (
        "Checked 2 tokens: disabled 2 seeds, 2 overdue; digest posted. Stopped early: The bot's shared state "
        "(Azure Storage) did not answer in time.")
    assert posted(h)[-1][1].endswith("The sweep stopped early (The bot's shared state (Azure Storage) did not "
                                     "answer in time.); the next one resumes where it stopped.")
    progress = (await h.state.read([sweeper.PROGRESS_KEY]))[sweeper.PROGRESS_KEY]
    assert (progress["cursor"], progress["checked"], progress["started_at"]) == (
        BOB.object_id, 2, "2027-01-13T09:00:10+00:00")
    h.state.read = read
    h.clock.advance(hours=1)  # within a day: resumed, with the interrupted sweep's clock and counts
    report = await sweep_once(s, "instance-b")
    assert report.summary() == "Checked 4 tokens (resumed after 2): disabled 2 seeds, 2 overdue; digest posted."
    assert pages == [2, 2, 2]  # the first page, the second and its retry; the resumed sweep (uncounted) went on
    # from the cursor: Alice and Bob were not disabled twice
    assert sweeper.PROGRESS_KEY not in await h.state.read([sweeper.PROGRESS_KEY])  # finished
    assert [(r.event, r.target) for r in h.audit.entries if r.event == "sweeper.disabled"] == [
        ("sweeper.disabled", ALICE.upn), ("sweeper.disabled", BOB.upn)]
    pages[:] = [0, 0]  # the next read is the third: it fails once, and the retry carries the page
    h.state.read = read_failing_on_the_second_page
    assert (await sweep_at(h, days=47)).summary() == "Checked 4 tokens: disabled 0 seeds, 2 overdue; digest posted."


async def test_the_index_pending_reads_is_repaired_by_the_sweep(h):
    s = services(h)
    await h.state.write({"open/00000000-0000-4000-8000-00000000dead": {"upn": "gone@contoso.example",
                                                                       "status": "burned", "burned_at": T0}})
    await sweep_at(h, days=1)
    assert await s.state.scan("open/") == {
        f"open/{ALICE.object_id}": {"upn": ALICE.upn, "status": "burned", "burned_at": T0, "enabled": True},
        f"open/{BOB.object_id}": {"upn": BOB.upn, "status": "burned", "burned_at": T0, "enabled": True},
        f"open/{CAROL.object_id}": {"upn": CAROL.upn, "status": "delivered", "burned_at": T0, "enabled": True},
        f"open/{DAVE.object_id}": {"upn": DAVE.upn, "status": "revoked", "burned_at": T0, "enabled": False}}
