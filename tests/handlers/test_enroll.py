"""`enroll <upn>` through the real app: the card, every accepted and rejected seed format, the proof code, the
replace rule, and a seed typed into chat. Codes are the RFC 6238 values at the harness clock (09:00:10 UTC)."""

import pytest

from bot.core.models import Algorithm, Seed, TokenStatus, TotpParams
from bot.handlers.enroll import WRONG_CODE
from bot.handlers.tokens import SEED_IN_CHAT
from tests.support.harness import ALICE, card_of, texts
from tests.support.lifecycle_fakes import DAVE, lifecycle_harness
from tests.support.teams import BEN, LEE, MALLORY, PERSONAL

ENTRA = "2SK2TSMKJP7KDBCK"  # Entra's 16-character seed, shown as `2sk2 tsmk jp7k dbck`
RFC = "JBSWY3DPEHPK3PXP"
ENTRA_NOW, ENTRA_PREVIOUS, ENTRA_TWO_AGO = "138 424", "162826", "655355"
SAVED_DAVE = ("Saved the token for Dave User (dave@contoso.example): serial TK-0042, 30 s, 6 digits, SHA1; status "
              "burned. The code matched.")
NOTICE = "Ada Agent enrolled a token for Dave User (dave@contoso.example)."
AGENT_IN_CHANNEL = {"where": "channel", "sender": "agent"}
SEE_KEY = "choose 'Can't scan image?' on the setup page to see the secret key"


@pytest.fixture
async def h(clock, tmp_path):
    harness = await lifecycle_harness(clock, tmp_path, Seed(ALICE.object_id, ALICE.upn, ENTRA,
                                                            status=TokenStatus.SHIPPED))
    yield harness
    await harness.close()


def form(seed, code=ENTRA_NOW, upn=DAVE.upn, **fields) -> dict:
    return {"upn": upn, "seed": seed, "code": code, "serial": "TK-0042", "model": "Token2 C302-i", "period": "30",
            "digits": "6", "algorithm": "SHA1", "replace": "false", **fields}


def shown(body) -> list[str]:
    assert body["statusCode"] == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
    return [b["text"] for b in body["value"]["body"] if b.get("type") == "TextBlock"]


def inputs(card) -> dict:
    return {b["id"]: b for b in card["body"] if b["type"].startswith("Input.")}


async def test_enroll_shows_a_card_with_a_password_style_seed_input(h):
    sent = await h.say("enroll dave@contoso.example")
    card = card_of(sent[0])
    assert card["version"] == "1.5"
    assert [b["text"] for b in card["body"] if b["type"] == "TextBlock"] == [
        "Enroll a token for Dave User (dave@contoso.example)",
        "Enter the secret key shown under \"Can't scan image?\" (spaces and lower case are fine), or an "
        "otpauth://totp/ link, whose period, digits and algorithm then win. It is hidden, checked against the code "
        "below, and never shown again."]
    fields = inputs(card)
    assert list(fields) == ["seed", "code", "serial", "model", "period", "digits", "algorithm", "replace"]
    assert fields["seed"] == {"type": "Input.Text", "id": "seed", "label": "Secret key or otpauth://totp/ link",
                              "style": "Password", "isRequired": True, "maxLength": 512,
                              "errorMessage": "Enter the secret key."}
    assert [c["value"] for c in fields["period"]["choices"]] == ["30", "60"]
    assert [c["value"] for c in fields["digits"]["choices"]] == ["6", "8"]
    assert [c["value"] for c in fields["algorithm"]["choices"]] == ["SHA1", "SHA256", "SHA512"]
    assert fields["replace"]["title"] == "Replace an active seed (leads only)"
    assert card["actions"] == [{"type": "Action.Execute", "title": "Check code and save", "verb": "enroll",
                                "data": {"upn": "dave@contoso.example"}, "style": "positive"}]
    assert h.audit.events() == []


@pytest.mark.parametrize("seed, code, params", [
    ("2sk2 tsmk jp7k dbck", ENTRA_NOW, TotpParams()),  # Entra: lowercase, grouped
    ("2SK2-TSMK-JP7K-DBCK", ENTRA_NOW, TotpParams()),
    ("2sk2tsmkjp7kdbck", ENTRA_PREVIOUS, TotpParams()),  # one step back is still accepted
    (f"otpauth://totp/Contoso:dave%40contoso.example?secret={RFC}&issuer=Contoso&period=60&digits=8"
     "&algorithm=SHA256", "5138 2095", TotpParams(60, 8, Algorithm.SHA256)),
    (f"otpauth://totp/dave?secret={RFC}&digits=8&algorithm=sha512", "30882132", TotpParams(30, 8, Algorithm.SHA512)),
])
async def test_accepted_formats_are_stored_burned_with_their_parameters(h, seed, code, params):
    body, sent = await h.click("enroll", form(seed, code))
    secret = ENTRA if seed.lower().startswith("2sk2") else RFC
    digits = f"{params.period} s, {params.digits} digits, {params.algorithm.value}"
    assert shown(body) == [f"Saved the token for Dave User (dave@contoso.example): serial TK-0042, {digits}; "
                           "status burned. The code matched."]
    assert texts(sent) == [NOTICE]
    assert h.store.seeds[DAVE.object_id] == Seed(DAVE.object_id, DAVE.upn, secret, params, TokenStatus.BURNED,
                                                 "TK-0042")
    assert [(r.event, r.target, r.details) for r in h.audit.entries] == [("token.enrolled", DAVE.upn, {
        "serial": "TK-0042", "model": "Token2 C302-i", "period": str(params.period), "digits": str(params.digits),
        "algorithm": params.algorithm.value, "replaced": "false", "previous": "", "four_eyes": "",
        "approved_by": ""})]
    record = (await h.state.read([f"token/{DAVE.object_id}"]))[f"token/{DAVE.object_id}"]
    assert {k: v for k, v in record.items() if k != "e_tag"} == {
        "upn": DAVE.upn, "status": "burned", "burned_at": "2026-11-28T09:00:10+00:00", "serial": "TK-0042",
        "model": "Token2 C302-i", "enrolled_by": "00000000-0000-4000-8000-0000000000a1"}
    assert h.store.reads == 0  # no seed value was read


