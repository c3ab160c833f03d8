"""Composition root: the only module that knows every concrete class."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from aiohttp import web

from . import web as edge
from .core.policy import AccessPolicy
from .core.window import WindowPolicy
from .handlers import Services
from .settings import Settings

log = logging.getLogger("otpbot.app")
SERVICES = web.AppKey("services", Services)


def create_app(settings: Settings, **overrides: Any) -> web.Application:
    """Builds the aiohttp app. `overrides` replace ports (secrets, directory, state, audit, clock)
    or the authentication object; tests use it, production passes none."""
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[edge.MAX_BODY] = settings.max_body_bytes
    edge.add_routes(app)
    app.cleanup_ctx.append(lambda app: _lifecycle(app, settings, overrides))
    return app


async def _lifecycle(app: web.Application, settings: Settings, overrides: dict):
    from .adapters.teams.adapter import make_adapter  # heavy: imported when the app starts
    from .adapters.teams.bot import OtpBot

    session = aiohttp.ClientSession()
    services = await _services(settings, overrides)
    authentication = overrides.get("authentication") or _authentication(settings, session)
    adapter = make_adapter(authentication)
    app[SERVICES] = services
    app[edge.AUTH] = authentication
    app[edge.ADAPTER] = adapter
    app[edge.BOT] = OtpBot(services)
    log.info("started in %s mode", "local" if settings.local else "production")
    yield
    await authentication.connectors.close()
    await services.secrets.close()
    await session.close()


async def _services(settings: Settings, overrides: dict) -> Services:
    from .adapters.clock import SystemClock

    clock = overrides.get("clock") or SystemClock()
    return Services(
        secrets=overrides.get("secrets") or _secret_store(settings),
        directory=overrides.get("directory") or _directory(settings),
        state=overrides.get("state") or _state(settings),
        audit=overrides.get("audit") or _audit(settings, clock),
        clock=clock,
        access=AccessPolicy(settings.agent_object_ids, settings.tenant_id),
        windows=WindowPolicy(settings.tolerance_30, settings.tolerance_60, settings.max_ahead),
    )


def _secret_store(settings: Settings):
    if settings.local:
        from .adapters.local_store import LocalSecretStore

        return LocalSecretStore(settings.data_dir / "seeds.enc", settings.data_dir / "seeds.key")
    from azure.identity.aio import DefaultAzureCredential

    from .adapters.keyvault import KeyVaultSecretStore

    return KeyVaultSecretStore.from_vault_url(settings.keyvault_url, DefaultAzureCredential(), owns_credential=True)


def _directory(settings: Settings):
    from .adapters.local_directory import LocalDirectory

    return LocalDirectory(settings.directory_file)


def _state(settings: Settings):
    from .adapters.sqlite import SqliteStorage

    return SqliteStorage(settings.data_dir / "state.sqlite")


def _audit(settings: Settings, clock):
    from .adapters.sqlite import SqliteAuditLog

    return SqliteAuditLog(settings.data_dir / "audit.sqlite", clock)


def _authentication(settings: Settings, session: aiohttp.ClientSession):
    from .adapters.teams import auth
    from .adapters.teams.jwt_validation import BotConnectorTokenValidator, OpenIdKeys

    if settings.local:
        return auth.LoopbackAuthentication(settings.tenant_id)
    validator = BotConnectorTokenValidator(settings.app_id, OpenIdKeys(settings.openid_metadata_url, session))
    credentials = auth.production_credentials(settings.app_type, settings.app_id, settings.app_password,
                                              settings.tenant_id)
    return auth.TeamsAuthentication(settings.app_id, settings.tenant_id, validator, credentials)

