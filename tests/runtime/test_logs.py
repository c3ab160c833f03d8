"""JSON log lines, and no seed, code, token or evidence in any of them."""

import io
import json
import logging

from bot.runtime.logs import JsonFormatter, configure_logging
from tests.support.harness import RFC_SEED, card_of


async def test_a_whole_release_logs_nothing_secret(harness):
    stream = io.StringIO()
    configure_logging("DEBUG")
    handler = logging.getLogger().handlers[0]
    handler.stream = stream
    logging.getLogger("otpbot.test").info("start")
    try:
        sent = await harness.say("code alice@contoso.example")
        vid = card_of(sent[0])["actions"][0]["data"]["vid"]
        await harness.click("verify", {"vid": vid, "ticket": "INC-5551", "calledBack": "true"})
        body, _ = await harness.click("reveal", {"vid": vid})
        await harness.client.post("/api/messages", data=b"{", headers={"Content-Type": "application/json",
                                                                       "Authorization": "Bearer eyJhbGciOi.secret"})
        logging.getLogger("otpbot.test").warning("token Bearer eyJabc.def.ghi and \x1b[31mcolour\u202e")
    finally:
        logging.getLogger().handlers[:] = []
    # the release really happened: the search below is not vacuous
    assert [b["text"] for b in body["value"]["body"] if b.get("type") == "TextBlock"][:2] == [
        "Code for Alice User (alice@contoso.example)", "361 520"]
    assert harness.audit.events() == ["verification.started", "verification.passed", "code.released"]
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) > 2  # the turns logged lines between "start" and the last warning
    assert lines[0]["message"] == "start" and set(lines[0]) == {"time", "level", "logger", "message"}
    assert lines[-1]["message"] == "token Bearer [redacted] and  [31mcolour "
    text = stream.getvalue()
    for secret in (RFC_SEED, "361520", "361 520", "INC-5551", "0958", "eyJhbGciOi"):
        assert secret not in text


def test_exceptions_are_logged_by_type_only():
    record = logging.LogRecord("otpbot", logging.ERROR, __file__, 1, "failed", None, None)
    try:
        raise ValueError("seed JBSWY3DPEHPK3PXP")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert line["exception"] == "ValueError" and "JBSWY3DP" not in json.dumps(line)
