"""Seed detection: every way a seed is typed is caught, ordinary helpdesk text is not, and the miss rate for
random seeds is measured (the docstring of bot/core/seed_in_chat.py states it)."""

import random

import pytest

from bot.core.seed_in_chat import looks_like_seed, seed_fields

SEEDS = [
    "code bob@contoso.example jbsw y3dp ehpk 3pxp", "revoke carol@contoso.example key jbsw y3dp ehpk 3pxp",
    "2sk2 tsmk jp7k dbck", "2SK2TSMKJP7KDBCK", "JBSW-Y3DP-EHPK-3PXP", "key: jbswy3dp, ehpk3pxp.",
    "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP", "see <otpauth://totp/x> please", "OTPAUTH-MIGRATION://offline?data=x",
    "phonefactor://activate_account?code=1", "shipped dave@contoso.example DHL JBSWY3DPEHPK3PXP",
    "gezd gnbv gy3t qojq gezd gnbv gy3t qojq", "the key is jbswy3dpehpk3pxpjbswy3dpehpk3pxp thanks",
    "hxdm vjec jjws rb3h wizr 4ifu gftm xboz",  # 32 characters (160 bits)
]
ORDINARY = [
    "please help me right now", "lost card sent back", "this test will fail", "revoke alice@contoso.example lost in post",
    "revoke bob@contoso.example user lost 2fa device in transit", "INC0012345", "RITM0012345 CHG0034567",
    "shipped alice@contoso.example DHL JD014600003828", "internationalization", "alice.smith@contoso.com",
    "code alice@contoso.example in 10m", "code alice@contoso.example at 14:30", "2 cards in the post office",
    "replaced under warranty by the vendor", "TK-0042", "Token2 C302-i", "1Z999AA10123456784", "INC-1001",
    "the user said the parcel was left with a neighbour", "wellknown-long-hyphenated-words", "a " * 40,
    "audit alice@contoso.example 2026-11-01", "counterproductive administrators", "",
]


@pytest.mark.parametrize("text", SEEDS)
def test_seeds_are_caught(text):
    assert looks_like_seed(text)


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_not_taken_for_a_seed(text):
    assert not looks_like_seed(text)


@pytest.mark.parametrize("length, most_missed", [(16, 0.01), (26, 0.0), (32, 0.0), (103, 0.0)])
def test_random_seeds_grouped_like_entra_are_caught(length, most_missed):
    rng, alphabet = random.Random(13), "abcdefghijklmnopqrstuvwxyz234567"
    missed = 0
    for _ in range(2000):
        seed = "".join(rng.choice(alphabet) for _ in range(length))
        missed += not looks_like_seed(" ".join(seed[i:i + 4] for i in range(0, length, 4)))
    assert missed / 2000 <= most_missed


def test_card_fields_the_seed_input_and_the_bots_own_ids_are_exempt():
    data = {"seed": "JBSWY3DPEHPK3PXP", "ticket": "jbsw y3dp ehpk 3pxp", "vid": "JBSWY3DPEHPK3PXPJBSWY3",
            "run": "abcdefghijklmnop", "requester": "00000000-0000-4000-8000-0000000000a1", "calledBack": "true",
            "note": "x" * 9000}
    assert seed_fields(data, skip=("seed",)) == ["note", "ticket"]
    assert seed_fields({"vid": "jbsw y3dp ehpk 3pxp"}) == ["vid"]  # not in the id's format: checked
