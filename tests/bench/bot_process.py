"""The bot in its own process, composed as production composes it, except for two bench-only stand-ins:

- seeds: the real `KeyVaultSecretStore` + azure `SecretClient`, pointed at the bench's Key Vault emulator
  (loopback TLS) with a stub credential instead of DefaultAzureCredential;
- the bot's *outbound* Bot Framework token: `MicrosoftAppCredentials.get_access_token` returns a fixed token
  (MSAL would call login.microsoftonline.com), as tests/edge/test_web.py does.

Everything else is `Settings.from_env` (production mode: JWT validation against the OpenID metadata URL
in OTPBOT_OPENID_METADATA_URL, SQLite state/audit with fsync, the CSV directory) and `create_app`.

    BENCH_PORT=8123 BENCH_KV_URL=https://127.0.0.1:port SSL_CERT_FILE=kv-cert.pem python -m tests.bench.bot_process
"""

from __future__ import annotations

import os
import time

OUTBOUND_TOKEN = "bench-outbound-token"


class StubCredential:
    """An async token credential handing out a fixed Key Vault token (the emulator accepts any bearer)."""

    async def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken

        return AccessToken("bench-kv-token", int(time.time()) + 3600)

    async def close(self) -> None:
        pass


def _stub_outbound_token() -> None:
    from botframework.connector.auth import MicrosoftAppCredentials

    def get_access_token(self, force_refresh: bool = False) -> str:
        return OUTBOUND_TOKEN

    MicrosoftAppCredentials.get_access_token = get_access_token


def _gc_stats() -> None:
    """BENCH_GC_STATS=1: time the garbage collector; printed to the process log at exit (a diagnostic)."""
    import atexit
    import gc
    import sys

    spent, started = [[0, 0.0], [0, 0.0], [0, 0.0]], [0.0]

    def timer(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            spent[info["generation"]][0] += 1
            spent[info["generation"]][1] += time.perf_counter() - started[0]

    gc.callbacks.append(timer)
    atexit.register(lambda: print("gc: " + ", ".join(f"gen{g} {n} runs {t * 1000:.0f} ms" for g, (n, t)
                                                      in enumerate(spent)), file=sys.stderr, flush=True))


def main() -> None:
    from aiohttp import web

    from bot.adapters.keyvault import KeyVaultSecretStore
    from bot.app import create_app
    from bot.runtime.logs import configure_logging
    from bot.settings import Settings

    if os.environ.get("INSTR"):
        import instr; instr.patch()
    if os.environ.get("BENCH_GC_STATS"):
        _gc_stats()
    configure_logging(os.environ.get("OTPBOT_LOG_LEVEL", "INFO"))  # as production
    settings = Settings.from_env(os.environ)
    # The emulator's certificate is trusted through SSL_CERT_FILE (set by the bench for this process), so the
    # client keeps its production default, verify=True. A CA path in `connection_verify` (as the tests pass)
    # makes azure-core build a new SSLContext per request, which defeats aiohttp's connection pool: a TLS
    # handshake on every Key Vault read, which production does not pay.
    secrets = KeyVaultSecretStore.from_vault_url(
        os.environ["BENCH_KV_URL"], StubCredential(), verify_challenge_resource=False, api_version="7.6")
    app = create_app(settings, secrets=secrets)
    if os.environ.get("BENCH_WAITS"):
        from tests.bench import waits

        waits.install(app)

    async def stub_token(app: web.Application) -> None:  # after create_app's startup imported botframework
        _stub_outbound_token()

    app.on_startup.append(stub_token)
    web.run_app(app, host="127.0.0.1", port=int(os.environ["BENCH_PORT"]), print=None, access_log=None)


if __name__ == "__main__":
    main()
