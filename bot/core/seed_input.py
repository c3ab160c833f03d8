"""What an agent pastes or scans as a token seed: a bare base32 secret or an `otpauth://totp/` link.

Everything else an agent is likely to scan during enrolment (the Authenticator notification QR code, an HOTP
or Google Authenticator export QR code, a passkey QR code, a web link, the token's serial barcode, a one-time
code) is refused with one sentence saying what it was and where the seed is instead.
No error message ever repeats the input: it may be a secret.

Serial rule: after removing spaces and dashes and upper-casing, text that is NOT a valid seed and consists of
at most 6 letters followed by 6 to 20 digits (`2620123456789`, `TOTP0012345678`) is taken for a serial number;
exactly 6 or 8 digits alone is taken for a one-time code. A valid seed always wins, so a 16+ character base32
string (even `TOTP234567234567`) is accepted as a seed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from .errors import InvalidInput
from .models import ALLOWED_DIGITS, ALLOWED_PERIODS, Algorithm, TotpParams
from .totp import normalise_secret

_SEE_SECRET_KEY = "choose 'Can't scan image?' on the setup page to see the secret key"

_REFUSED_PREFIXES = (  # (lowercase prefix, sentence); otpauth-migration before otpauth
    ("phonefactor://",
     "That is the Microsoft Authenticator app-notification QR code, not a TOTP seed. On the setup page choose "
     "'set up without notifications' / 'Can't scan image?' to see the secret key."),
    ("otpauth-migration://",
     "That is a Google Authenticator export QR code, which bundles accounts in its own format, not a TOTP seed; "
     f"{_SEE_SECRET_KEY}."),
    ("otpauth://hotp/",
     "That is an HOTP (counter-based) QR code, but these tokens need a TOTP (time-based) seed; set the account "
     f"up as an authenticator app and {_SEE_SECRET_KEY}."),
    ("fido:/",
     "That is a passkey (FIDO) QR code, not a TOTP seed; add an authenticator app on the setup page and "
     f"{_SEE_SECRET_KEY}."),
    ("https://", f"That is a web link, not a TOTP seed; open the setup page it leads to and {_SEE_SECRET_KEY}."),
    ("http://", f"That is a web link, not a TOTP seed; open the setup page it leads to and {_SEE_SECRET_KEY}."),
)
OTHER_OTPAUTH = "That otpauth link is not for a TOTP token; enter the base32 secret key or an otpauth://totp/ link."
SERIAL_NUMBER = ("That looks like the token's serial number (from its barcode or label), not the seed; "
                 f"{_SEE_SECRET_KEY} and enter that instead.")
ONE_TIME_CODE = f"That looks like a one-time code, not the seed; {_SEE_SECRET_KEY} and enter that instead."
NO_SECRET = "The otpauth link has no secret parameter, so it carries no seed; enter the base32 secret key instead."
REPEATED_PARAMETER = "The otpauth link repeats a parameter, so it is ambiguous; enter the base32 secret key instead."
BAD_PERIOD = "The otpauth link asks for a period these tokens do not support; they take 30 or 60 seconds."
BAD_DIGITS = "The otpauth link asks for a code length these tokens do not support; they take 6 or 8 digits."
BAD_ALGORITHM = "The otpauth link asks for an algorithm these tokens do not support; they take SHA1, SHA256 or SHA512."

_SEPARATORS = re.compile(r"[\s\-]+")
_SERIAL = re.compile(r"^[A-Z]{0,6}[0-9]{6,20}$")
_ONE_TIME_CODE = re.compile(r"^(?:[0-9]{6}|[0-9]{8})$")


@dataclass(frozen=True)
class ParsedSeed:
    secret: str = field(repr=False)  # normalised base32, no padding
    params: TotpParams | None  # None: the input named no parameters (a bare secret)
    account: str | None = None
    issuer: str | None = None


def parse_seed_input(text: str) -> ParsedSeed:
    """Returns the seed in `text`, or raises InvalidInput with one sentence that never repeats `text`."""
    text = (text or "").strip()
    lowered = text.lower()
    for prefix, sentence in _REFUSED_PREFIXES:
        if lowered.startswith(prefix):
            raise InvalidInput(sentence)
    if lowered.startswith("otpauth://totp/"):
        return _parse_otpauth_totp(text)
    if lowered.startswith("otpauth://"):
        raise InvalidInput(OTHER_OTPAUTH)
    return ParsedSeed(_bare_secret(text), params=None)


def _bare_secret(text: str) -> str:
    try:
        return normalise_secret(text)
    except InvalidInput:
        compact = _SEPARATORS.sub("", text).upper()
        if _ONE_TIME_CODE.match(compact):
            raise InvalidInput(ONE_TIME_CODE) from None
        if _SERIAL.match(compact):
            raise InvalidInput(SERIAL_NUMBER) from None
        raise


def _parse_otpauth_totp(text: str) -> ParsedSeed:
    parts = urlsplit(text)
    query: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        key = key.lower()
        if key in query:
            raise InvalidInput(REPEATED_PARAMETER)
        query[key] = value.strip()
    if not query.get("secret"):
        raise InvalidInput(NO_SECRET)
    secret = normalise_secret(query["secret"])
    label_issuer, account = _split_label(unquote(parts.path.lstrip("/")))
    params = TotpParams(
        period=_choice(query.get("period"), 30, ALLOWED_PERIODS, BAD_PERIOD),
        digits=_choice(query.get("digits"), 6, ALLOWED_DIGITS, BAD_DIGITS),
        algorithm=_algorithm(query.get("algorithm")),
    )
    return ParsedSeed(secret, params, account, query.get("issuer") or label_issuer)


def _split_label(label: str) -> tuple[str | None, str | None]:
    """`Issuer:account` or `account`; the Key URI format allows spaces after the colon."""
    issuer, colon, account = label.partition(":")
    if not colon:
        issuer, account = "", issuer
    return issuer.strip() or None, account.strip() or None


def _choice(raw: str | None, default: int, allowed: tuple[int, ...], sentence: str) -> int:
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) not in allowed:
        raise InvalidInput(sentence)
    return int(raw)


def _algorithm(raw: str | None) -> Algorithm:
    if not raw:
        return Algorithm.SHA1
    try:
        return Algorithm(raw.upper().replace("-", ""))  # some generators write SHA-256
    except ValueError:
        raise InvalidInput(BAD_ALGORITHM) from None