async def test_an_otpauth_links_parameters_override_the_cards(h):
    link = f"otpauth://totp/dave?secret={RFC}&period=60&digits=8&algorithm=SHA256"
    body, _ = await h.click("enroll", form(link, "51382095", period="30", digits="6", algorithm="SHA1"))
    assert shown(body)[0].endswith("60 s, 8 digits, SHA256; status burned. The code matched.")


NOTIFICATION_QR = ("That is the Microsoft Authenticator app-notification QR code, not a TOTP seed. On the setup page "
                   "choose 'set up without notifications' / 'Can't scan image?' to see the secret key.")


@pytest.mark.parametrize("seed, message", [
    ("phonefactor://activate_account?code=123456789&url=https://mobileappcommunicator.auth.microsoft.com/activate/"
     "123456789/WEU", NOTIFICATION_QR),
    ("2620123456789", "That looks like the token's serial number (from its barcode or label), not the seed; "
                      f"{SEE_KEY} and enter that instead."),
    ("FIDO:/1234567890123456789012345678901234567890",
     f"That is a passkey (FIDO) QR code, not a TOTP seed; add an authenticator app on the setup page and {SEE_KEY}."),
    (f"otpauth://hotp/Contoso:dave?secret={RFC}&counter=0",
     "That is an HOTP (counter-based) QR code, but these tokens need a TOTP (time-based) seed; set the account up "
     f"as an authenticator app and {SEE_KEY}."),
    ("otpauth-migration://offline?data=CjEKCkhlbGxvId6tvu8SBWFsaWNlGgdDb250b3NvIAEoATACEAEYASAA",
     "That is a Google Authenticator export QR code, which bundles accounts in its own format, not a TOTP seed; "
     f"{SEE_KEY}."),
    ("https://aka.ms/mfasetup", f"That is a web link, not a TOTP seed; open the setup page it leads to and {SEE_KEY}."),
    ("2sk2tsmkjp7kdbc1", "The seed is not valid base32: use only the letters A–Z and the digits 2–7."),
    ("JBSWY3DP", "The seed is too short: at least 16 base32 characters (80 bits) are needed."),
    ("138424", f"That looks like a one-time code, not the seed; {SEE_KEY} and enter that instead."),
    (f"otpauth://totp/dave?secret={RFC}&period=45",
     "The otpauth link asks for a period these tokens do not support; they take 30 or 60 seconds."),
    (f"otpauth://totp/Contoso:alice%40contoso.example?secret={ENTRA}",
     "That otpauth link names a different account than dave@contoso.example, so nothing was saved."),
])
async def test_rejected_formats_keep_the_card_with_one_sentence_and_save_nothing(h, seed, message):
    body, sent = await h.click("enroll", form(seed))
    card = body["value"]
    assert shown(body)[:2] == ["Enroll a token for Dave User (dave@contoso.example)", message]
    assert card["body"][1]["color"] == "Attention"
    fields = inputs(card)
    assert "value" not in fields["seed"] and "value" not in fields["code"]  # never sent back
    assert (fields["serial"]["value"], fields["model"]["value"]) == ("TK-0042", "Token2 C302-i")
    assert sent == [] and DAVE.object_id not in h.store.seeds and h.audit.events() == []


async def test_a_wrong_code_means_the_seed_is_never_stored(h):
    body, _ = await h.click("enroll", form("2sk2 tsmk jp7k dbck", ENTRA_TWO_AGO, period="30", digits="6"))
    assert shown(body)[1] == WRONG_CODE
    body, _ = await h.click("enroll", form("2sk2 tsmk jp7k dbck", ENTRA_NOW, period="60"))  # right code, wrong period
    assert shown(body)[1] == WRONG_CODE
    body, _ = await h.click("enroll", form("2sk2 tsmk jp7k dbck", "12345"))
    assert shown(body)[1] == "Type the 6-digit code the token shows now, so I can check the key."
    assert DAVE.object_id not in h.store.seeds
    assert [(r.event, r.details["reason"], r.details["period"]) for r in h.audit.entries] == [
        ("token.enroll_refused", "code_mismatch", "30"), ("token.enroll_refused", "code_mismatch", "60")]


