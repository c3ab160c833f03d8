"""`provision <upn>` from start to finish, as a transcript: exact cards, notices and audit trail.

`transcript()` returns the conversation as plain text for a closing note; print it with
    .venv/bin/python -m tests.handlers.test_provision
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.support.harness import card_of, texts
from tests.support.fakes import FakeClock
from tests.support.lifecycle_fakes import DAVE, lifecycle_harness
from tests.support.teams import BEN

START = datetime(2026, 11, 28, 9, 0, 10, tzinfo=timezone.utc)
ENROLLMENT = {"seed": "2sk2 tsmk jp7k dbck", "code": "138 424", "serial": "TK-0042", "model": "Token2 C302-i",
              "period": "30", "digits": "6", "algorithm": "SHA1", "replace": "false"}
SHIPMENT = {"carrier": "DHL", "tracking": "JD014600003828"}


def card_lines(card: dict) -> list[str]:
    """An Adaptive Card as an agent reads it: texts, inputs in [brackets], buttons in (parentheses)."""
    lines = []
    for block in card["body"]:
        kind = block["type"]
        if kind == "TextBlock":
            lines.append(block["text"])
        elif kind == "Input.Text":
            hidden = " (hidden as typed)" if block.get("style") == "Password" else ""
            lines.append(f"[{block['label']}{hidden}{': ' + block['value'] if block.get('value') else ''}]")
        elif kind == "Input.ChoiceSet":
            lines.append(f"[{block['label']}: {block['value']}]")
        elif kind == "Input.Toggle":
            lines.append(f"[ ] {block['title']}")
        elif kind == "FactSet":
            lines += [f"{fact['title']}: {fact['value']}" for fact in block["facts"]]
    if card.get("actions"):
        lines.append("  ".join(f"({action['title']})" for action in card["actions"]))
    return lines


class Transcript:
    def __init__(self, h) -> None:
        self.h, self.lines = h, []

    def _show(self, who: str, card_or_text) -> None:
        if isinstance(card_or_text, str):
            self.lines.append(f"{who}: {card_or_text}")
        else:
            self.lines.append(f"{who}:")
            self.lines += [f"    {line}" for line in card_lines(card_or_text)]

    async def say(self, text: str) -> dict:
        self.lines.append(f"Ada Agent: @OTP Bot {text}")
        sent = await self.h.say(text)
        for activity in sent:
            self._show("OTP Bot (in the thread)", activity["text"] if activity.get("text") else card_of(activity))
        return card_of(sent[-1])

    async def press(self, card: dict, title: str, filled: dict | None = None, **kw) -> dict:
        action = next(a for a in card["actions"] if a["title"] == title)
        shown = ", ".join(f"{k}: {'(hidden)' if k == 'seed' else v}" for k, v in (filled or {}).items())
        self.lines.append(f"Ada Agent{' fills in ' + shown + ' and' if shown else ''} presses {title}")
        body, sent = await self.h.click(action["verb"], {**action["data"], **(filled or {})}, **kw)
        self._show("OTP Bot (card, only for Ada Agent)", body["value"])
        for text in texts(sent):
            self._show("OTP Bot (in the thread)", text)
        return body["value"]

    def audit(self) -> list[str]:
        return [(f"{r.event} {r.target} " + " ".join(f"{k}={v}" for k, v in r.details.items() if k != "run")).rstrip()
                for r in self.h.audit.entries]


async def to_step_seven(t: Transcript) -> dict:
    card = await t.say("provision dave@contoso.example")
    for _ in range(2):
        card = await t.press(card, "Done")
    card = await t.press(card, "Check code and save", ENROLLMENT)
    for _ in range(3):
        card = await t.press(card, "Done")
    return card


async def provision_dave(h) -> Transcript:
    t = Transcript(h)
    await t.press(await to_step_seven(t), "Shipped", SHIPMENT)
    return t


async def _recorded(tmp_path: Path) -> Transcript:
    h = await lifecycle_harness(FakeClock(START), tmp_path)
    try:
        return await provision_dave(h)
    finally:
        await h.close()


def transcript() -> str:
    """The whole provisioning conversation and its audit trail, as text."""
    with tempfile.TemporaryDirectory() as tmp:
        t = asyncio.run(_recorded(Path(tmp)))
    return "\n".join(t.lines + ["", "Audit trail:"] + [f"    {line}" for line in t.audit()])


EXPECTED = """\
Ada Agent: @OTP Bot provision dave@contoso.example
OTP Bot (in the thread):
    Provisioning Dave User (dave@contoso.example) — step 1 of 7: sign in
    Ask Dave User to sign in at office.com with their work account, then open aka.ms/mfasetup (Security info). If you guide them remotely, ask them to share their screen.
    (Done)  (Abort)
