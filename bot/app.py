"""Composition root: the only module that knows every concrete class."""

from __future__ import annotations

import gc
import logging
from typing import Any

_collecting = gc.isenabled()
gc.disable()  # while the SDKs load: see _startup
try:
    import aiohttp
    from aiohttp import web

    from . import web as edge
    from .core.policy import AllowListRoles, Authorizer
    from .core.text import EscapedDirectory
    from .core.window import WindowPolicy
    from .handlers import Services
    from .handlers.checkpoint import INTERVAL_S as CHECKPOINT_INTERVAL_S
    from .handlers.checkpoint import checkpoint
    from .handlers.expiry import expire_due
    from .runtime.periodic import Periodic
    from .runtime.readiness import Readiness
    from .settings import Settings
finally:
    gc.freeze()  # what these imports made lives as long as the process
    if _collecting:
        gc.enable()

log = logging.getLogger("otpbot.app")
SERVICES = web.AppKey("services", Services)
STATE_CONTAINER, AUDIT_TABLE = "botstate", "audit"  # created by infra/modules/storage.bicep
EXPIRY_INTERVAL_S = 20  # codes live about 90 s after their step; 20 s keeps "expired" timely


def create_app(settings: Settings, **overrides: Any) -> web.Application:
    """Builds the aiohttp app. `overrides` replace ports (secrets, directory, state, audit, clock,
    coordination, notifier, roles, mailer) or the authentication object; tests use it, production passes none."""
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[edge.MAX_BODY] = settings.max_body_bytes
    edge.add_routes(app)
    app.cleanup_ctx.append(lambda app: _startup(_lifecycle(app, settings, overrides)))
    return app


