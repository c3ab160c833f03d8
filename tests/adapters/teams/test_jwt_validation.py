"""BotConnectorTokenValidator remembers verified tokens: what it still checks on every request, and when it
verifies again. (tests/edge/test_web.py covers the first verification through the real HTTP edge.)"""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest

from bot.adapters.teams import jwt_validation
from bot.adapters.teams.jwt_validation import (VERIFIED_TOKENS_KEPT, AuthenticationFailed,
                                               BotConnectorTokenValidator, SigningKey)
from tests.support.jwt_keys import SigningKey as PublishedKey
from tests.support.jwt_keys import claims, rsa_key, sign

APP_ID = "11111111-2222-4333-8444-555555555555"
SERVICE_URL = "https://smba.trafficmanager.net/emea/"
KEY = PublishedKey("kid-1", rsa_key("teams"), ("msteams",))


class StaticKeys:
    """OpenIdKeys as the validator sees it: kid → SigningKey; `publish` swaps the set, as a refresh does."""

    def __init__(self, *keys: PublishedKey) -> None:
        self.publish(*keys)

    def publish(self, *keys: PublishedKey) -> None:
        self.keys = {k.kid: SigningKey(k.private_key.public_key(), k.endorsements) for k in keys}

    async def get(self, kid: str):
        return self.keys.get(kid)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def decodes(monkeypatch) -> list[str]:
    """Every full verification (jwt.decode) the validator runs, by token."""
    seen: list[str] = []
    real = jwt.decode

    def spy(token, *args, **kwargs):
        seen.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(jwt_validation.jwt, "decode", spy)
    return seen


def make(keys=None, clock=None) -> BotConnectorTokenValidator:
    return BotConnectorTokenValidator(APP_ID, keys or StaticKeys(KEY), clock=clock or Clock())


def bearer(token: str) -> str:
    return f"Bearer {token}"


async def test_a_token_is_verified_once_and_then_recognised(decodes):
    validator = make()
    token = sign(claims(APP_ID, SERVICE_URL), KEY)
    first = await validator.validate(bearer(token), "msteams", SERVICE_URL)
    first["aud"] = "tampered by a caller"
    second = await validator.validate(bearer(token), "msteams", SERVICE_URL)
    assert decodes == [token]
    assert second["aud"] == APP_ID and second["serviceurl"] == SERVICE_URL
    assert validator.remembered_tokens == 1


async def test_a_remembered_token_is_still_bound_to_the_activitys_service_url(decodes):
    validator = make()
    token = sign(claims(APP_ID, SERVICE_URL), KEY)
    await validator.validate(bearer(token), "msteams", SERVICE_URL)
    with pytest.raises(AuthenticationFailed, match="^serviceUrl does not match the token$"):
        await validator.validate(bearer(token), "msteams", "https://attacker.example/")
    assert await validator.validate(bearer(token), "msteams", SERVICE_URL.upper())  # same URL, other case
    assert decodes == [token]


async def test_a_remembered_token_is_still_checked_against_the_keys_endorsements(decodes):
    validator = make()
    token = sign(claims(APP_ID, SERVICE_URL), KEY)
    await validator.validate(bearer(token), "msteams", SERVICE_URL)
    with pytest.raises(AuthenticationFailed, match="^signing key not endorsed for this channel$"):
        await validator.validate(bearer(token), "webchat", SERVICE_URL)
    assert decodes == [token]  # refused from the remembered verification, not by verifying again


async def test_a_remembered_token_expires_with_the_same_leeway_and_is_forgotten(decodes):
    clock = Clock()
    validator = make(clock=clock)
    exp = int(clock.now) + 60
    token = sign(claims(APP_ID, SERVICE_URL, exp=exp), KEY)
    await validator.validate(bearer(token), "msteams", SERVICE_URL)
    clock.now = exp + jwt_validation.CLOCK_SKEW_S  # the last second of the leeway: still accepted
    await validator.validate(bearer(token), "msteams", SERVICE_URL)
    clock.now += 1
    with pytest.raises(AuthenticationFailed, match=r"^token rejected \(ExpiredSignatureError\)$"):
        await validator.validate(bearer(token), "msteams", SERVICE_URL)
    assert validator.remembered_tokens == 0
    assert decodes == [token]


async def test_a_token_whose_key_is_no_longer_published_is_refused():
    keys = StaticKeys(KEY)
    validator = make(keys)
    token = sign(claims(APP_ID, SERVICE_URL), KEY)
    await validator.validate(bearer(token), "msteams", SERVICE_URL)
    keys.publish(PublishedKey("kid-2", rsa_key("next"), ("msteams",)))  # Microsoft rotated kid-1 out
    with pytest.raises(AuthenticationFailed, match="^unknown signing key$"):
        await validator.validate(bearer(token), "msteams", SERVICE_URL)
    assert validator.remembered_tokens == 0


