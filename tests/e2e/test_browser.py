"""The Agents Playground's own web UI in a real browser (Debian's Chromium through Selenium and chromedriver).

The Playground renders cards with Microsoft's Adaptive Cards renderer, which validates every `isRequired` input
before it sends an action: a class of fault only a browser shows (Cancel blocked by an empty required ticket).
Steps, each with a screenshot under tests/e2e/screenshots/ (git-ignored):

    help                               -> the command card
    code alice, Cancel (ticket empty)  -> "Cancelled ...": the required field did not block it
    code alice, ticket, Text the code  -> the SMS lands in <data>/sms-outbox.jsonl; its code typed back
    Check code, Show code              -> the released code, checked here against RFC 6238
    provision alice, Abort             -> "aborted"

`OTPBOT_DOC_IMAGES=1` (make doc-images) also writes the main cards to docs/img/, the README's pictures.
Runs in the loopback-only namespace of `make test`; Chromium gets the flags that keep it off the network.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.e2e import test_e2e_code as e2e
from tests.e2e.playground_driver import start_playground

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "tests" / "e2e" / "screenshots"
DOC_IMAGES = REPO / "docs" / "img"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1280,900", "--hide-scrollbars", "--force-device-scale-factor=1")
WAIT = 30.0


class DefaultPolicyBot(e2e.LocalBot):
    """The bot exactly as `make run` starts it: the default proofs (phone_code for alice)."""

    async def start(self) -> list[str]:
        original = e2e._bot_env
        e2e._bot_env = lambda data: {k: v for k, v in original(data).items() if not k.startswith("OTPBOT_PROOFS")}
        try:
            return await super().start()
        finally:
            e2e._bot_env = original


class Browser:
    def __init__(self, url: str, profile: Path) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        self.driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        self.driver.get(url)
        self.step = 0

    def wait(self, condition, what: str, timeout: float = WAIT):
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(lambda d: condition())
        except Exception:
            self.shot("failed")
            raise AssertionError(f"not seen in {timeout}s: {what}; page text:\n{self.text()[-3000:]}") from None

    def text(self) -> str:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.TAG_NAME, "body").text

    def wait_text(self, text: str) -> None:
        self.wait(lambda: text in self.text(), repr(text))

    def count(self, text: str) -> int:
        return self.text().count(text)

    def say(self, text: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        box = self.wait(lambda: self.driver.find_element(By.CSS_SELECTOR, "[data-lexical-editor='true']"), "input")
        box.click()
        box.send_keys(text)
        box.send_keys(Keys.ENTER)

    def buttons(self, label: str) -> list:
        from selenium.webdriver.common.by import By

        return [b for b in self.driver.find_elements(By.CSS_SELECTOR, f"button[aria-label='{label}']") if b.is_displayed()]

    def click(self, label: str) -> None:
        button = self.wait(lambda: (self.buttons(label) or [None])[-1], f"button {label!r}")
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
        button.click()

    def type_into_last(self, kind: str, value: str) -> None:
        from selenium.webdriver.common.by import By

        field = self.wait(lambda: ([f for f in self.driver.find_elements(By.CSS_SELECTOR, f"input[type='{kind}']")
                                    if f.is_displayed()] or [None])[-1], f"{kind} input")
        field.clear()
        field.send_keys(value)

    def shot(self, name: str, doc: str | None = None) -> Path:
        self.step += 1
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{self.step:02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        if doc and os.environ.get("OTPBOT_DOC_IMAGES") == "1":
            DOC_IMAGES.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOC_IMAGES / f"{doc}.png")
        return path

    def quit(self) -> None:
        self.driver.quit()


@pytest.fixture
async def playground_in_browser(tmp_path):
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("Chromium is missing: apt-get install chromium chromium-driver (.ci/run does)", pytrace=False)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    (tmp_path / "data").mkdir()
    (tmp_path / "logs").mkdir()
    bot = DefaultPolicyBot(tmp_path / "data", tmp_path / "logs")
    await bot.start()
    pg = await start_playground(port=0, bot_endpoint=bot.endpoint, log_file=tmp_path / "logs" / "playground.log")
    browser = None
    try:
        browser = await asyncio.to_thread(Browser, pg.base_url, tmp_path / "chromium-profile")
        yield browser, bot
    finally:
        if browser:
            await asyncio.to_thread(browser.quit)
        await pg.stop()
        await bot.stop()


def outbox(data_dir: Path) -> list[dict]:
    path = data_dir / "sms-outbox.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def expected_codes(now: datetime) -> set[str]:
    step = int(now.timestamp()) // e2e.PERIOD
    return {e2e.grouped(e2e.totp(e2e.b32(e2e.ALICE_SEED), s)) for s in (step - 1, step, step + 1)}


def walk(browser: Browser, data_dir: Path) -> None:
    browser.wait_text("Type `help` to see what I can do.")
    browser.say("help")
    browser.wait_text("Codes are shown only to the agent who asked")
    browser.shot("help", doc="help")

    # Cancel on a card whose ticket input is required and empty: the renderer must let it through.
    browser.say("code alice@contoso.example")
    browser.wait(lambda: browser.buttons("Text the code"), "the verification card")
    browser.shot("verification-card", doc="verification")
    browser.click("Cancel")
    browser.wait_text("Cancelled the verification for Alice User. Nothing was released.")
    browser.shot("cancelled")

    # The whole release: ticket, the code texted to the mobile of record, read back, Show code.
    browser.say("code alice@contoso.example")
    browser.wait(lambda: browser.buttons("Text the code"), "a new verification card")
    browser.type_into_last("text", "INC-1001")
    browser.click("Text the code")
    sms = browser.wait(lambda: outbox(data_dir), "an SMS in the local outbox")
    assert len(sms) == 1 and sms[0]["to"] == "+447700900958"  # alice's mobile of record (otpbot demo), sms
    texted = re.search(r"code is (\d{3} \d{3})\.", sms[0]["text"]).group(1).replace(" ", "")
    browser.wait(lambda: browser.buttons("Check code"), "the card asking for the texted code")
    browser.shot("code-texted", doc="code-texted")
    browser.type_into_last("text", texted)
    browser.click("Check code")
    browser.wait(lambda: browser.buttons("Show code"), "Show code")
    browser.click("Show code")
    browser.wait(lambda: expected_codes(datetime.now(UTC)) & set(re.findall(r"\b\d{3} \d{3}\b", browser.text())),
                 "alice's current code (RFC 6238, seed from otpbot demo)")
    browser.shot("code-released", doc="code-released")

    # Provisioning: the runbook's Abort, on a card with inputs of its own.
    browser.say("provision alice@contoso.example")
    browser.wait(lambda: browser.buttons("Abort"), "the runbook card")
    browser.shot("runbook", doc="runbook")
    browser.click("Abort")
    browser.wait_text("Aborted provisioning for Alice User at step 1 of 7 (sign in). Nothing was saved.")
    browser.shot("runbook-aborted")


async def test_cards_click_through_in_a_real_browser(playground_in_browser):
    browser, bot = playground_in_browser
    started = time.monotonic()
    await asyncio.to_thread(walk, browser, bot.data_dir)
    assert time.monotonic() - started < 120
    assert sorted(p.name for p in SHOTS.glob("*.png")) == [
        "01-help.png", "02-verification-card.png", "03-cancelled.png", "04-code-texted.png", "05-code-released.png",
        "06-runbook.png", "07-runbook-aborted.png"]
    errors = [line for line in bot.stderr().splitlines() if '"level": "ERROR"' in line]
    assert errors == []
