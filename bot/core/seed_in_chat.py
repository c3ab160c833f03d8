"""Does a chat message or a free-text field carry a token seed? Then it must never be stored or echoed.

One function, `looks_like_seed`, runs before anything else reads a message or a card input (handlers/__init__.py).
Flagged:
- an otpauth:, otpauth-migration: or phonefactor: link anywhere in the text;
- any run of consecutive words that, joined, is a valid base32 seed of a length a token uses (16 to 128
  characters: 80 bits up to SHA-512's 64 bytes and more), with spaces, dashes or lower case (`jbsw y3dp ehpk 3pxp`
  inside `revoke carol@… key jbsw y3dp ehpk 3pxp`), when the run is seed-shaped: it holds two or more of the
  base32 digits 2–7 and a word mixes them with letters (English words do not; `2fa` alone is one digit), or its
  letter pairs are not English.

Why English letter pairs: every letter A–Z is base32, so "lost card sent back" (16 letters) decodes too. In words
of a sentence at least 70 % of adjacent letter pairs are among the 192 commonest English bigrams; in a random
seed about 28 % are. A seed with at most one digit (17 % of random 16-character seeds) whose pairs still look English (2.7 % of
those) is missed: about 1 in 200 (tests/test_seed_in_chat.py measures it). UPNs, ticket ids (`INC0012345`) and serials carry characters
outside base32 (`@ . 0 1 8 9`), which end a run.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping

_LINK = re.compile(r"(?:otpauth(?:-migration)?|phonefactor):", re.IGNORECASE)
_EDGE = "\"'.,;:!?()[]{}<>*_~|`"
_BASE32_WORD = re.compile(r"^[A-Z2-7]+(?:-[A-Z2-7]+)*=*$")
_DIGITS = frozenset("234567")
MIN_CHARS, MAX_CHARS = 16, 128
ENGLISH_SHARE = 0.6
_ENGLISH = frozenset((
    "th he in er an re on at en nd ti es or te of ed is it al ar st to nt ng se ha as ou io le ve co me de hi ri "
    "ro ic ne ea ra ce li ch ll be ma si om ur ca el ta la ns di fo ho pe ec pr no ct us ac ot il tr ly nc et ut "
    "ss so rs un lo wa ge ie wh ee wi em ad ol rt po we na ul ni ts mo ow pa im mi ai sh ir su id os iv ia am fi "
    "ci vi pl ig tu ev ld ry mp fe bl ab gh ty op wo sa ay ex ke fr oo av ag if ap gr od bo sp rd do uc bu ei ov "
    "by rm ep tt oc fa ef cu rn sc gi da yo cr cl du ga qu ue ff ba ey ls va um pp ua up lu go ht ru ug ds lt pi "
    "rc rr eg au ck ew mu br bi pt ak pu").upper().split())


def looks_like_seed(text: str) -> bool:
    text = text or ""
    if _LINK.search(text):
        return True
    run: list[str] = []
    for raw in text.split():
        word = raw.strip(_EDGE).upper()
        if _BASE32_WORD.match(word):
            run.append(word.replace("-", "").rstrip("="))
            continue
        if _run_has_seed(run):
            return True
        run = []
    return _run_has_seed(run)


def seed_fields(data: Mapping[str, object], skip: Iterable[str] = ()) -> list[str]:
    """The names of the string fields of a card's data that carry a seed (`skip`: the seed field itself).

    The bot's own ids on a card (a verification or runbook id: random URL-safe text, which looks like base32 one
    time in ten; an object id) are exempt in their own format only. A field too long to check cheaply counts."""
    skipped = set(skip)
    return sorted(k for k, v in data.items() if k not in skipped and isinstance(v, str) and not _own_id(k, v)
                  and (len(v) > MAX_FIELD or looks_like_seed(v)))


MAX_FIELD = 8000
_IDS = {"vid": re.compile(r"[A-Za-z0-9_-]{22}"), "run": re.compile(r"[A-Za-z0-9_-]{16}"),
        "requester": re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")}


def _own_id(key: str, value: str) -> bool:
    pattern = _IDS.get(key)
    return bool(pattern and pattern.fullmatch(value))


def _run_has_seed(words: list[str]) -> bool:
    """Every run of consecutive words up to MAX_CHARS, from per-word tallies: linear in the message's length."""
    stats = [_tally(w) for w in words]
    for start in range(len(stats)):
        length = digits = pairs = english = 0
        mixed = False
        for size, word_digits, word_pairs, word_english in stats[start:]:
            length, digits = length + size, digits + word_digits
            pairs, english = pairs + word_pairs, english + word_english
            mixed = mixed or 0 < word_digits < size
            if length > MAX_CHARS:
                break
            if length < MIN_CHARS or length % 8 not in _WHOLE_BYTES or digits == length:
                continue
            if (digits >= 2 and mixed) or (pairs and english / pairs < ENGLISH_SHARE):
                return True
    return False


_WHOLE_BYTES = (0, 2, 4, 5, 7)  # base32 lengths (mod 8) that decode to whole bytes; 16+ characters = 10+ bytes


def _tally(word: str) -> tuple[int, int, int, int]:
    """(characters, base32 digits, adjacent letter pairs, of them common in English)."""
    pairs = [a + b for a, b in zip(word, word[1:]) if a.isalpha() and b.isalpha()]
    return len(word), sum(ch in _DIGITS for ch in word), len(pairs), sum(p in _ENGLISH for p in pairs)
