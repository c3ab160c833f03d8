"""Validates Bot Connector tokens ourselves.

The SDK's validator fetches OpenID metadata with blocking `requests` calls and no timeout, and
turns garbage, `alg=none`, wrong-key and unknown-kid tokens into 500s. Here every failure is an
AuthenticationFailed (→ 401), the metadata is fetched with aiohttp under a deadline, and the
serviceUrl claim is bound to the activity.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from dataclasses import dataclass

import aiohttp
import jwt
from jwt.algorithms import RSAAlgorithm

BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
CLOCK_SKEW_S = 300  # Bot Framework's own allowance
METADATA_TTL_S = 24 * 3600
UNKNOWN_KID_REFRESH_S = 300  # a flood of random kids must not turn into a flood of fetches


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


class BotConnectorTokenValidator:
    def __init__(self, app_id: str, keys: OpenIdKeys) -> None:
        self._app_id = app_id
        self._keys = keys

    async def validate(self, auth_header: str, channel_id: str, service_url: str) -> dict:
        scheme, _, token = (auth_header or "").partition(" ")
        if scheme != "Bearer" or not token:
            raise AuthenticationFailed("missing bearer token")
        try:
            alg, kid = _header_of(token)
        except jwt.PyJWTError:
            raise AuthenticationFailed("malformed token") from None
        if alg != "RS256":
            raise AuthenticationFailed("token algorithm not allowed")
        key = await self._keys.get(kid)
        if key is None:
            raise AuthenticationFailed("unknown signing key")
        if key.endorsements and channel_id not in key.endorsements:
            raise AuthenticationFailed("signing key not endorsed for this channel")
        try:
            claims = jwt.decode(token, key.public_key, algorithms=["RS256"], audience=self._app_id,
                                issuer=BOT_FRAMEWORK_ISSUER, leeway=CLOCK_SKEW_S,
                                options={"require": ["exp", "aud", "iss"]})
        except jwt.PyJWTError as error:
            raise AuthenticationFailed(f"token rejected ({type(error).__name__})") from None
        claimed_url = claims.get("serviceurl")
        if not isinstance(claimed_url, str) or not claimed_url:
            raise AuthenticationFailed("token has no serviceurl claim")
        if _norm_url(claimed_url) != _norm_url(service_url):
            raise AuthenticationFailed("serviceUrl does not match the token")
        return claims


@functools.lru_cache(maxsize=256)
def _header_of(token: str) -> tuple[object, str]:
    """(alg, kid) from the token's header, unverified: it only picks the key; jwt.decode then parses and checks
    the whole token again, every time. The Bot Connector sends one token for up to an hour, and each PyJWT
    parse scans every byte of the token in Python (~0.1 ms here), so the last headers are remembered.
    Failures are not cached; 256 entries of ~1 KB bound what a flood of different tokens can hold."""
    header = jwt.get_unverified_header(token)
    return header.get("alg"), str(header.get("kid", ""))


def _norm_url(url: str) -> str:
    return (url or "").rstrip("/").lower()
