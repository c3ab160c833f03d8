"""Seeds in Azure Key Vault: one secret per token, named `totp-<objectId>`, value = base32 seed, metadata in tags.

Every call runs under a hard deadline with capped retries, because azure-core's defaults (10 retries, 300 s
timeouts, Retry-After honoured however long) would overrun Teams' ~15 s turn budget. Error mapping:

    404                                   -> SeedNotFound
    429, 5xx, 401/403, timeout, network   -> DependencyUnavailable (a sentence for the agent)
    409 (name held by a soft-deleted one) -> SeedUnusable
    missing/garbled tags or value         -> SeedUnusable
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, TypeVar

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.keyvault.secrets import SecretProperties
from azure.keyvault.secrets.aio import SecretClient

from bot.adapters.azure_sdk import CappedRetryPolicy, env_proxy_options
from bot.core.errors import DependencyUnavailable, SeedNotFound, SeedUnusable
from bot.core.models import ALLOWED_DIGITS, ALLOWED_PERIODS, Algorithm, Seed, TokenStatus, TotpParams

log = logging.getLogger("otpbot." + __name__.removeprefix("bot."))  # under "otpbot": exported
T = TypeVar("T")

CONTENT_TYPE = "application/vnd.otpbot.totp-seed"
DEFAULT_DEADLINE = 3.0
LIST_DEADLINE_FACTOR = 3  # per page of a listing (25 secrets)
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_BASE32 = re.compile(r"[A-Z2-7]{16,}")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NO_CODE = "no code was released"


def secret_name(object_id: str) -> str:
    """`totp-<objectId>`; only a GUID is accepted, so names cannot collide or carry anything else."""
    if not isinstance(object_id, str) or not _GUID.fullmatch(object_id):
        raise ValueError("An Entra object id must be a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx).")
    return f"totp-{object_id.lower()}"


def client_options(deadline: float = DEFAULT_DEADLINE) -> dict[str, Any]:
    """SecretClient keyword arguments that keep one call inside `deadline` seconds."""
    return {
        "retry_policy": CappedRetryPolicy(
            retry_total=2, retry_backoff_factor=0.2, retry_backoff_max=1, max_retry_after=1.0, timeout=deadline
        ),
        "connection_timeout": min(1.0, deadline / 3),
        "read_timeout": deadline / 2,
        "logging_enable": False,  # True would make azure-core log request and response bodies, seeds included
    }


class KeyVaultSecretStore:
    """SecretStore on Azure Key Vault. Tests pass their own SecretClient; production uses from_vault_url."""

    def __init__(
        self,
        client: SecretClient,
        *,
        deadline: float = DEFAULT_DEADLINE,
        credential: AsyncTokenCredential | None = None,
    ) -> None:
        self._client = client
        self._deadline = deadline
        self._credential = credential  # closed with the store when given

    @classmethod
    def from_vault_url(
        cls,
        vault_url: str,
        credential: AsyncTokenCredential,
        *,
        deadline: float = DEFAULT_DEADLINE,
        owns_credential: bool = False,
        **client_kwargs: Any,
    ) -> "KeyVaultSecretStore":
        options = {**client_options(deadline), **env_proxy_options(vault_url), **client_kwargs}
        client = SecretClient(vault_url, credential, **options)
        return cls(client, deadline=deadline, credential=credential if owns_credential else None)

    async def close(self) -> None:
        await self._client.close()
        if self._credential is not None:
            await self._credential.close()

    async def get_seed(self, object_id: str) -> Seed:
        name = secret_name(object_id)

        async def read() -> Seed:
            try:
                secret = await self._client.get_secret(name)
            except HttpResponseError as exc:
                if not _is_disabled_refusal(exc):
                    raise
                # Key Vault never returns a disabled secret's value; report the seed with its metadata only.
                return _seed_from(name, "", await self._latest_properties(name))
            return _seed_from(name, secret.value or "", secret.properties)

        return await self._run(read, object_id, _NO_CODE)

    async def describe(self, object_id: str) -> Seed:
        """Metadata of the latest version, from the versions listing: the value is never fetched."""
        name = secret_name(object_id)

        async def read() -> Seed:
            return _seed_from(name, "", await self._latest_properties(name), metadata_only=True)

        return await self._run(read, object_id, "nothing was changed")

    async def list_seeds(self) -> list[Seed]:
        """Every token's metadata from one property listing (paged by the vault: 25 a page), each page under the
        call deadline and no overall one, so 10,000 tokens list as surely as 10; no value is fetched.
        A record that is not ours, or damaged, is skipped and logged by name. Only the sweeper lists."""
        pages = self._client.list_properties_of_secrets().by_page()

        async def next_page() -> list | None:
            try:
                page = await pages.__anext__()
            except StopAsyncIteration:
                return None
            return [props async for props in page]

        seeds = []
        while (page := await self._run(next_page, "the token list", "the tokens could not be listed",
                                       deadline=self._deadline * LIST_DEADLINE_FACTOR)) is not None:
            for props in page:
                if not (props.name or "").startswith("totp-") or props.content_type != CONTENT_TYPE:
                    continue
                try:
                    seeds.append(_seed_from(props.name, "", props, metadata_only=True))
                except SeedUnusable:
                    log.warning("Key Vault secret %s has damaged tags; left out of the token list", props.name)
        return sorted(seeds, key=lambda seed: seed.object_id)

    async def put_seed(self, seed: Seed) -> None:
        name = secret_name(seed.object_id)
        if not _BASE32.fullmatch(seed.secret or ""):
            raise ValueError("The seed must be normalised base32 (A-Z, 2-7, at least 16 characters).")
        if seed.expires_at is not None and seed.expires_at.utcoffset() is None:
            raise ValueError("expires_at must be timezone-aware.")
        tags = {
            "upn": seed.upn,
            "status": TokenStatus(seed.status).value,
            "period": str(seed.params.period),
            "digits": str(seed.params.digits),
            "algorithm": seed.params.algorithm.value,
        }
        if seed.serial is not None:
            tags["serial"] = seed.serial

        async def write() -> None:
            await self._client.set_secret(
                name, seed.secret, enabled=seed.enabled, expires_on=seed.expires_at,
                tags=tags, content_type=CONTENT_TYPE,
            )

        await self._run(write, seed.object_id, "the token was not saved")

    async def set_status(self, object_id: str, status: TokenStatus) -> None:
        """Changes the status tag of the latest version; the value is not read."""
        name, status = secret_name(object_id), TokenStatus(status)

        async def update() -> None:
            props = await self._latest_properties(name)
            tags = {**(props.tags or {}), "status": status.value}
            # The version that was read, so one version's tags never land on another.
            await self._client.update_secret_properties(name, props.version, tags=tags)

        await self._run(update, object_id, "the token was not changed")

    async def disable(self, object_id: str) -> None:
        name = secret_name(object_id)

        async def update() -> None:
            await self._client.update_secret_properties(name, enabled=False)

        await self._run(update, object_id, "the token was not changed")

    async def delete_and_purge(self, object_id: str) -> datetime | None:
        """Disables, deletes and purges. None when purged; else the date Key Vault will purge it by itself
        (purge protection, or no purge permission). Safe to run again after a partial failure."""
        name = secret_name(object_id)

        async def delete() -> datetime | None:
            try:
                await self._client.update_secret_properties(name, enabled=False)
                # The SDK polls until the deletion shows; its default 2 s interval would eat the deadline.
                deleted = await self._client.delete_secret(name, _polling_interval=0.25)
            except ResourceNotFoundError:
                deleted = await self._client.get_deleted_secret(name)  # deleted by an earlier, partial run
            try:
                await self._client.purge_deleted_secret(name)
            except HttpResponseError as exc:
                if exc.status_code not in (403, 409):
                    raise
                log.warning("Key Vault kept deleted secret %s until %s: purge refused (%s %s)",
                            name, deleted.scheduled_purge_date, exc.status_code, _error_code(exc))
                return deleted.scheduled_purge_date
            return None

        return await self._run(delete, object_id, "the deletion may be incomplete")

    async def _latest_properties(self, name: str) -> SecretProperties:
        versions = [props async for props in self._client.list_properties_of_secret_versions(name)]
        if not versions:
            raise ResourceNotFoundError(f"No versions of {name}")
        # Stable sort: among equal timestamps the last listed wins.
        return sorted(versions, key=lambda p: (p.created_on or _EPOCH, p.updated_on or _EPOCH))[-1]

    async def _run(self, call: Callable[[], Awaitable[T]], object_id: str, outcome: str,
                   deadline: float | None = None) -> T:
        try:
            return await asyncio.wait_for(call(), deadline or self._deadline)
        except ResourceNotFoundError:
            raise SeedNotFound(f"No token is enrolled for {object_id}.") from None
        except HttpResponseError as exc:
            log.warning("Key Vault refused a call for %s: HTTP %s %s", object_id, exc.status_code, _error_code(exc))
            raise _refusal(exc, object_id, outcome) from exc
        except (AzureError, asyncio.TimeoutError) as exc:
            log.warning("Key Vault did not answer for %s: %s", object_id, type(exc).__name__)
            raise DependencyUnavailable(
                f"Key Vault did not answer in time, so {outcome}. "
                "Try again in a minute; if it keeps failing, tell the bot admin."
            ) from exc


def _refusal(exc: HttpResponseError, object_id: str, outcome: str) -> Exception:
    status = exc.status_code or 0
    if status == 429:
        return DependencyUnavailable(f"Key Vault is throttling requests, so {outcome}. Try again in a minute.")
    if status in (401, 403) or isinstance(exc, ClientAuthenticationError):
        return DependencyUnavailable(
            f"Key Vault refused the bot access, so {outcome}. Tell the bot admin to check the bot's access to the vault."
        )
    if status == 409:
        return SeedUnusable(
            f"Key Vault still holds a deleted token for {object_id}, so {outcome}. "
            "Tell the bot admin to recover or purge it."
        )
    return DependencyUnavailable(
        f"Key Vault answered with an error, so {outcome}. "
        "Try again in a minute; if it keeps failing, tell the bot admin."
    )


def _error_code(exc: HttpResponseError) -> str:
    return str(getattr(exc.error, "code", "") or "")


def _is_disabled_refusal(exc: HttpResponseError) -> bool:
    inner = getattr(exc.error, "innererror", None)
    return exc.status_code == 403 and isinstance(inner, dict) and inner.get("code") == "SecretDisabled"


def _seed_from(name: str, value: str, props: SecretProperties, metadata_only: bool = False) -> Seed:
    object_id = name.removeprefix("totp-")
    tags = props.tags or {}

    def damaged(what: str) -> SeedUnusable:
        return SeedUnusable(
            f"The Key Vault record of the token for {object_id} is damaged ({what}), so {_NO_CODE}. "
            "Tell the bot admin."
        )

    def tag(key: str, parse: Callable[[str], Any]) -> Any:
        try:
            return parse(tags[key])
        except (KeyError, ValueError, TypeError):
            raise damaged(f"tag '{key}' is missing or invalid") from None

    if props.content_type != CONTENT_TYPE:
        raise damaged("it is not a TOTP seed record")
    if props.enabled and not metadata_only and not _BASE32.fullmatch(value):
        raise damaged("its value is not a base32 seed")
    return Seed(
        object_id=object_id,
        upn=tag("upn", _nonempty),
        secret=value if props.enabled and not metadata_only else "",
        params=TotpParams(
            period=tag("period", lambda s: _one_of(int(s), ALLOWED_PERIODS)),
            digits=tag("digits", lambda s: _one_of(int(s), ALLOWED_DIGITS)),
            algorithm=tag("algorithm", lambda s: Algorithm(s.upper())),
        ),
        status=tag("status", TokenStatus),
        serial=tags.get("serial") or None,
        enabled=bool(props.enabled),
        expires_at=props.expires_on,
        not_before=props.not_before,
        version=props.version or "",
    )


def _nonempty(text: str) -> str:
    if not text.strip():
        raise ValueError("empty")
    return text


def _one_of(value: int, allowed: tuple[int, ...]) -> int:
    if value not in allowed:
        raise ValueError("not allowed")
    return value
