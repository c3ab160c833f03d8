"""Test-time Bot Connector signing keys, tokens, and a local OpenID metadata + JWKS server.

Keys are generated when the tests run (nothing secret is checked in). Tokens are signed with PyJWT,
except the two forgeries PyJWT refuses to make (`alg=none` with a kid, HS256 keyed with a PEM), which
are assembled by hand so the validator sees exactly what an attacker would send.
"""

from __future__ import annotations

import base64
import hashlib
import asyncio
import hmac
import json
import time
from dataclasses import dataclass, field
from functools import lru_cache

import jwt
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
METADATA_PATH = "/v1/.well-known/openidconfiguration"
JWKS_PATH = "/v1/.well-known/keys"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey
    endorsements: tuple[str, ...]

    @property
    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def jwk(self) -> dict:
        """The key as the Bot Framework JWKS publishes it: RSA public key, kid, channel endorsements."""
        key = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        return {**key, "kid": self.kid, "use": "sig", "endorsements": list(self.endorsements)}

    def with_private_key_of(self, other: "SigningKey") -> "SigningKey":
        """Same kid and endorsements, someone else's private key: a forgery."""
        return SigningKey(self.kid, other.private_key, self.endorsements)


@lru_cache(maxsize=None)
def rsa_key(name: str) -> rsa.RSAPrivateKey:
    """One 2048-bit key per name per test session (generation takes tens of milliseconds)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def claims(app_id: str, service_url: str, **overrides) -> dict:
    """Claims of a Bot Connector → bot token, valid for an hour from now."""
    now = int(time.time())
    base = {"iss": BOT_FRAMEWORK_ISSUER, "aud": app_id, "serviceurl": service_url,
            "nbf": now - 60, "iat": now - 60, "exp": now + 3600}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}  # an override of None drops the claim


def sign(payload: dict, key: SigningKey, **header) -> str:
    return jwt.encode(payload, key.private_key, algorithm="RS256", headers={"kid": key.kid, **header})


def unsigned(payload: dict, kid: str) -> str:
    """`alg: none`, no signature."""
    return f"{_b64json({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_b64json(payload)}."


def hs256_keyed_with(payload: dict, secret: bytes, kid: str) -> str:
    """Algorithm confusion: an HMAC token whose secret is the verifier's *public* key."""
    signing_input = f"{_b64json({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_b64json(payload)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def _b64json(value: dict) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class OpenIdServer:
    """Serves OpenID metadata and a JWKS on 127.0.0.1 and counts every fetch.

    `metadata_override` / `jwks_override`: a web.Response factory used instead of the real answer
    (to play an outage or a broken document); `delay_s`: how long the metadata answer takes."""

    keys: list[SigningKey]
    hits: dict[str, int] = field(default_factory=lambda: {"metadata": 0, "jwks": 0})
    metadata_override: object = None
    jwks_override: object = None
    delay_s: float = 0.0
    server: TestServer | None = None

    @property
    def metadata_url(self) -> str:
        return str(self.server.make_url(METADATA_PATH))

    async def start(self) -> "OpenIdServer":
        app = web.Application()
        app.router.add_get(METADATA_PATH, self._metadata)
        app.router.add_get(JWKS_PATH, self._jwks)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return self

    async def close(self) -> None:
        await self.server.close()

    async def _metadata(self, request: web.Request) -> web.Response:
        self.hits["metadata"] += 1
        await asyncio.sleep(self.delay_s)
        if self.metadata_override:
            return self.metadata_override()
        return web.json_response({"issuer": BOT_FRAMEWORK_ISSUER, "jwks_uri": str(self.server.make_url(JWKS_PATH)),
                                  "id_token_signing_alg_values_supported": ["RS256"]})

    async def _jwks(self, request: web.Request) -> web.Response:
        self.hits["jwks"] += 1
        if self.jwks_override:
            return self.jwks_override()
        return web.json_response({"keys": [k.jwk() for k in self.keys]})
