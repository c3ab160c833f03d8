"""Does a chat message (or a plain card field) carry a token seed? Then it must never be stored or echoed.

Flagged: any word that is an otpauth:, otpauth-migration: or phonefactor: link; any single word that is a valid
base32 seed (16+ characters); and a whole message that is a seed once spaces are removed, when it is grouped the
way Entra shows seeds (`2sk2 tsmk jp7k dbck`: groups of four) or contains a base32 digit (2–7). Plain sentences
("please help me right now") stay unflagged; a UPN never is (`@` and `.` are not base32).
"""

from __future__ import annotations

from .errors import InvalidInput
from .totp import normalise_secret

_SECRET_LINKS = ("otpauth:", "otpauth-migration:", "phonefactor:")
_BASE32_DIGITS = frozenset("234567")


def looks_like_seed(text: str) -> bool:
    words = (text or "").split()
    if any(word.lower().startswith(_SECRET_LINKS) for word in words):
        return True
    if any(_is_seed(word) for word in words):
        return True
    if len(words) < 2 or not _is_seed("".join(words)):
        return False
    return all(len(word) == 4 for word in words) or any(ch in _BASE32_DIGITS for ch in "".join(words))


def _is_seed(text: str) -> bool:
    try:
        normalise_secret(text)
    except InvalidInput:
        return False
    return True
