import base64
import hashlib
import hmac
import struct
from datetime import datetime, timezone

import pytest

from bot.core.errors import InvalidInput
from bot.core.models import Algorithm, TotpParams
from bot.core.totp import code_at, group_code, matches, normalise_secret, step_end, step_start

# RFC 6238 Appendix B: seeds are the ASCII digits repeated to 20, 32 and 64 bytes.
SHA1_SEED = base64.b32encode(b"12345678901234567890").decode()
SHA256_SEED = base64.b32encode(b"12345678901234567890123456789012").decode().rstrip("=")
SHA512_SEED = base64.b32encode(b"1234567890" * 6 + b"1234").decode().rstrip("=")
RFC_6238 = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize("unix, sha1, sha256, sha512", RFC_6238)
def test_rfc6238_appendix_b(unix, sha1, sha256, sha512):
    at = datetime.fromtimestamp(unix, tz=timezone.utc)
    assert code_at(SHA1_SEED, TotpParams(30, 8, Algorithm.SHA1), at) == sha1
    assert code_at(SHA256_SEED, TotpParams(30, 8, Algorithm.SHA256), at) == sha256
    assert code_at(SHA512_SEED, TotpParams(30, 8, Algorithm.SHA512), at) == sha512


def test_six_digits_is_the_low_six_of_the_rfc_value():
    at = datetime.fromtimestamp(1111111109, tz=timezone.utc)
    assert code_at(SHA1_SEED, TotpParams(), at) == "081804"


def rfc4226_hotp(key: bytes, counter: int, digits: int) -> str:
    """An independent HOTP (RFC 4226 section 5.3, HMAC-SHA1): the expected values do not come from pyotp."""
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    binary = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(binary % 10 ** digits).zfill(digits)


def test_the_independent_hotp_agrees_with_rfc4226_appendix_d():
    assert [rfc4226_hotp(b"12345678901234567890", counter, 6) for counter in range(10)] == [
        "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]


def test_sixty_second_steps():
    assert code_at(SHA1_SEED, TotpParams(60, 6), datetime.fromtimestamp(0, tz=timezone.utc)) == "755224"
    assert code_at(SHA1_SEED, TotpParams(60, 6), datetime.fromtimestamp(119, tz=timezone.utc)) == "287082"
    assert code_at(SHA1_SEED, TotpParams(60, 6), datetime.fromtimestamp(120, tz=timezone.utc)) == "359152"
    assert code_at(SHA1_SEED, TotpParams(60, 6), datetime.fromtimestamp(179, tz=timezone.utc)) == "359152"
    assert code_at(SHA1_SEED, TotpParams(60, 6), datetime.fromtimestamp(180, tz=timezone.utc)) == "969429"
    at = datetime(2026, 11, 28, 9, 0, 10, tzinfo=timezone.utc)
    assert code_at(SHA1_SEED, TotpParams(60, 8), at) == rfc4226_hotp(b"12345678901234567890",
                                                                     int(at.timestamp()) // 60, 8)


@pytest.mark.parametrize("raw, expected", [
    ("2sk2 tsmk jp7k dbck", "2SK2TSMKJP7KDBCK"),  # Entra's 16-character lowercase seed with spaces
    ("2sk2tsmkjp7kdbck", "2SK2TSMKJP7KDBCK"),
    ("2SK2-TSMK-JP7K-DBCK", "2SK2TSMKJP7KDBCK"),
    ("JBSWY3DPEHPK3PXP====", "JBSWY3DPEHPK3PXP"),
    (SHA1_SEED.lower(), SHA1_SEED),
])
def test_seed_normalisation(raw, expected):
    assert normalise_secret(raw) == expected


@pytest.mark.parametrize("raw, message", [
    ("", "The seed is empty."),
    ("2sk2tsmkjp7kdbc1", "The seed is not valid base32: use only the letters A–Z and the digits 2–7."),
    ("JBSWY3DP", "The seed is too short: at least 16 base32 characters (80 bits) are needed."),
    ("ABC", "The seed is not valid base32: its length does not decode to whole bytes."),
])
def test_bad_seeds(raw, message):
    with pytest.raises(InvalidInput) as error:
        normalise_secret(raw)
    assert error.value.message == message


def test_step_bounds():
    at = datetime(2026, 11, 28, 9, 0, 29, tzinfo=timezone.utc)
    assert step_start(at, 30) == datetime(2026, 11, 28, 9, 0, 0, tzinfo=timezone.utc)
    assert step_end(at, 30) == datetime(2026, 11, 28, 9, 0, 30, tzinfo=timezone.utc)
    assert step_start(at.replace(second=30), 30) == datetime(2026, 11, 28, 9, 0, 30, tzinfo=timezone.utc)
    assert step_end(at, 60) == datetime(2026, 11, 28, 9, 1, 0, tzinfo=timezone.utc)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        code_at(SHA1_SEED, TotpParams(), datetime(2026, 11, 28, 9, 0))


def test_matches_within_one_step():
    params = TotpParams(30, 8)

    def matched(code: str, unix: int, **kw) -> bool:
        return matches(SHA1_SEED, params, code, datetime.fromtimestamp(unix, tz=timezone.utc), **kw)

    # "07081804" is the code of the step 1111111080–1111111109 (1111111109 is its last second)
    assert matched("0708 1804", 1111111109)
    assert [matched("07081804", 1111111109 + offset) for offset in (-60, -30, 0, 30, 60)] == [
        False, True, True, True, False]
    # the exact edges: the last second two steps before, the first second one step before, the last second one
    # step after, the first second two steps after
    assert [matched("07081804", unix) for unix in (1111111049, 1111111050, 1111111139, 1111111140)] == [
        False, True, True, False]
    assert [matched("07081804", unix, steps=0) for unix in (1111111079, 1111111080, 1111111109, 1111111110)] == [
        False, True, True, False]
    assert not matched("07081805", 1111111109)


def test_grouping():
    assert group_code("123456") == "123 456"
    assert group_code("12345678") == "1234 5678"


@pytest.mark.parametrize("period, digits", [(45, 6), (30, 7)])
def test_unsupported_parameters(period, digits):
    with pytest.raises(ValueError):
        TotpParams(period, digits)


def test_entra_80_bit_seeds_compute_codes():
    """pyotp 2.10+ refuses secrets under 112 bits by default; Entra's 16-character seeds are 80 bits."""
    at = datetime(2026, 11, 28, 9, 0, 10, tzinfo=timezone.utc)
    secret = normalise_secret("2sk2 tsmk jp7k dbck")
    assert code_at(secret, TotpParams(), at) == "138424"  # independently: HMAC-SHA1 over step 59_861_500
    assert matches(secret, TotpParams(), "138 424", at)