async def test_a_token_is_verified_again_against_a_replaced_key():
    keys = StaticKeys(KEY)
    validator = make(keys)
    token = sign(claims(APP_ID, SERVICE_URL), KEY)
    await validator.validate(bearer(token), "msteams", SERVICE_URL)
    keys.publish(KEY.with_private_key_of(PublishedKey("x", rsa_key("other"), ())))  # same kid, another key
    with pytest.raises(AuthenticationFailed, match=r"^token rejected \(InvalidSignatureError\)$"):
        await validator.validate(bearer(token), "msteams", SERVICE_URL)


async def test_after_a_refresh_of_the_same_keys_the_token_is_verified_once_more(decodes):
    keys = StaticKeys(KEY)
    validator = make(keys)
    token = sign(claims(APP_ID, SERVICE_URL), KEY)
    await validator.validate(bearer(token), "msteams", SERVICE_URL)
    keys.publish(KEY)  # a daily refresh builds new key objects
    await validator.validate(bearer(token), "msteams", SERVICE_URL)
    await validator.validate(bearer(token), "msteams", SERVICE_URL)
    assert decodes == [token, token]


async def test_refused_tokens_are_not_remembered(decodes):
    validator = make()
    forged = sign(claims(APP_ID, SERVICE_URL), KEY.with_private_key_of(PublishedKey("x", rsa_key("other"), ())))
    wrong_url = sign(claims(APP_ID, "https://attacker.example/"), KEY)
    for token in (forged, forged, wrong_url, wrong_url):
        with pytest.raises(AuthenticationFailed):
            await validator.validate(bearer(token), "msteams", SERVICE_URL)
    assert decodes == [forged, forged, wrong_url, wrong_url]
    assert validator.remembered_tokens == 0


async def test_the_number_of_remembered_tokens_is_bounded(decodes):
    validator = make()
    tokens = [sign(claims(APP_ID, SERVICE_URL, jti=str(n)), KEY) for n in range(VERIFIED_TOKENS_KEPT + 4)]
    for token in tokens:
        await validator.validate(bearer(token), "msteams", SERVICE_URL)
    assert validator.remembered_tokens == VERIFIED_TOKENS_KEPT
    await validator.validate(bearer(tokens[-1]), "msteams", SERVICE_URL)  # the newest is kept
    await validator.validate(bearer(tokens[0]), "msteams", SERVICE_URL)  # the oldest was let go
    assert decodes == tokens + [tokens[0]]

    # Re-using a token moves it to the back: the least recently used one is let go, not the oldest one.
    validator, fresh = make(), tokens[:VERIFIED_TOKENS_KEPT]
    for token in fresh:
        await validator.validate(bearer(token), "msteams", SERVICE_URL)
    decodes.clear()
    await validator.validate(bearer(fresh[0]), "msteams", SERVICE_URL)  # remembered: now the most recent
    await validator.validate(bearer(tokens[VERIFIED_TOKENS_KEPT]), "msteams", SERVICE_URL)  # one more: evicts one
    assert validator.remembered_tokens == VERIFIED_TOKENS_KEPT
    await validator.validate(bearer(fresh[0]), "msteams", SERVICE_URL)  # still remembered
    await validator.validate(bearer(fresh[1]), "msteams", SERVICE_URL)  # let go: verified again
    assert decodes == [tokens[VERIFIED_TOKENS_KEPT], fresh[1]]


async def test_concurrent_requests_while_the_keys_refresh_and_the_token_expires_get_401s_not_a_crash():
    clock, release = Clock(), asyncio.Event()

    class SlowKeys(StaticKeys):
        async def get(self, kid):
            await release.wait()  # a metadata refresh in progress
            return self.keys.get(kid)

    keys = SlowKeys(KEY)
    validator = make(keys, clock)
    token = sign(claims(APP_ID, SERVICE_URL, exp=int(clock.now) + 60), KEY)
    release.set()
    await validator.validate(bearer(token), "msteams", SERVICE_URL)
    release.clear()
    first = asyncio.create_task(validator.validate(bearer(token), "msteams", SERVICE_URL))
    second = asyncio.create_task(validator.validate(bearer(token), "msteams", SERVICE_URL))
    await asyncio.sleep(0)
    clock.now += 60 + jwt_validation.CLOCK_SKEW_S + 1
    release.set()
    outcomes = await asyncio.gather(first, second, return_exceptions=True)
    assert [str(o) for o in outcomes] == ["token rejected (ExpiredSignatureError)"] * 2
    assert all(isinstance(o, AuthenticationFailed) for o in outcomes)
