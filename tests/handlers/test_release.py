"""After `code.released` is written and the code delivered, nothing that follows (the expiry schedule, the alert,
the e-mail, their own audit records) can turn the release into an error reply or skip the alert."""

from __future__ import annotations

from bot.core.errors import AuditWriteError, DependencyUnavailable, DeliveryFailed
from tests.support.harness import start_harness
from tests.support.teams import ADA

ALERTS = "19:security-alerts@thread.tacv2"
RELEASED_ALERT = ("Code released: Ada Agent (00000000-0000-4000-8000-0000000000a1) for alice@contoso.example, "
                  "window now, proofs: callback to the number of record.")


async def release(h) -> dict:
    sent = await h.say("code alice@contoso.example")
    data = sent[0]["attachments"][0]["content"]["actions"][0]["data"]
    await h.click("verify", {**data, "ticket": "INC-7", "calledBack": "true"})
    body, _ = await h.click("reveal", data)
    return body


def shown(body) -> list[str]:
    return [b["text"] for b in body["value"]["body"] if b.get("type") == "TextBlock"]


async def test_a_failing_expiry_schedule_does_not_undo_a_direct_delivery(clock, tmp_path):
    h = await start_harness(clock, tmp_path, env={"OTPBOT_CODE_DELIVERY": "direct", "OTPBOT_ALERTS_CHANNEL_ID": ALERTS})
    try:
        real_write = h.state.write

        async def write(changes):
            if "expiries" in changes:
                raise DependencyUnavailable("The bot's shared state did not answer in time, so nothing was done.")
            await real_write(changes)

        h.state.write = write
        assert shown(await release(h)) == ["The code for Alice User is in your 1:1 chat with me."]
        assert [to for to, _ in h.notifier.to_users] == [ADA.oid]
        assert [m.text for c, m in h.notifier.to_conversations if c == ALERTS] == [RELEASED_ALERT]
        assert h.audit.events() == ["verification.started", "verification.passed", "code.released"]
    finally:
        await h.close()


async def test_an_alert_that_fails_and_cannot_be_audited_does_not_undo_the_release(clock, tmp_path):
    h = await start_harness(clock, tmp_path, env={"OTPBOT_ALERTS_CHANNEL_ID": ALERTS})
    try:
        h.notifier.fail_conversations.add(ALERTS)
        real_append = h.audit.append

        async def append(event, actor, target, details):
            if event == "alert.failed":
                raise AuditWriteError("audit sink down")
            return await real_append(event, actor, target, details)

        h.audit.append = append
        body = await release(h)
        assert shown(body)[:2] == ["Code for Alice User (alice@contoso.example)", "361 520"]
        assert h.audit.events() == ["verification.started", "verification.passed", "code.released"]
    finally:
        await h.close()