async def test_an_active_seed_is_replaced_only_by_a_lead_who_ticks_replace(h):
    alice = form(f"otpauth://totp/x?secret={RFC}&digits=8&algorithm=SHA512", "30882132", upn=ALICE.upn)
    body, _ = await h.click("enroll", alice)
    assert shown(body)[1] == ("Alice User already has an active token (shipped), so nothing was saved. Revoke it "
                              "first with `revoke alice@contoso.example`, or ask a lead to replace it (the Replace "
                              "option).")
    body, _ = await h.click("enroll", {**alice, "replace": "true"})
    assert shown(body)[1] == "Only helpdesk leads can replace an active seed, so nothing was saved."
    assert h.store.seeds[ALICE.object_id].secret == ENTRA
    body, _ = await h.click("enroll", {**alice, "replace": "true"}, user=LEE)
    assert shown(body) == ["Saved the token for Alice User (alice@contoso.example): serial TK-0042, 30 s, 8 digits, "
                           "SHA512; status burned. The code matched."]
    assert (h.store.seeds[ALICE.object_id].secret, h.store.seeds[ALICE.object_id].status) == (RFC, TokenStatus.BURNED)
    assert [(r.event, r.actor, r.details.get("replaced"), r.details.get("previous")) for r in h.audit.entries] == [
        ("access.denied", "00000000-0000-4000-8000-0000000000a1", None, None),
        ("token.enrolled", LEE.oid, "true", "shipped")]


async def test_a_seed_typed_in_chat_is_refused_without_echo_and_flagged_as_exposed(h):
    for text in ("enroll dave@contoso.example 2sk2 tsmk jp7k dbck", "enroll dave@contoso.example JBSWY3DPEHPK3PXP",
                 "2sk2 tsmk jp7k dbck", f"otpauth://totp/dave?secret={RFC}", f"code dave@contoso.example {RFC}"):
        assert texts(await h.say(text)) == [SEED_IN_CHAT]
    assert texts(await h.say(RFC, user=MALLORY, conversation=PERSONAL, mention=False)) == [SEED_IN_CHAT]
    assert [(r.event, r.target, r.details) for r in h.audit.entries] == [
        ("seed.exposed", DAVE.upn, AGENT_IN_CHANNEL), ("seed.exposed", DAVE.upn, AGENT_IN_CHANNEL),
        ("seed.exposed", "", AGENT_IN_CHANNEL), ("seed.exposed", "", AGENT_IN_CHANNEL),
        ("seed.exposed", DAVE.upn, AGENT_IN_CHANNEL),
        ("seed.exposed", "", {"where": "personal", "sender": "not_an_agent"})]
    assert DAVE.object_id not in h.store.seeds


async def test_sentences_and_commands_are_not_mistaken_for_seeds(h):
    assert texts(await h.say("please help me right now")) == [
        "I don't know the command `please`. Type `help` for the list."]
    assert texts(await h.say("enroll")) == [
        "Use `enroll alice@contoso.com`, then enter the seed in the card (never in chat)."]
    assert h.audit.events() == []


@pytest.mark.parametrize("field, value", [("serial", "2SK2TSMKJP7KDBCK"), ("model", "2sk2 tsmk jp7k dbck")])
async def test_a_secret_in_another_field_is_refused_before_the_enroll_handler_and_flagged(h, field, value):
    body, _ = await h.click("enroll", form("2sk2 tsmk jp7k dbck", **{field: value}))
    assert shown(body) == [
        f"The {field} field looks like it holds a secret key, so nothing was saved or done. Consider that key "
        "exposed and set the token up again with a new one; a secret key goes only into the enroll card's hidden "
        "key field."]
    assert "2SK2" not in str(body).upper().replace(" ", "")
    assert [(r.event, r.target, r.details) for r in h.audit.entries] == [
        ("seed.exposed", DAVE.upn, {"where": "card", "verb": "enroll", "fields": field, "sender": "agent"})]
    assert DAVE.object_id not in h.store.seeds


@pytest.mark.parametrize("field, value, message", [
    ("serial", "TK\n<b>", "The serial may hold letters, digits, spaces and . _ / # ( ) - (up to 40 characters)."),
    ("period", "45", "Choose a period of 30 or 60 seconds."),
])
async def test_the_other_fields_are_checked_and_a_secret_in_them_is_never_echoed(h, field, value, message):
    body, _ = await h.click("enroll", form("2sk2 tsmk jp7k dbck", **{field: value}))
    assert shown(body)[1] == message
    card_text = str(body)
    assert "2SK2" not in card_text.upper().replace(" ", "")
    assert DAVE.object_id not in h.store.seeds


async def test_people_who_are_not_agents_cannot_enroll(h):
    body, _ = await h.click("enroll", form("2sk2 tsmk jp7k dbck"), user=MALLORY)
    assert shown(body) == ["You are not on the helpdesk agent list. Ask your Teams admin to add you."]
    assert DAVE.object_id not in h.store.seeds