Ada Agent presses Done
OTP Bot (card, only for Ada Agent):
    Provisioning Dave User (dave@contoso.example) — step 2 of 7: add an authenticator app
    Ask them to add a sign-in method: an authenticator app, using "set up without notifications" (or "I want to use a different authenticator app"), and to press Next until a QR code shows.
    Then ask them to choose "Can't scan image?": the page shows the secret key. Leave the page open.
    (Done)  (Abort)
Ada Agent presses Done
OTP Bot (card, only for Ada Agent):
    Provisioning Dave User (dave@contoso.example) — step 3 of 7: capture the secret
    The bot checks the key against a code before saving it: burn the token with this key now (step 4 confirms it) and type the code it shows.
    Enter the secret key shown under "Can't scan image?" (spaces and lower case are fine), or an otpauth://totp/ link, whose period, digits and algorithm then win. It is hidden, checked against the code below, and never shown again.
    [Secret key or otpauth://totp/ link (hidden as typed)]
    [Current code shown by the token (or the setup page)]
    [Token serial number]
    [Token model]
    [Period: 30]
    [Digits: 6]
    [Algorithm: SHA1]
    [ ] Replace an active seed (leads only)
    (Check code and save)  (Abort)
Ada Agent fills in seed: (hidden), code: 138 424, serial: TK-0042, model: Token2 C302-i, period: 30, digits: 6, algorithm: SHA1, replace: false and presses Check code and save
OTP Bot (card, only for Ada Agent):
    Provisioning Dave User (dave@contoso.example) — step 4 of 7: burn the token
    Saved the token for Dave User (dave@contoso.example): serial TK-0042, 30 s, 6 digits, SHA1; status burned. The code matched.
    Make sure the token is programmed with the secret key you entered, with the same period, digits and algorithm, and that it shows codes.
    Label the token and its parcel with the serial number. Never write the secret key down.
    (Done)  (Abort)
OTP Bot (in the thread): Ada Agent enrolled a token for Dave User (dave@contoso.example).
Ada Agent presses Done
OTP Bot (card, only for Ada Agent):
    Provisioning Dave User (dave@contoso.example) — step 5 of 7: confirm on the setup page
    Ask Dave User to press Next on the setup page and type the code the token shows now (read it out to them), then finish. The new sign-in method should now be listed.
    (Done)  (Abort)
Ada Agent presses Done
OTP Bot (card, only for Ada Agent):
    Provisioning Dave User (dave@contoso.example) — step 6 of 7: sign out and in again
    Ask Dave User to sign out and sign in again with a code from the token (read it out to them).
    When asked, they tick "Don't ask again for 60 days" and "Stay signed in", so they need codes less often until the token arrives.
    (Done)  (Abort)
Ada Agent presses Done
OTP Bot (card, only for Ada Agent):
    Provisioning Dave User (dave@contoso.example) — step 7 of 7: record the shipment
    Post the token to Dave User. Enter the carrier and tracking number, then press Shipped.
    Abort instead if it is not posted yet; record it later with `shipped dave@contoso.example [carrier] [tracking]`.
    [Carrier]
    [Tracking number]
    (Shipped)  (Abort)
Ada Agent fills in carrier: DHL, tracking: JD014600003828 and presses Shipped
OTP Bot (card, only for Ada Agent):
    Provisioning complete for Dave User (dave@contoso.example). Recorded: the token for Dave User (dave@contoso.example) is shipped via DHL, tracking JD014600003828. When it arrives, a lead marks it `delivered dave@contoso.example`.
OTP Bot (in the thread): Ada Agent provisioned and shipped a token for Dave User (dave@contoso.example).

Audit trail:
    provision.started dave@contoso.example
    provision.step dave@contoso.example step=1 name=sign_in
    provision.step dave@contoso.example step=2 name=authenticator
    token.enrolled dave@contoso.example serial=TK-0042 model=Token2 C302-i period=30 digits=6 algorithm=SHA1 replaced=false previous= four_eyes= approved_by=
    provision.step dave@contoso.example step=3 name=capture
    provision.step dave@contoso.example step=4 name=burn
    provision.step dave@contoso.example step=5 name=register
    provision.step dave@contoso.example step=6 name=sign_in_again
    token.shipped dave@contoso.example from=burned carrier=DHL tracking=JD014600003828
    provision.step dave@contoso.example step=7 name=ship
    provision.completed dave@contoso.example"""


def test_the_whole_provisioning_transcript():
    assert transcript() == EXPECTED


@pytest.fixture
async def h(clock, tmp_path):
    harness = await lifecycle_harness(clock, tmp_path)
    yield harness
    await harness.close()


async def test_every_audit_record_of_a_run_carries_its_run_id_and_the_token_ends_shipped(h):
    t = await provision_dave(h)
    runs = {r.details["run"] for r in h.audit.entries if r.event.startswith("provision.")}
    assert len(runs) == 1 and all(r.actor == "00000000-0000-4000-8000-0000000000a1" for r in h.audit.entries)
    assert h.store.seeds[DAVE.object_id].status.value == "shipped" and h.store.reads == 0
    assert t.lines[-1] == ("OTP Bot (in the thread): Ada Agent provisioned and shipped a token for Dave User "
                           "(dave@contoso.example).")


async def test_abort_before_and_after_the_seed_is_saved(h):
    t = Transcript(h)
    card = await t.say("provision dave@contoso.example")
    done = await t.press(card, "Abort")
    assert card_lines(done) == ["Aborted provisioning for Dave User at step 1 of 7 (sign in). Nothing was saved."]
    body, _ = await h.click("provision_step", card["actions"][0]["data"])
    assert card_lines(body["value"]) == ["This runbook was aborted. Start again with `provision <upn>`."]
    card = await t.say("provision dave@contoso.example")
    for _ in range(2):
        card = await t.press(card, "Done")
    card = await t.press(card, "Check code and save", ENROLLMENT)
    done = await t.press(card, "Abort")
    assert card_lines(done) == [
        "Aborted provisioning for Dave User at step 4 of 7 (burn the token). The token saved at step 3 stays enrolled; "
        "record the shipment later with `shipped dave@contoso.example`, or `revoke dave@contoso.example` it if it "
        "will not be used."]
    assert [e for e in h.audit.events() if e.startswith("provision.")][-1] == "provision.aborted"
    assert h.audit.entries[-1].details["step"] == "4"


async def test_a_wrong_code_keeps_step_three_and_stale_or_foreign_clicks_do_nothing(h):
    t = Transcript(h)
    step1 = await t.say("provision dave@contoso.example")
    body, _ = await h.click("provision_step", step1["actions"][0]["data"], user=BEN)
    assert card_lines(body["value"]) == ["This runbook belongs to another agent; only they can continue it."]
    step2 = await t.press(step1, "Done")
    body, _ = await h.click("provision_step", step1["actions"][0]["data"])  # the step 1 card, pressed again
    assert card_lines(body["value"]) == ["That step was already done: this runbook is at step 2 of 7."]
    step3 = await t.press(step2, "Done")
    again = await t.press(step3, "Check code and save", {**ENROLLMENT, "code": "655355"})
    assert card_lines(again)[:2] == [
        "Provisioning Dave User (dave@contoso.example) — step 3 of 7: capture the secret",
        "That code does not match the secret key now (checked one step either side), so nothing was saved. Check the "
        "key, the period, digits and algorithm, and the token's clock, then try a fresh code."]
    assert "[Token serial number: TK-0042]" in card_lines(again)
    step4 = await t.press(again, "Check code and save", ENROLLMENT)
    assert card_lines(step4)[0].endswith("step 4 of 7: burn the token")


async def test_step_seven_checks_the_shipment_fields(h):
    t = Transcript(h)
    card = await to_step_seven(t)
    again = await t.press(card, "Shipped", {"carrier": "DHL", "tracking": "JD 0146"})
    assert card_lines(again)[1] == (
        "Use `shipped alice@contoso.com [carrier] [tracking]`; carrier and tracking are single words of letters, "
        "digits and . _ / # - (up to 40 characters).")
    assert h.store.seeds[DAVE.object_id].status.value == "burned"
    finished = await t.press(again, "Shipped", {})
    assert card_lines(finished)[0].startswith("Provisioning complete for Dave User (dave@contoso.example). Recorded: "
                                              "the token for Dave User (dave@contoso.example) is shipped. ")


if __name__ == "__main__":
    print(transcript())
