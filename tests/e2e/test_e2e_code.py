"""End to end: the real bot (`otpbot serve --local`, its own embedded stores) driven by the Agents Playground.

One whole `code` conversation in the "Codes" channel, the way an agent does it in Teams:

    Ada:  @OTP Bot code alice@contoso.example        -> verification card in the new thread
    Ada:  Verify (ticket, "I called back")            -> invoke answer: "Callback recorded", Show code
    Ada:  Show code                                   -> invoke answer: the code (checked against RFC 6238 here)
          the thread gets a notice without the code;  no bot->connector call carries the code
    Ada:  Show code again                             -> "already used", no code
    Ben:  Verify on Ada's card                        -> "belongs to another agent"
    Ben:  the same, `requester` forged to himself     -> "no open verification" (the state key protects, not data)
    then, with both processes stopped and reaped: the bot's log (no errors, no code), the audit trail in
    <data>/audit.sqlite, and its hash chain (SqliteAuditLog.verify() and `otpbot audit --local verify`).

Playground quirk (0.2.28): the card an invoke answers with *replaces the stored card for everyone* in the
conversation, and the driver mirrors that into the BotMessage it was given. Real Teams shows an Action.Execute
response only to the user who clicked (that is what keeps the code private). So this test reads invoke answers
only from the HTTP answer of POST /_conversation/v1/invoke, and clicks on copies of the cards as they were
first received, never on what the Playground (or the driver) stored afterwards.

Runs only in a loopback-only network namespace (see conftest.py):

    OTPBOT_E2E_REQUIRE_NETNS=1 unshare -n sh -c 'ip link set lo up && exec .venv/bin/python -m pytest -m e2e tests/e2e'
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import sqlite3
import struct
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

try:
    from .playground_driver import ADAPTIVE_CARD, BotMessage, PlaygroundClient, start_playground
except ImportError:  # tests/e2e is not a package
    from playground_driver import ADAPTIVE_CARD, BotMessage, PlaygroundClient, start_playground

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]

REPO_ROOT = Path(__file__).resolve().parents[2]
CODES_CHANNEL = "19:helpdesk-codes@thread.tacv2"
ADA_OID, BEN_OID = "00000000-0000-4000-8000-0000000000a1", "00000000-0000-4000-8000-0000000000a2"
ALICE_UPN = "alice@contoso.example"
ALICE_SEED = "JBSWY3DPEHPK3PXP"  # bot/cli/demo.py's public demo seed for Alice: SHA1, 6 digits, 30 s
PERIOD, TOLERANCE = 30, timedelta(seconds=60)  # Entra's drift tolerance for 30 s tokens (the bot's default)
START_TIMEOUT = 90.0  # python + botbuilder imports, node start: slow on a busy 2-core runner
TURN_TIMEOUT = 30.0
USED = "This verification was already used. Start again with `code <upn>`."
NOT_YOURS = "This verification belongs to another agent; only they can continue it."
NO_OPEN = "There is no open verification for this card. Start with `code <upn>`."
NOTICE = ("Ada Agent released a sign-in code for Alice User (alice@contoso.example), window now, after: code texted "
          "to the mobile of record. The code was shown only to them.")


# ----------------------------------------------------------------------------- an independent RFC 6238 oracle
def totp(secret: bytes, step: int, digits: int = 6) -> str:
    """RFC 4226 HOTP of ``step`` with HMAC-SHA1; written here so that the bot's code is not its own judge."""
    mac = hmac.new(secret, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10 ** digits:0{digits}d}"


def b32(secret: str) -> bytes:
    return base64.b32decode(secret + "=" * (-len(secret) % 8))


def grouped(code: str) -> str:
    return f"{code[:3]} {code[3:]}"


# ----------------------------------------------------------------------------- the bot as a subprocess
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _otpbot() -> Path:
    for candidate in (REPO_ROOT / ".venv" / "bin" / "otpbot", Path(sys.executable).parent / "otpbot"):
        if candidate.is_file():
            return candidate
    pytest.fail(f"no otpbot entry point in {REPO_ROOT / '.venv/bin'}: run `make test` (it installs the project)")


def _bot_env(data_dir: Path) -> dict[str, str]:
    # Only what this test sets: no OTPBOT_*/Bot Framework settings or proxies from the calling shell.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OTPBOT_", "Microsoft")) and k.lower() not in {"http_proxy", "https_proxy",
                                                                               "all_proxy", "no_proxy"}}
    env.update({"OTPBOT_DATA_DIR": str(data_dir), "OTPBOT_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"})
    return env


