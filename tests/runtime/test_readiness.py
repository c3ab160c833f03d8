from bot.app import SERVICES
from bot.runtime.readiness import Readiness
from tests.support.harness import card_of
from tests.support.fakes import unavailable


async def test_readyz_reports_dependencies(harness):
    response = await harness.client.get("/readyz")
    assert (response.status, await response.json()) == (200, {
        "status": "ready", "draining": False, "checks": {"secrets": "ok", "state": "ok", "audit": "ok"}})


async def test_readiness_is_probed_at_most_once_a_minute(harness):
    now = [0.0]
    readiness = Readiness(harness.client.app[SERVICES], monotonic=lambda: now[0])
    assert (await readiness.report())["status"] == "ready"
    harness.secrets.fail = unavailable()
    now[0] = 59.9
    assert (await readiness.report())["status"] == "ready"  # cached
    assert harness.secrets.reads == 1
    now[0] = 60.0
    report = await readiness.report()
    assert report["status"] == "not ready"
    assert report["checks"]["secrets"] == "failing (DependencyUnavailable)"
    assert harness.secrets.reads == 2


async def test_shutdown_lets_turns_finish_but_starts_no_release(harness):
    sent = await harness.say("code alice@contoso.example")
    vid = card_of(sent[0])["actions"][0]["data"]["vid"]
    await harness.click("verify", {"vid": vid, "ticket": "INC-1", "calledBack": "true"})
    await harness.client.app.shutdown()  # what aiohttp runs once it stops accepting connections
    body, _ = await harness.click("reveal", {"vid": vid})
    assert body["value"]["body"][0]["text"] == ("The bot is restarting, so nothing was released. Press Show code "
                                                "again in a few seconds.")
    assert harness.secrets.reads == 0 and "code.released" not in harness.audit.events()
    response = await harness.client.get("/readyz")
    assert response.status == 503 and (await response.json())["draining"] is True
