"""RFC 6238 codes and seed normalisation. Time is always an argument, tz-aware UTC."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from datetime import datetime, timedelta, timezone

import pyotp

from .errors import InvalidInput
from .models import Algorithm, TotpParams

_DIGESTS = {Algorithm.SHA1: hashlib.sha1, Algorithm.SHA256: hashlib.sha256, Algorithm.SHA512: hashlib.sha512}
_BASE32 = re.compile(r"^[A-Z2-7]+=*$")
_SEPARATORS = re.compile(r"[\s\-]+")
MIN_SEED_BYTES = 10  # Entra's authenticator-app seeds are 16 base32 characters: 80 bits


class _Totp(pyotp.TOTP):
    # pyotp 2.10+ refuses secrets under 112 bits; Entra issues 80-bit seeds, which RFC 4226 allows
    # (128 recommended, 80 not forbidden), and the hardware tokens are burned with exactly those.
    min_secret_length_bits = MIN_SEED_BYTES * 8


def normalise_secret(raw: str) -> str:
    """Accepts base32 with spaces, dashes, lowercase or padding; returns uppercase base32 without padding."""
    text = _SEPARATORS.sub("", raw or "").upper()
    if not text:
        raise InvalidInput("The seed is empty.")
    if not _BASE32.match(text):
        raise InvalidInput("The seed is not valid base32: use only the letters A–Z and the digits 2–7.")
    text = text.rstrip("=")
    try:
        decoded = base64.b32decode(text + "=" * (-len(text) % 8))
    except binascii.Error:
        raise InvalidInput("The seed is not valid base32: its length does not decode to whole bytes.") from None
    if len(decoded) < MIN_SEED_BYTES:
        raise InvalidInput("The seed is too short: at least 16 base32 characters (80 bits) are needed.")
    return text


WEAK_SEED = ("That secret key is too weak: its bytes are all the same or repeat a short pattern, so nothing was "
             "saved. Set the token up with a new key from the setup page.")


def require_strong(secret: str) -> None:
    """Refuses a normalised seed whose bytes are one value, or a pattern of up to a quarter of its length repeated
    (`AAAA…`, 0x00 × 10, `abab…`): a token burned with it is guessable whatever its length."""
    raw = base64.b32decode(secret + "=" * (-len(secret) % 8))
    for unit in range(1, max(1, len(raw) // 4) + 1):
        if all(raw[i] == raw[i % unit] for i in range(len(raw))):
            raise InvalidInput(WEAK_SEED)
    if len(set(raw)) <= 2:
        raise InvalidInput(WEAK_SEED)


def step_start(at: datetime, period: int) -> datetime:
    _require_aware(at)
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % period, tz=timezone.utc)


def step_end(at: datetime, period: int) -> datetime:
    return step_start(at, period) + timedelta(seconds=period)


def code_at(secret: str, params: TotpParams, at: datetime) -> str:
    """The code for the step that contains `at`."""
    _require_aware(at)
    totp = _Totp(secret, digits=params.digits, digest=_DIGESTS[params.algorithm], interval=params.period)
    return totp.at(int(at.timestamp()))


def matches(secret: str, params: TotpParams, code: str, at: datetime, steps: int = 1) -> bool:
    """True if `code` is valid at `at` within ±steps (constant-time compare per step)."""
    _require_aware(at)
    totp = _Totp(secret, digits=params.digits, digest=_DIGESTS[params.algorithm], interval=params.period)
    return totp.verify(code.replace(" ", ""), for_time=int(at.timestamp()), valid_window=steps)


def group_code(code: str) -> str:
    """`123456` -> `123 456`, `12345678` -> `1234 5678`: easier to read out on the phone."""
    half = len(code) // 2
    return f"{code[:half]} {code[half:]}"


def _require_aware(at: datetime) -> None:
    # pyotp reads naive datetimes as local time; refuse them rather than be wrong by hours.
    if at.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware UTC time")
