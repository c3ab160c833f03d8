"""Typed UPNs are attacker-controlled text: accept only plain ASCII addresses, exactly."""

from __future__ import annotations

import re
import unicodedata

from .errors import InvalidInput
from .text import printable

MAX_UPN_LENGTH = 113  # Entra's limit for userPrincipalName
_UPN = re.compile(r"^[a-z0-9](?:[a-z0-9._'+-]*[a-z0-9_])?@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$")


def normalise_upn(raw: str) -> str:
    """Returns the lowercase UPN, or raises InvalidInput with the reason.

    Invisible (zero-width, bidi) and look-alike (fullwidth, other scripts) characters are
    refused rather than folded, so a homoglyph can never resolve to a real user.
    """
    text = raw.strip()
    if any(unicodedata.category(ch) == "Cf" for ch in text):
        raise InvalidInput("That user name contains invisible characters (zero-width or bidi). Type it again by hand.")
    if unicodedata.normalize("NFKC", text) != text:
        raise InvalidInput("That user name contains full-width or compatibility characters. Type it in plain ASCII.")
    if not text.isascii():
        raise InvalidInput("That user name contains non-ASCII letters, which could be look-alikes. Type it in plain ASCII.")
    upn = text.lower()
    if len(upn) > MAX_UPN_LENGTH or not _UPN.match(upn):
        raise InvalidInput(f"`{printable(text, 60)}` is not a valid user name. Use the form `alice@contoso.com`.")
    return upn
