"""Validates Bot Connector tokens ourselves.

The SDK's validator fetches OpenID metadata with blocking `requests` calls and no timeout, and
turns garbage, `alg=none`, wrong-key and unknown-kid tokens into 500s. Here every failure is an
AuthenticationFailed (→ 401), the metadata is fetched with aiohttp under a deadline, and the
serviceUrl claim is bound to the activity.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import aiohttp
import jwt
from jwt.algorithms import RSAAlgorithm

BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
CLOCK_SKEW_S = 300  # Bot Framework's own allowance
METADATA_TTL_S = 24 * 3600
UNKNOWN_KID_REFRESH_S = 300  # a flood of random kids must not turn into a flood of fetches
VERIFIED_TOKENS_KEPT = 256  # the Bot Connector reuses a token for up to an hour; a few per channel/region


class AuthenticationFailed(Exception):
    """The request is not from the Bot Connector for this bot. The reason is safe to log."""


@dataclass(frozen=True)
class SigningKey:
    public_key: object
    endorsements: tuple[str, ...]


class OpenIdKeys:
    def __init__(self, metadata_url: str, session: aiohttp.ClientSession, timeout_s: float = 5.0) -> None:
        self._url = metadata_url
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._keys: dict[str, SigningKey] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        self._attempts_done = 0

    async def get(self, kid: str) -> SigningKey | None:
        if self._stale(kid):
            await self._refresh(kid)
        return self._keys.get(kid)

    def _stale(self, kid: str) -> bool:
        age = time.monotonic() - self._fetched_at
        return not self._keys or age > METADATA_TTL_S or (kid not in self._keys and age > UNKNOWN_KID_REFRESH_S)

    async def _refresh(self, kid: str) -> None:
        attempts_seen = self._attempts_done
        async with self._lock:
            if not self._stale(kid):
                return  # refreshed by a concurrent request while this one waited
            if self._attempts_done != attempts_seen:
                # A fetch ran and failed while this request waited: don't queue another fetch (and timeout).
                if self._keys:
                    return
                raise AuthenticationFailed("OpenID metadata unavailable (a concurrent fetch failed)")
            try:
                await self._fetch()
            finally:
                self._attempts_done += 1

    async def _fetch(self) -> None:
        try:
            async with self._session.get(self._url, timeout=self._timeout) as response:
                response.raise_for_status()
                jwks_uri = (await response.json(content_type=None))["jwks_uri"]
            async with self._session.get(str(jwks_uri), timeout=self._timeout) as response:
                response.raise_for_status()
                keys = (await response.json(content_type=None))["keys"]
            if not isinstance(keys, list):
                raise TypeError("keys is not a list")
        except (aiohttp.ClientError, asyncio.TimeoutError, KeyError, TypeError, ValueError) as error:
            if self._keys:
                return  # keep serving the keys we have
            raise AuthenticationFailed(f"OpenID metadata unavailable ({type(error).__name__})") from None
        self._keys = dict(filter(None, (_signing_key(k) for k in keys)))
        self._fetched_at = time.monotonic()


def _signing_key(jwk: object) -> tuple[str, SigningKey] | None:
    """One JWKS entry as (kid, key); None for anything that is not a usable RSA key (skipped, not fatal)."""
    if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or not isinstance(jwk.get("kid"), str):
        return None
    endorsements = jwk.get("endorsements", [])
    if not isinstance(endorsements, list) or not all(isinstance(e, str) for e in endorsements):
        return None
    try:
        public_key = RSAAlgorithm.from_jwk(json.dumps(jwk))
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        return None
    return jwk["kid"], SigningKey(public_key, tuple(endorsements))


@dataclass(frozen=True)
class _Verified:
    claims: dict
    kid: str
    key: SigningKey
    not_after: float  # exp + leeway


class BotConnectorTokenValidator:
    """Checks the token of every request. A token whose signature and static claims (issuer, audience,
    expiry) were verified is remembered, keyed by its exact text, as long as it is unexpired and its key is
    still the one published: verifying the same bytes with the same key gives the same answer, and RSA plus
    PyJWT's parsing were the largest CPU cost of a turn (docs/performance.md). What depends on the request
    is checked every time: the channel's endorsement, the serviceUrl, and the expiry against the clock.
    Only successes are remembered, so a flood of forged tokens costs a verification each and evicts nothing."""

    def __init__(self, app_id: str, keys: OpenIdKeys, *, clock: Callable[[], float] = time.time) -> None:
        self._app_id = app_id
        self._keys = keys
        self._clock = clock
        self._verified: OrderedDict[str, _Verified] = OrderedDict()

    @property
    def remembered_tokens(self) -> int:
        return len(self._verified)

    async def validate(self, auth_header: str, channel_id: str, service_url: str) -> dict:
        scheme, _, token = (auth_header or "").partition(" ")
        if scheme != "Bearer" or not token:
            raise AuthenticationFailed("missing bearer token")
        verified = await self._remembered(token)
        if verified is None:
            verified = await self._verify(token)
        if verified.key.endorsements and channel_id not in verified.key.endorsements:
            raise AuthenticationFailed("signing key not endorsed for this channel")
        claimed_url = verified.claims.get("serviceurl")
        if not isinstance(claimed_url, str) or not claimed_url:
            raise AuthenticationFailed("token has no serviceurl claim")
        if _norm_url(claimed_url) != _norm_url(service_url):
            raise AuthenticationFailed("serviceUrl does not match the token")
        self._remember(token, verified)
        return dict(verified.claims)

    async def _remembered(self, token: str) -> _Verified | None:
        verified = self._verified.get(token)
        if verified is None:
            return None
        current_key = await self._keys.get(verified.kid)  # may await a refresh: check everything after it
        if self._clock() > verified.not_after:
            self._verified.pop(token, None)
            raise AuthenticationFailed("token rejected (ExpiredSignatureError)")
        if current_key is not verified.key:  # rotated or refreshed: verify again
            self._verified.pop(token, None)
            return None
        if token in self._verified:
            self._verified.move_to_end(token)
        return verified

    async def _verify(self, token: str) -> _Verified:
        try:
            alg, kid = _header_of(token)
        except jwt.PyJWTError:
            raise AuthenticationFailed("malformed token") from None
        if alg != "RS256":
            raise AuthenticationFailed("token algorithm not allowed")
        key = await self._keys.get(kid)
        if key is None:
            raise AuthenticationFailed("unknown signing key")
        try:
            claims = jwt.decode(token, key.public_key, algorithms=["RS256"], audience=self._app_id,
                                issuer=BOT_FRAMEWORK_ISSUER, leeway=CLOCK_SKEW_S,
                                options={"require": ["exp", "aud", "iss"]})
        except jwt.PyJWTError as error:
            raise AuthenticationFailed(f"token rejected ({type(error).__name__})") from None
        return _Verified(claims, kid, key, float(claims["exp"]) + CLOCK_SKEW_S)

    def _remember(self, token: str, verified: _Verified) -> None:
        if token in self._verified:
            return
        self._verified[token] = verified
        while len(self._verified) > VERIFIED_TOKENS_KEPT:
            self._verified.popitem(last=False)


def _header_of(token: str) -> tuple[object, str]:
    """(alg, kid) from the token's header, unverified: it only picks the key; jwt.decode checks the rest."""
    header = jwt.get_unverified_header(token)
    return header.get("alg"), str(header.get("kid", ""))


def _norm_url(url: str) -> str:
    return (url or "").rstrip("/").lower()
