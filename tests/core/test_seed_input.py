import re

import pytest

from bot.core.errors import InvalidInput
from bot.core.models import Algorithm, TotpParams
from bot.core.seed_input import ParsedSeed, parse_seed_input

ENTRA = "2SK2TSMKJP7KDBCK"
RFC = "JBSWY3DPEHPK3PXP"
SEE_KEY = "choose 'Can't scan image?' on the setup page to see the secret key"
DEFAULTS = TotpParams(30, 6, Algorithm.SHA1)


@pytest.mark.parametrize("text, expected", [
    # bare secrets carry no parameters
    ("2sk2 tsmk jp7k dbck", ParsedSeed(ENTRA, None)),  # Entra: 16 lowercase characters in groups
    ("2SK2TSMKJP7KDBCK", ParsedSeed(ENTRA, None)),
    ("2sk2-tsmk-jp7k-dbck", ParsedSeed(ENTRA, None)),
    ("  JBSWY3DPEHPK3PXP====\n", ParsedSeed(RFC, None)),
    ("TOTP234567234567", ParsedSeed("TOTP234567234567", None)),  # serial-like prefix, but a valid seed wins
    ("2345672345672345", ParsedSeed("2345672345672345", None)),  # digits only, but valid 16-char base32
    # otpauth: missing parameters become the explicit defaults
    (f"otpauth://totp/Contoso:alice%40contoso.com?secret={RFC}&issuer=Contoso",
     ParsedSeed(RFC, DEFAULTS, "alice@contoso.com", "Contoso")),
    (f"otpauth://totp/Contoso:alice%40contoso.com?secret={RFC}&issuer=Contoso&period=60&digits=8&algorithm=SHA256",
     ParsedSeed(RFC, TotpParams(60, 8, Algorithm.SHA256), "alice@contoso.com", "Contoso")),
    (f"otpauth://totp/alice?secret={RFC}&algorithm=SHA512&digits=8",
     ParsedSeed(RFC, TotpParams(30, 8, Algorithm.SHA512), "alice", None)),
    (f"otpauth://totp/alice?secret={RFC}&algorithm=sha-512&period=60",
     ParsedSeed(RFC, TotpParams(60, 6, Algorithm.SHA512), "alice", None)),
    (f"OTPAUTH://TOTP/Contoso:alice?SECRET={RFC}",  # scheme, type and keys in any case
     ParsedSeed(RFC, DEFAULTS, "alice", "Contoso")),
    (f"otpauth://totp/Contoso%20Ltd%3A%20alice%40contoso.com?secret={RFC}&issuer=Contoso%20Ltd",
     ParsedSeed(RFC, DEFAULTS, "alice@contoso.com", "Contoso Ltd")),
    (f"otpauth://totp/Contoso%20Ltd:alice%40contoso.com?secret={RFC}",  # issuer from the label alone
     ParsedSeed(RFC, DEFAULTS, "alice@contoso.com", "Contoso Ltd")),
    (f"otpauth://totp/Old:alice?secret={RFC}&issuer=New",  # the issuer parameter wins over the label prefix
     ParsedSeed(RFC, DEFAULTS, "alice", "New")),
    ("otpauth://totp/alice%40contoso.com?secret=2sk2%20tsmk%20jp7k%20dbck&period=30",
     ParsedSeed(ENTRA, DEFAULTS, "alice@contoso.com", None)),
    (f"otpauth://totp/?secret={RFC}&image=https%3A%2F%2Fexample.com%2Flogo.png",  # no label; unknown keys ignored
     ParsedSeed(RFC, DEFAULTS, None, None)),
])
def test_accepted_inputs(text, expected):
    assert parse_seed_input(text) == expected


NOT_BASE32 = "The seed is not valid base32: use only the letters A–Z and the digits 2–7."
NOTIFICATION_QR = ("That is the Microsoft Authenticator app-notification QR code, not a TOTP seed. On the setup page "
                   "choose 'set up without notifications' / 'Can't scan image?' to see the secret key.")
HOTP = ("That is an HOTP (counter-based) QR code, but these tokens need a TOTP (time-based) seed; set the account "
        f"up as an authenticator app and {SEE_KEY}.")
MIGRATION = ("That is a Google Authenticator export QR code, which bundles accounts in its own format, "
             f"not a TOTP seed; {SEE_KEY}.")
PASSKEY = ("That is a passkey (FIDO) QR code, not a TOTP seed; add an authenticator app on the setup page and "
           f"{SEE_KEY}.")
WEB_LINK = f"That is a web link, not a TOTP seed; open the setup page it leads to and {SEE_KEY}."
SERIAL = ("That looks like the token's serial number (from its barcode or label), not the seed; "
          f"{SEE_KEY} and enter that instead.")
CODE = f"That looks like a one-time code, not the seed; {SEE_KEY} and enter that instead."