class LocalBot:
    """`otpbot demo` then `otpbot serve --local --port <port>`, in its own session (so it can be reaped whole)."""

    def __init__(self, data_dir: Path, logs: Path) -> None:
        self.data_dir, self.logs = data_dir, logs
        self.port = _free_port()
        self.process: asyncio.subprocess.Process | None = None
        self.stderr_path = logs / "bot.stderr"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/messages"

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    async def start(self) -> list[str]:
        env = _bot_env(self.data_dir)
        demo = await asyncio.create_subprocess_exec(
            str(_otpbot()), "demo", cwd=str(self.logs), env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(demo.communicate(), START_TIMEOUT)
        demo_lines = out.decode(errors="replace").splitlines()
        assert demo.returncode == 0, demo_lines
        with open(self.stderr_path, "wb") as err, open(self.logs / "bot.stdout", "wb") as std:
            self.process = await asyncio.create_subprocess_exec(
                str(_otpbot()), "serve", "--local", "--port", str(self.port), cwd=str(self.logs), env=env,
                stdin=asyncio.subprocess.DEVNULL, stdout=std, stderr=err, start_new_session=True)
        await self._wait_healthy()
        return demo_lines

    async def _wait_healthy(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            while True:
                if self.process.returncode is not None:
                    pytest.fail(f"the bot exited ({self.process.returncode}) before it was healthy:\n{self.stderr()}")
                with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                    async with session.get(f"http://127.0.0.1:{self.port}/healthz") as r:
                        if r.status == 200 and await r.json() == {"status": "ok"}:
                            return
                if loop.time() > deadline:
                    pytest.fail(f"the bot did not answer /healthz in {START_TIMEOUT}s:\n{self.stderr()}")
                await asyncio.sleep(0.1)

    async def stop(self, timeout: float = 15.0) -> int | None:
        if self.process is None:
            return None
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)  # aiohttp's run_app shuts down cleanly on SIGTERM
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                await self.process.wait()
        return self.process.returncode


def _live_group_members(pgid: int) -> list[str]:
    """Processes (not zombies) still in process group ``pgid``, as "pid cmdline"."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[2]) == pgid:
                cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{stat.parent.name} {cmdline[:120]}")
    return found


async def _assert_group_gone(pgid: int, what: str) -> None:
    deadline = time.monotonic() + 10
    while (left := _live_group_members(pgid)) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert not left, f"{what} left processes behind: {left}"


# ----------------------------------------------------------------------------- card helpers
def texts_of(card: dict) -> list[str]:
    return [b["text"] for b in card.get("body", []) if b.get("type") == "TextBlock"]


def actions_of(card: dict) -> list[tuple[str, str, str, dict]]:
    return [(a["type"], a["title"], a.get("verb"), a.get("data")) for a in card.get("actions", [])]


def clicked_on(message: BotMessage, card: dict) -> BotMessage:
    """A copy of ``message`` showing ``card``: what the clicking user's client shows at that moment.

    A fresh copy per click: the driver stores the invoke answer into the message it is given, as the Playground
    does with its stored card (see the module docstring), and the card a user clicks must not depend on that."""
    return dataclasses.replace(message, attachments=[{"contentType": ADAPTIVE_CARD, "content": card}])


def redacted(anything) -> str:
    """For failure messages: JSON with anything that looks like a 6-digit code masked."""
    text = json.dumps(anything, ensure_ascii=False)
    return re.sub(r"(?<!\d)\d{3}[ -]?\d{3}(?!\d)", "### ###", text)[:3000]


def only_text(result) -> str:
    """The text of an invoke answer that must be a one-TextBlock card (a refusal)."""
    assert (result.status, result.type) == (200, ADAPTIVE_CARD), redacted(result.body)
    body = result.card["body"]
    ok = len(body) == 1 and "actions" not in result.card
    assert ok, f"expected a one-line refusal, got {redacted(result.card)}"
    return body[0]["text"]


class Transcript:
    """What each side saw, with the released code redacted; printed at the end (pytest -s, or on failure)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.secrets: list[str] = []

    def add(self, who: str, what: str) -> None:
        self.lines.append(f"{who}: {what}")

    def card(self, who: str, card: dict) -> None:
        buttons = " ".join(f"[{title}]" for _, title, _, _ in actions_of(card))
        self.add(who, " | ".join(texts_of(card)) + (f"  {buttons}" if buttons else ""))

    def text(self) -> str:
        out = "\n".join(self.lines)
        for secret in self.secrets:
            out = out.replace(secret, "### ###" if " " in secret else "######")
        return out


# ----------------------------------------------------------------------------- the test
async def test_code_conversation_in_a_channel(tmp_path):
    # The oracle itself first: RFC 6238 Appendix B, SHA1, T = 59 s and 1111111109 s, the 20-byte ASCII seed.
    assert totp(b"12345678901234567890", 59 // 30, digits=8) == "94287082"
    assert totp(b"12345678901234567890", 1111111109 // 30, digits=8) == "07081804"
    data_dir, logs = tmp_path / "data", tmp_path / "logs"
    logs.mkdir()
    bot, pg, transcript = LocalBot(data_dir, logs), None, Transcript()
    try:
        try:
            demo_lines = await bot.start()
            assert f"enrolled demo token for {ALICE_UPN}" in demo_lines, demo_lines
            # TZ=UTC: the Playground puts the machine's zone on every activity; the bot shows times in it.
            pg = await start_playground(port=0, bot_endpoint=bot.endpoint, log_file=logs / "playground.log",
                                        timeout=START_TIMEOUT, extra_env={"TZ": "UTC"})
            async with PlaygroundClient(pg.base_url) as chat:
                assert chat.config["internalConfig"]["localTimezone"] == "UTC"
                step = await _conversation(chat, transcript, data_dir)
        finally:
            bot_rc = await bot.stop()
            pg_rc = await pg.stop() if pg else None
        assert bot_rc == 0, bot.stderr()
        assert pg_rc in (0, -signal.SIGTERM, 128 + signal.SIGTERM), pg.log_text()[-3000:]
        await _assert_group_gone(bot.process.pid, "the bot")
        await _assert_group_gone(pg.process.pid, "the Playground")

        # The bot's diagnostic log: clean start and stop, no error, and never the code.
        stderr = bot.stderr()
        assert "LOCAL MODE: authentication is OFF" in stderr and "Traceback" not in stderr, stderr
        assert not [line for line in stderr.splitlines() if '"level": "ERROR"' in line], stderr
        leaked = any(secret in stderr for secret in transcript.secrets)
        assert not leaked, "the bot's log contains the released code"

        await _check_audit(data_dir, step, transcript)
    finally:
        print("\n--- transcript (code redacted) ---\n" + transcript.text())
        print("--- the bot's log (it never holds codes) ---\n" + bot.stderr()[-4000:])


async def _conversation(chat: PlaygroundClient, transcript: Transcript, data_dir: Path) -> int:
    """Plays the conversation; returns the TOTP step of the code that was shown."""
    ada, ben = chat.user("Ada Agent"), chat.user("Ben Agent")
    assert (ada["id"], ada["aadObjectId"], ben["id"], ben["aadObjectId"]) == ("29:ada", ADA_OID, "29:ben", BEN_OID)

    # 1. Ada posts in "Codes", mentioning the bot: a new thread, and the verification card in it.
    started = datetime.now(UTC)
    sent = await chat.send_message(f"code {ALICE_UPN}", conversation="channel", channel="Codes")
    transcript.add("Ada in #Codes", f"@OTP Bot code {ALICE_UPN}")
    thread = sent.conversation_id
    assert thread == f"{CODES_CHANNEL};messageid={sent.message_id}"
    message = await chat.next_bot_message(TURN_TIMEOUT, conversation_id=thread)
    asked = await chat.next_request_to_bot(TURN_TIMEOUT)
    assert (asked.activity["type"], asked.activity["text"], asked.status) == (
        "message", f"<at>OTP Bot</at> code {ALICE_UPN}", 200)
    assert (message.action, message.text) == ("createMessage", None)
    verify_card = message.card
    assert verify_card is not None, message
    transcript.card("OTP Bot in the thread", verify_card)
    vid = verify_card["actions"][0]["data"]["vid"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,}", vid), "vid is not a random token"
    expires = re.fullmatch(r"Window: now\. This verification expires at (\d\d:\d\d)\.", texts_of(verify_card)[1])
    assert expires, texts_of(verify_card)
    assert expires.group(1) in {(t + timedelta(minutes=10)).strftime("%H:%M")
                                for t in (started, datetime.now(UTC))}
    assert texts_of(verify_card) == [
        f"Verify the caller for Alice User ({ALICE_UPN})",
        f"Window: now. This verification expires at {expires.group(1)}.",
        "Proofs needed: code texted to the mobile of record.",
        "1. Press **Text the code**: I text a one-time code to Alice User's mobile of record (**•••••••• 0958**). "
        "Never use a number the caller gives you.",
    ]
    assert [(i["type"], i["id"]) for i in verify_card["body"] if i["type"].startswith("Input.")] == [
        ("Input.Text", "ticket")]
    assert actions_of(verify_card) == [
        ("Action.Execute", "Text the code", "send_code", {"vid": vid, "requester": ADA_OID}),
        ("Action.Execute", "Cancel", "cancel", {"vid": vid, "requester": ADA_OID}),
    ]

    # 2. Ada enters the ticket and presses Text the code: the bot texts Alice's mobile of record (in local mode:
    # the SMS outbox), Alice reads the code out, Ada types it and presses Check code.
    result = await chat.invoke_action(clicked_on(message, verify_card), "send_code", {"ticket": "INC-42"},
                                      user="Ada Agent")
    assert (result.status, result.type) == (200, ADAPTIVE_CARD), result.body
    transcript.add("Ada clicks", "Text the code (ticket INC-42)")
    transcript.card("OTP Bot to Ada (invoke answer)", result.card)
    [text] = [json.loads(line) for line in (data_dir / "sms-outbox.jsonl").read_text().splitlines()]
    assert text["to"] == "+447700900958"
    read_out = re.search(r"code is (\d{3} \d{3})\.", text["text"]).group(1)
    transcript.secrets += [read_out, read_out.replace(" ", "")]
    result = await chat.invoke_action(clicked_on(message, result.card), "verify", {"phoneCode": read_out},
                                      user="Ada Agent")
    assert (result.status, result.type) == (200, ADAPTIVE_CARD), result.body
    reveal_card = result.card
    transcript.add("Ada clicks", "Check code (the code the caller read out)")
    transcript.card("OTP Bot to Ada (invoke answer)", reveal_card)
    assert texts_of(reveal_card) == [
        f"Texted code read back recorded for Alice User ({ALICE_UPN}).",
        "Window: now. Press Show code when you are ready to read it out; it is shown only to you and can be "
        "shown once.",
    ]
    assert actions_of(reveal_card) == [("Action.Execute", "Show code", "reveal", {"vid": vid, "requester": ADA_OID})]
    assert reveal_card["actions"][0]["associatedInputs"] == "none"

    # 3. Show code: the invoke answer carries the code, which must be RFC 6238 for Alice's demo seed.
    before = int(time.time()) // PERIOD
    result = await chat.invoke_action(clicked_on(message, reveal_card), "reveal", user="Ada Agent")
    after = int(time.time()) // PERIOD
    assert (result.status, result.type) == (200, ADAPTIVE_CARD), result.body
    code_card = result.card
    shown = texts_of(code_card)
    code = shown[1] if len(shown) == 4 else ""
    if re.fullmatch(r"\d{3} \d{3}", code):
        transcript.secrets += [code, code.replace(" ", "")]
    transcript.add("Ada clicks", "Show code")
    transcript.card("OTP Bot to Ada (invoke answer)", code_card)
    ok = len(shown) == 4 and "actions" not in code_card and bool(re.fullmatch(r"\d{3} \d{3}", code))
    assert ok, f"expected the code card, got {redacted(code_card)}"
    assert shown[0] == f"Code for Alice User ({ALICE_UPN})"
    assert shown[3] == "Read it to the caller now. It is not stored in this conversation."
    validity = re.fullmatch(r"Valid (\d\d:\d\d:\d\d)–(\d\d:\d\d:\d\d) \(UTC\)\. "
                            r"Entra accepts it until (\d\d:\d\d:\d\d) \(UTC\)\.", shown[2])
    assert validity, shown[2]
    # The bot's clock read falls between `before` and `after`; accept the step before too (a slow runner).
    candidates = {step: grouped(totp(b32(ALICE_SEED), step)) for step in range(before - 1, after + 1)}
    matched = [step for step, expected in candidates.items() if hmac.compare_digest(expected, code)]
    assert len(matched) == 1, "the code shown is not Alice's TOTP code for the current (or previous) step"
    step = matched[0]
    start = datetime.fromtimestamp(step * PERIOD, UTC)
    end = start + timedelta(seconds=PERIOD)
    assert validity.groups() == (f"{start:%H:%M:%S}", f"{end:%H:%M:%S}", f"{end + TOLERANCE:%H:%M:%S}")
    transcript.add("test", f"code matches RFC 6238 step {step} ({'current' if step == after else 'previous'})")

    # 4. The thread gets a notice, without the code.
    notice = await chat.next_bot_message(TURN_TIMEOUT, conversation_id=thread)
    assert (notice.text, notice.attachments) == (NOTICE, [])
    transcript.add("OTP Bot in the thread", notice.text)

    # 5. Show code again (a replayed click): refused, no code.
    result = await chat.invoke_action(clicked_on(message, reveal_card), "reveal", user="Ada Agent")
    assert only_text(result) == USED
    transcript.add("Ada clicks", "Show code again (replay)")
    transcript.card("OTP Bot to Ada (invoke answer)", result.card)

    # 6. Ben (also an agent) presses Text the code on Ada's card: refused. And with `requester` forged to himself, the
    # state key (tenant, thread, invoker's object id) finds nothing: the requester field is only a courtesy.
    result = await chat.invoke_action(clicked_on(message, verify_card), "send_code",
                                      {"ticket": "INC-43"}, user="Ben Agent")
    assert only_text(result) == NOT_YOURS
    transcript.add("Ben clicks", "Text the code on Ada's card (ticket INC-43)")
    transcript.card("OTP Bot to Ben (invoke answer)", result.card)
    result = await chat.invoke_action(clicked_on(message, verify_card), "send_code",
                                      {"requester": BEN_OID, "ticket": "INC-43"}, user="Ben Agent")
    assert only_text(result) == NO_OPEN
    transcript.add("Ben clicks", "Text the code on Ada's card, with requester forged to his own object id")
    transcript.card("OTP Bot to Ben (invoke answer)", result.card)

    # Everything the Playground sent the bot, in order, with the bot's HTTP answers (the log stream has them
    # once the bot answered; every bot->connector call of a turn happens before that answer).
    invokes = [await chat.next_request_to_bot(TURN_TIMEOUT) for _ in range(6)]
    assert [(x.activity["type"], x.activity.get("name"), x.activity["from"]["aadObjectId"],
             x.activity["value"]["action"]["verb"], x.status) for x in invokes] == [
        ("invoke", "adaptiveCard/action", ADA_OID, "send_code", 200),
        ("invoke", "adaptiveCard/action", ADA_OID, "verify", 200),
        ("invoke", "adaptiveCard/action", ADA_OID, "reveal", 200),
        ("invoke", "adaptiveCard/action", ADA_OID, "reveal", 200),
        ("invoke", "adaptiveCard/action", BEN_OID, "send_code", 200),
        ("invoke", "adaptiveCard/action", BEN_OID, "send_code", 200),
    ]
    assert all(x.activity["conversation"]["id"] == thread for x in invokes)
    assert chat.requests_to_bot.drain() == []

    # Every call the bot made to the (mock) Bot Connector: exactly the card and the notice, in this thread, and
    # none carries the code (grouped or not), in any conversation.
    posted = chat.bot_activities.drain()
    assert [(x.name, x.status, x.activity["conversation"]["id"]) for x in posted] == [
        ("message", 201, thread), ("message", 201, thread)], redacted([x.activity for x in posted])
    assert [x.activity.get("text") for x in posted] == [None, NOTICE]
    assert posted[0].activity["attachments"] == [{"contentType": ADAPTIVE_CARD, "content": verify_card}]
    for x in posted:
        visible = json.dumps([x.activity.get("text"), x.activity.get("attachments"), x.activity.get("value")])
        whole = json.dumps(x.activity)
        carries = code.replace(" ", "") in visible or code in whole or code.replace(" ", "-") in whole
        assert not carries, f"a message the bot posted carries the code: {redacted(x.activity)}"
    # What the UI was pushed: the card and the notice only (invoke answers are never pushed).
    assert chat.messages.drain() == []
    assert chat.stream_errors == []
    return step


async def _check_audit(data_dir: Path, step: int, transcript: Transcript) -> None:
    """With the bot stopped: the audit trail in the SQLite file it wrote, and its hash chain."""
    path = data_dir / "audit.sqlite"
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT seq, at, event, actor, target, details, prev_hash, hash FROM audit ORDER BY seq"
                          ).fetchall()
    finally:
        db.close()
    events = [(seq, event, actor, target) for seq, _, event, actor, target, *_ in rows]
    assert events == [
        (1, "verification.started", ADA_OID, ALICE_UPN),
        (2, "phone_code.sent", ADA_OID, ALICE_UPN),
        (3, "phone_code.verified", ADA_OID, ALICE_UPN),
        (4, "verification.passed", ADA_OID, ALICE_UPN),
        (5, "code.released", ADA_OID, ALICE_UPN),
    ], events
    details = [json.loads(r[5]) for r in rows]
    vid = details[0]["vid"]
    assert details[0] == {"vid": vid, "window": "now", "proofs": "phone_code"}
    assert details[1] == {"vid": vid, "to": "•••••••• 0958", "message_id": details[1]["message_id"], "send": "1"}
    assert details[2] == {"vid": vid}
    assert details[3] == {"vid": vid, "ticket": "INC-42", "proofs": "phone_code"}
    released = details[4]
    step_start = datetime.fromisoformat(released["step_start"])
    assert released == {
        "vid": vid, "ticket": "INC-42", "proofs": "phone_code", "approvers": "", "window": "now", "delivery": "card",
        "step_start": step_start.isoformat(),
        "step_end": (step_start + timedelta(seconds=PERIOD)).isoformat(),
        "accepted_until": (step_start + timedelta(seconds=PERIOD) + TOLERANCE).isoformat(),
        "secret_version": released["secret_version"],
    }
    assert len(released["secret_version"]) == 32  # the local store's id of the seed value that was read
    assert step_start.tzinfo is not None and step_start.timestamp() % PERIOD == 0
    assert int(step_start.timestamp()) == step * PERIOD  # the step of the code shown (computed after this record)
    as_text = json.dumps(rows)
    assert not any(secret in as_text for secret in transcript.secrets), "the audit trail contains the code"

    # Hash chain: each record names the previous record's hash; the bot's own verifier agrees, and it does
    # notice a change (checked on a copy, so the test cannot pass with a verifier that always says "fine").
    assert [r[6] for r in rows] == ["0" * 64] + [r[7] for r in rows[:-1]]
    from bot.adapters.sqlite import SqliteAuditLog

    class _NoClock:
        def now(self):
            raise AssertionError("verifying must not append")

    audit = SqliteAuditLog(path, _NoClock())
    try:
        assert await audit.verify() is None
    finally:
        audit.close()
    tampered_dir = data_dir.parent / "tampered"
    tampered_dir.mkdir()
    with contextlib.closing(sqlite3.connect(path)) as src, \
            contextlib.closing(sqlite3.connect(tampered_dir / "audit.sqlite")) as dst:
        src.backup(dst)
        dst.execute("UPDATE audit SET details = ? WHERE seq = 2",
                    (json.dumps({**details[1], "ticket": "INC-99"}, sort_keys=True),))
        dst.commit()
    tampered = SqliteAuditLog(tampered_dir / "audit.sqlite", _NoClock())
    try:
        assert await tampered.verify() == 2
    finally:
        tampered.close()

    # The operators' check, `otpbot audit --local verify`, on the bot's data and on the tampered copy.
    # the bot published a checkpoint of its trail when it stopped: it covers every record
    rc, out = await _otpbot_audit_verify(data_dir)
    assert rc == 0 and re.fullmatch(r"audit chain intact: 5 records\naudit checkpoint: the checkpoint of "
                                    r"\d{4}-\d\d-\d\d \d\d:\d\d UTC covers records 1–5 of 5", out), out
    assert await _otpbot_audit_verify(tampered_dir) == (
        1, "audit chain broken at record 2: it or its predecessor was changed or removed")
    transcript.add("test", "audit: verification.started, phone_code.sent, phone_code.verified, verification.passed, "
                           "code.released; hash chain intact "
                           "(SqliteAuditLog.verify() and `otpbot audit --local verify`; both catch a changed record)")


async def _otpbot_audit_verify(data_dir: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        str(_otpbot()), "audit", "--local", "verify", cwd=str(data_dir), env=_bot_env(data_dir),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), START_TIMEOUT)
    return proc.returncode, out.decode(errors="replace").strip()