async def _startup(lifecycle):
    """Runs `lifecycle` with the garbage collector paused while the app is composed, then freezes the heap.

    Loading botbuilder, msrest and azure allocates tens of thousands of objects that live as long as the process;
    collecting while they load only walks them again and again (~0.15 s of a ~1 s start, measured by the bench).
    So collection is paused while they load (here and around this module's own imports) and resumed after."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        await lifecycle.__anext__()
        _freeze_startup_heap()
    finally:
        if collecting:
            gc.enable()
    yield
    async for _ in lifecycle:  # the cleanup after its yield
        raise RuntimeError("the lifecycle has more than one yield")


async def _lifecycle(app: web.Application, settings: Settings, overrides: dict):
    from .adapters.teams.bot import OtpBot  # heavy (botbuilder): imported when the app starts
    from .adapters.teams.notifier import TeamsNotifier
    from .adapters.teams.turn import TurnRunner
    from .runtime.sweep_schedule import start_sweeper

    session = aiohttp.ClientSession()
    credential = None if settings.local else _LazyDefaultAzureCredential()  # one identity, one token cache
    graph = _graph(session, credential) if settings.uses_graph and not overrides.get("graph_off") else None
    authentication = overrides.get("authentication") or _authentication(settings, session)
    notifier = overrides.get("notifier") or TeamsNotifier(authentication.connectors, f"28:{settings.app_id}",
                                                          settings.tenant_id, settings.service_url)
    services = _services(settings, overrides, notifier, graph, credential)
    sweeper = start_sweeper(services, overrides.get("lifecycle"))  # lifecycle settings; the daily sweep
    app[SERVICES] = services
    app[edge.READINESS] = Readiness(services)
    app.on_shutdown.append(lambda app: _drain(services))
    app[edge.AUTH] = authentication
    app[edge.TURNS] = TurnRunner(authentication.connectors)
    app[edge.BOT] = OtpBot(services, notifier if isinstance(notifier, TeamsNotifier) else None)
    log.info("started in %s mode", "local" if settings.local else "production")
    expiries = Periodic("expire-delivered-codes", EXPIRY_INTERVAL_S, lambda: expire_due(services))
    checkpoints = Periodic("audit-checkpoint", CHECKPOINT_INTERVAL_S, lambda: checkpoint(services))
    yield
    await expiries.stop()
    await checkpoints.stop()
    try:  # the last records of this run covered too
        await checkpoint(services)
    except Exception as error:
        log.error("final audit checkpoint failed: %s", type(error).__name__)
    await sweeper.stop()
    await authentication.connectors.close()
    for resource in (services.secrets, services.state, services.coordination, services.audit, services.sms,
                     services.checkpoints, graph, credential):
        await close_resource(resource)
    await session.close()


def _freeze_startup_heap() -> None:
    """Once per process, when the first app has started: move everything built so far (the SDKs' modules,
    the composed app) out of the garbage collector's sight. Those objects live as long as the process, yet
    every full collection walked them all (tens of ms each, on the loop, under load); now it walks only
    what turns allocate. Nothing changes for objects made later."""
    global _heap_frozen
    if not _heap_frozen:
        _heap_frozen = True
        gc.freeze()


_heap_frozen = False


async def _drain(services: Services) -> None:
    # aiohttp calls on_shutdown after it stops accepting connections and before it waits for
    # in-flight requests: those finish, but none of them starts a new release.
    services.draining = True
    log.info("shutting down: finishing in-flight turns, starting no new release")


async def close_resource(resource) -> None:
    close = getattr(resource, "close", None)
    if close is not None:
        result = close()
        if hasattr(result, "__await__"):
            await result


def _services(settings: Settings, overrides: dict, notifier, graph, credential) -> Services:
    from .adapters.clock import SystemClock

    clock = overrides.get("clock") or SystemClock()
    roles = overrides.get("roles") or _roles(settings, graph)
    shared = _azure_storage(settings, clock, credential) if settings.storage_account_url else {}
    return Services(
        secrets=overrides.get("secrets") or _secret_store(settings, credential),
        # display names reach cards and messages: escaped for Teams markdown once, here
        directory=EscapedDirectory(overrides.get("directory") or _directory(settings, graph)),
        state=overrides.get("state") or shared.get("state") or _state(settings),
        audit=overrides.get("audit") or shared.get("audit") or _audit(settings, clock),
        clock=clock,
        authorizer=Authorizer(roles, clock, settings.tenant_id, settings.allowed_channel_ids),
        coordination=overrides.get("coordination") or shared.get("coordination") or _coordination(settings, clock),
        notifier=notifier,
        windows=WindowPolicy(settings.tolerance_30, settings.tolerance_60, settings.max_ahead),
        proofs=settings.proofs,
        limits=settings.limits,
        delivery=settings.delivery,
        alerts_conversation=settings.alerts_conversation_id or None,
        mailer=overrides.get("mailer") or _mailer(settings, graph),
        sms=overrides.get("sms") or _sms(settings, clock, credential),
        countries=overrides.get("countries") or _countries(settings, graph),
        organisation=settings.organisation or "Contoso",
        checkpoints=overrides["checkpoints"] if "checkpoints" in overrides else build_checkpoints(settings, credential),
    )


def _sms(settings: Settings, clock, credential):
    """Local mode: the outbox file and the terminal. Production: Azure Communication Services, when configured."""
    if settings.local:
        from .adapters.sms_outbox import OUTBOX_NAME, SmsOutbox

        return SmsOutbox(settings.data_dir / OUTBOX_NAME, clock)
    if not settings.acs_endpoint:
        return None

    def acs():
        from .adapters.acs_sms import AcsSmsSender

        return AcsSmsSender.from_endpoint(settings.acs_endpoint, settings.sms_from, credential)

    return _OnFirstUse(acs)


def _countries(settings: Settings, graph):
    from .core.countries import FixedCountries, TenantCountry

    if settings.sms_countries is not None or graph is None:
        return FixedCountries(settings.sms_countries or frozenset())
    from .adapters.graph import tenant_country

    return TenantCountry(lambda: tenant_country(graph))


def _roles(settings: Settings, graph):
    if settings.agent_group_id:
        from .adapters.graph import GraphGroupMembership
        from .adapters.group_roles import GroupRoles

        return GroupRoles(GraphGroupMembership(graph), settings.agent_group_id, settings.lead_group_id,
                          settings.privileged_group_ids)
    return AllowListRoles(settings.agent_object_ids, settings.lead_object_ids, settings.privileged_object_ids)


def _secret_store(settings: Settings, credential):
    if settings.local:
        from .adapters.local_store import LocalSecretStore

        return LocalSecretStore(settings.data_dir / "seeds.sqlite", settings.data_dir / "seeds.key")

    def key_vault():
        from .adapters.keyvault import KeyVaultSecretStore

        return KeyVaultSecretStore.from_vault_url(settings.keyvault_url, credential)

    return _OnFirstUse(key_vault)


class _OnFirstUse:
    """A port built when it is first used. For Key Vault: nothing needs the SDK (~35 ms to import) before the
    first seed is read, so the start does not wait for it. Its attributes are the built store's own; close()
    closes the store only if it was built."""

    def __init__(self, build) -> None:
        self._build, self._built = build, None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # ours are set in __init__; never build for introspection
            raise AttributeError(name)
        if self._built is None:
            self._built = self._build()
        return getattr(self._built, name)

    async def close(self) -> None:
        if self._built is not None:
            await self._built.close()


class _LazyDefaultAzureCredential:
    """DefaultAzureCredential, imported and built when a client first asks for a token: azure.identity
    (with msal) takes ~0.1 s to import, which would otherwise delay /healthz at every start. One instance
    serves Key Vault, Graph and Storage, so the managed identity has one token cache. Its methods are
    DefaultAzureCredential's own (get_token_info too, which Key Vault's policy prefers when present)."""

    def __init__(self) -> None:
        self._credential = None

    def _built(self):
        if self._credential is None:
            from azure.identity.aio import DefaultAzureCredential

            self._credential = DefaultAzureCredential()
        return self._credential

    async def get_token(self, *scopes: str, **kwargs: Any):
        return await self._built().get_token(*scopes, **kwargs)

    async def get_token_info(self, *scopes: str, options=None):
        return await self._built().get_token_info(*scopes, options=options)

    async def close(self) -> None:
        if self._credential is not None:
            await self._credential.close()

    async def __aenter__(self) -> "_LazyDefaultAzureCredential":
        return self

    async def __aexit__(self, *exc_details: Any) -> None:
        await self.close()


def _graph(session: aiohttp.ClientSession, credential):
    from .adapters.graph import GraphClient

    return GraphClient(session, credential)


def _directory(settings: Settings, graph):
    if settings.directory_file is None:
        from .adapters.graph import GraphDirectory

        return GraphDirectory(graph)
    from .adapters.local_directory import LocalDirectory

    return LocalDirectory(settings.directory_file)


def _mailer(settings: Settings, graph):
    if not settings.mail_sender or graph is None:
        return None
    from .adapters.graph import GraphMailer

    return GraphMailer(graph, settings.mail_sender)


def _state(settings: Settings):
    from .adapters.sqlite import SqliteStorage

    return SqliteStorage(settings.data_dir / "state.sqlite")


def _coordination(settings: Settings, clock):
    from .adapters.sqlite import SqliteCoordination

    return SqliteCoordination(settings.data_dir / "state.sqlite", clock)


def _azure_storage(settings: Settings, clock, credential) -> dict:
    """Several instances share state through Azure Storage, with the managed identity (no keys)."""
    from .adapters.azure_storage import BlobCoordination, BlobStorage, container_client

    blobs = container_client(settings.storage_account_url, STATE_CONTAINER, credential)
    return {"state": BlobStorage(blobs), "coordination": BlobCoordination(blobs, clock),
            "audit": _table_audit(settings, clock, credential)}


def _table_audit(settings: Settings, clock, credential, owns_credential: bool = False):
    from .adapters.azure_audit import TableAuditLog

    return TableAuditLog.from_account_url(settings.table_account_url, AUDIT_TABLE, credential, clock,
                                          owns_credential=owns_credential)


def build_checkpoints(settings: Settings, credential=None):
    """Where audit checkpoints live: Key Vault (the audit store's writers hold no role there), or locally a file
    sealed with its own key (local mode, or a CLI run given no vault). The CLI closes it when done."""
    if settings.local or not settings.keyvault_url:
        from .adapters.audit_checkpoints import LocalCheckpoints

        return LocalCheckpoints(settings.data_dir / "audit-checkpoint.json", settings.data_dir / "audit-checkpoint.key")

    def key_vault():
        from azure.keyvault.secrets.aio import SecretClient

        from .adapters.audit_checkpoints import KeyVaultCheckpoints
        from .adapters.azure_sdk import env_proxy_options
        from .adapters.keyvault import client_options

        client = SecretClient(settings.keyvault_url, credential or _LazyDefaultAzureCredential(),
                              **{**client_options(), **env_proxy_options(settings.keyvault_url)})
        return KeyVaultCheckpoints(client)

    return _OnFirstUse(key_vault)


def build_audit(settings: Settings, clock):
    """The audit log alone, for the CLI; close it when done."""
    if settings.table_account_url:
        return _table_audit(settings, clock, _LazyDefaultAzureCredential(), owns_credential=True)
    return _audit(settings, clock)


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
    return auth.TeamsAuthentication(settings.tenant_id, validator, credentials)