REJECTED = [
    ("phonefactor://activate_account?code=123456789&url=https://mobileappcommunicator.auth.microsoft.com/activate/"
     "123456789/WEU", NOTIFICATION_QR),
    ("PhoneFactor://activate_account?code=987654321", NOTIFICATION_QR),
    (f"otpauth://hotp/Contoso:alice?secret={RFC}&counter=0", HOTP),
    (f"OTPAUTH://HOTP/alice?secret={RFC}", HOTP),
    ("otpauth-migration://offline?data=CjEKCkhlbGxvId6tvu8SBWFsaWNlGgdDb250b3NvIAEoATACEAEYASAA", MIGRATION),
    ("FIDO:/1234567890123456789012345678901234567890", PASSKEY),
    ("fido:/0987654321", PASSKEY),
    ("https://aka.ms/mfasetup", WEB_LINK),
    ("http://example.com/enrol?token=abcdef", WEB_LINK),
    (f"otpauth://steam/alice?secret={RFC}",
     "That otpauth link is not for a TOTP token; enter the base32 secret key or an otpauth://totp/ link."),
    # serial barcodes and one-time codes
    ("2620123456789", SERIAL),
    ("TOTP0012345678", SERIAL),
    ("totp 0012 3456 78", SERIAL),
    ("SN-1234567", SERIAL),
    ("1234567", SERIAL),
    ("123456", CODE),
    ("123 456", CODE),
    ("1234 5678", CODE),
    # not base32 at all: normalise_secret's own sentences
    ("", "The seed is empty."),
    ("   ", "The seed is empty."),
    ("2sk2tsmkjp7kdbc1", NOT_BASE32),
    ("ABC123", NOT_BASE32),  # only 3 digits after the prefix: no serial
    ("Hello, world!", NOT_BASE32),
    ("WIFI:S:guest;T:WPA;P:hunter22;;", NOT_BASE32),
    ("JBSWY3DP", "The seed is too short: at least 16 base32 characters (80 bits) are needed."),
    ("ABC", "The seed is not valid base32: its length does not decode to whole bytes."),
    # otpauth://totp/ links with something wrong
    ("otpauth://totp/Contoso:alice?issuer=Contoso",
     "The otpauth link has no secret parameter, so it carries no seed; enter the base32 secret key instead."),
    ("otpauth://totp/alice?secret=&issuer=Contoso",
     "The otpauth link has no secret parameter, so it carries no seed; enter the base32 secret key instead."),
    (f"otpauth://totp/alice?secret={RFC}&secret=2sk2tsmkjp7kdbck",
     "The otpauth link repeats a parameter, so it is ambiguous; enter the base32 secret key instead."),
    ("otpauth://totp/alice?secret=2SK2TSMKJP7KDBC1", NOT_BASE32),
    (f"otpauth://totp/alice?secret={RFC}&period=45",
     "The otpauth link asks for a period these tokens do not support; they take 30 or 60 seconds."),
    (f"otpauth://totp/alice?secret={RFC}&period=thirty",
     "The otpauth link asks for a period these tokens do not support; they take 30 or 60 seconds."),
    (f"otpauth://totp/alice?secret={RFC}&digits=7",
     "The otpauth link asks for a code length these tokens do not support; they take 6 or 8 digits."),
    (f"otpauth://totp/alice?secret={RFC}&digits=%D9%A6",  # Arabic-Indic six: isdigit() but not ASCII
     "The otpauth link asks for a code length these tokens do not support; they take 6 or 8 digits."),
    (f"otpauth://totp/alice?secret={RFC}&algorithm=MD5",
     "The otpauth link asks for an algorithm these tokens do not support; they take SHA1, SHA256 or SHA512."),
]


@pytest.mark.parametrize("text, message", REJECTED)
def test_rejected_inputs_get_one_exact_sentence(text, message):
    with pytest.raises(InvalidInput) as error:
        parse_seed_input(text)
    assert error.value.message == message


@pytest.mark.parametrize("text", [text for text, _ in REJECTED if text.strip()])
def test_no_error_message_repeats_the_input(text):
    with pytest.raises(InvalidInput) as error:
        parse_seed_input(text)
    message = error.value.message.lower()
    assert text.strip().lower() not in message
    for chunk in re.findall(r"[A-Za-z0-9]{10,}", text):  # secrets, serials, codes, tracking ids
        assert chunk.lower() not in message


def test_the_secret_stays_out_of_repr():
    parsed = parse_seed_input(f"otpauth://totp/Contoso:alice?secret={RFC}&issuer=Contoso")
    assert RFC not in repr(parsed) and RFC not in str(parsed)
    assert repr(parsed) == ("ParsedSeed(params=TotpParams(period=30, digits=6, algorithm=<Algorithm.SHA1: 'SHA1'>), "
                            "account='alice', issuer='Contoso')")
