"""Which countries codes may be texted to (SMS pumping: fraudsters earn on texts to premium foreign ranges).

`OTPBOT_SMS_COUNTRIES` lists ISO 3166 letters (`GB,IE`) or calling codes (`+44,+353`); by default the tenant's own
country (Graph `organization.countryLetterCode`). A number is allowed when it starts with an allowed calling code.
"""

from __future__ import annotations

from typing import Protocol

from .errors import ConfigurationError, DependencyUnavailable

# ITU-T E.164 country calling codes. Countries sharing +1 (NANP) or +7 all map to that code.
CALLING_CODES = {
    "US": "+1", "CA": "+1", "PR": "+1", "GB": "+44", "IE": "+353", "FR": "+33", "DE": "+49", "NL": "+31",
    "BE": "+32", "LU": "+352", "CH": "+41", "AT": "+43", "IT": "+39", "ES": "+34", "PT": "+351", "DK": "+45",
    "SE": "+46", "NO": "+47", "FI": "+358", "IS": "+354", "PL": "+48", "CZ": "+420", "SK": "+421", "HU": "+36",
    "RO": "+40", "BG": "+359", "GR": "+30", "HR": "+385", "SI": "+386", "EE": "+372", "LV": "+371", "LT": "+370",
    "MT": "+356", "CY": "+357", "RS": "+381", "UA": "+380", "TR": "+90", "IL": "+972", "AE": "+971",
    "SA": "+966", "QA": "+974", "EG": "+20", "ZA": "+27", "NG": "+234", "KE": "+254", "MA": "+212", "IN": "+91",
    "PK": "+92", "BD": "+880", "LK": "+94", "SG": "+65", "MY": "+60", "TH": "+66", "ID": "+62", "PH": "+63",
    "VN": "+84", "CN": "+86", "HK": "+852", "TW": "+886", "JP": "+81", "KR": "+82", "AU": "+61", "NZ": "+64",
    "MX": "+52", "BR": "+55", "AR": "+54", "CL": "+56", "CO": "+57", "PE": "+51",
}


class CountrySource(Protocol):
    async def calling_codes(self) -> frozenset[str]:
        """Raises DependencyUnavailable when the allow-list cannot be read (then nothing is texted)."""


class FixedCountries:
    def __init__(self, codes: frozenset[str]) -> None:
        self.codes = codes

    async def calling_codes(self) -> frozenset[str]:
        return self.codes


class TenantCountry:
    """The tenant's own country, read once from `lookup()` (an async callable returning ISO letters)."""

    def __init__(self, lookup) -> None:
        self._lookup, self._codes = lookup, None

    async def calling_codes(self) -> frozenset[str]:
        if self._codes is None:
            letters = (await self._lookup() or "").upper()
            if letters not in CALLING_CODES:
                raise DependencyUnavailable("I could not tell which country codes may be texted to (the tenant's "
                                            "country is unknown), so no code was texted. Ask the bot admin to set "
                                            "OTPBOT_SMS_COUNTRIES.")
            self._codes = frozenset({CALLING_CODES[letters]})
        return self._codes


def parse_countries(raw: str) -> frozenset[str]:
    codes = set()
    for part in (p.strip().upper() for p in raw.split(",") if p.strip()):
        if part in CALLING_CODES:
            codes.add(CALLING_CODES[part])
        elif part.startswith("+") and part[1:].isdigit() and 1 <= len(part) - 1 <= 4 and part[1] != "0":
            codes.add(part)
        else:
            raise ConfigurationError(f"Refusing to start: OTPBOT_SMS_COUNTRIES holds {part[:10]!r}; list ISO country "
                                     "letters (GB, IE) or calling codes (+44, +353).")
    if not codes:
        raise ConfigurationError("Refusing to start: OTPBOT_SMS_COUNTRIES is empty.")
    return frozenset(codes)
