"""Bot state (a botbuilder Storage) and cross-instance coordination in Azure Blob Storage, with ETag concurrency.

One blob per key, named `<prefix>/<sha256(key)>`: keys carry ':' ';' '@' '/' and have no length bound, a digest
has neither problem. The key itself is kept (percent-encoded) in the blob's metadata for operators.

    state/<digest>   JSON value; its ETag is the value's "e_tag"
    list/<key>       the same, for keys under LISTED_PREFIXES (the open-token index), named by the percent-encoded
                     key and with the value in its metadata too, so `scan` lists them without downloading each
    claim/<digest>   empty body; metadata owner + expires (epoch seconds, from the injected clock)
    count/<digest>   {"count": n} for one (key, window index) bucket

Every call runs under a hard deadline with capped retries: the storage SDK's default retry waits 15 s and
more between attempts, which alone would overrun Teams' ~15 s turn budget. Error mapping:

    412 / 409 on a conditional state write   -> ConcurrencyConflict
    401 / 403                                -> DependencyUnavailable (access refused)
    timeout, network, 429, 5xx               -> DependencyUnavailable
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
from typing import Any, Awaitable, TypeVar
from urllib.parse import quote, unquote

from azure.core import MatchConditions
from azure.core.exceptions import (AzureError, ClientAuthenticationError, HttpResponseError, ResourceExistsError,
                                   ResourceModifiedError, ResourceNotFoundError)
from azure.storage.blob import ContentSettings
from azure.storage.blob.aio import ContainerClient, LinearRetry
from botbuilder.core import Storage

from .azure_sdk import env_proxy_options
from ..core.errors import ConcurrencyConflict, DependencyUnavailable
from ..core.ports import LISTED_PREFIXES, Clock

log = logging.getLogger("otpbot." + __name__.removeprefix("bot."))  # under "otpbot": exported
T = TypeVar("T")

DEFAULT_DEADLINE = 3.0
SCAN_PAGE = 5_000  # the service's maximum per listing page
READ_CONCURRENCY = 16  # downloads in flight per read: Azure Storage serves far more, a turn needs no more
UNAVAILABLE = ("The bot's shared state (Azure Storage) did not answer in time, so nothing was done. "
               "Try again in a minute; if it keeps failing, tell the bot admin.")
REFUSED = ("Azure Storage refused the bot access, so nothing was done. "
           "Tell the bot admin to check the bot's role on the storage account.")
BUSY = "The bot's shared state is busy right now, so nothing was done. Try again in a moment."
_JSON = ContentSettings(content_type="application/json")
_CONFLICTS = (ResourceModifiedError, ResourceExistsError, ResourceNotFoundError)  # 412, 409, 404 (gone meanwhile)


def client_options(deadline: float = DEFAULT_DEADLINE) -> dict[str, Any]:
    """ContainerClient keyword arguments that keep one call inside `deadline` seconds."""
    return {
        "retry_policy": LinearRetry(backoff=0.2, random_jitter_range=0.1, retry_total=2),
        "connection_timeout": min(1.0, deadline / 3),
        "read_timeout": deadline / 2,
        "logging_enable": False,
    }


def container_client(account_url: str, container: str, credential: Any, *, deadline: float = DEFAULT_DEADLINE,
                     **client_kwargs: Any) -> ContainerClient:
    """Production: `credential` is an azure-identity async credential (managed identity); no account keys."""
    return ContainerClient(account_url, container, credential=credential,
                           **{**client_options(deadline), **env_proxy_options(account_url), **client_kwargs})


def blob_name(prefix: str, key: str) -> str:
    return f"{prefix}/{hashlib.sha256(key.encode()).hexdigest()}"


async def guarded(call: Awaitable[T], deadline: float) -> T:
    """Runs `call` under the deadline and turns Azure failures into a DependencyUnavailable sentence."""
    try:
        return await asyncio.wait_for(call, deadline)
    except (ClientAuthenticationError, HttpResponseError) as exc:
        status = getattr(exc, "status_code", None)
        log.warning("Azure Storage refused a call: HTTP %s %s", status, getattr(exc, "error_code", ""))
        if isinstance(exc, ClientAuthenticationError) or status in (401, 403):
            raise DependencyUnavailable(REFUSED) from exc
        raise DependencyUnavailable(UNAVAILABLE) from exc
    except (AzureError, asyncio.TimeoutError) as exc:
        log.warning("Azure Storage did not answer: %s", type(exc).__name__)
        raise DependencyUnavailable(UNAVAILABLE) from exc


def _name(key: str) -> str:
    """Listed keys are named by the key itself (percent-encoded), so a prefix listing finds them; others by digest."""
    if key.startswith(LISTED_PREFIXES):
        return f"list/{quote(key, safe='')}"
    return blob_name("state", key)


def _metadata(key: str, value: dict) -> dict[str, str]:
    metadata = {"key": quote(key, safe="")}
    if key.startswith(LISTED_PREFIXES):  # the value rides in the listing (metadata is capped at 8 KB)
        metadata["value"] = quote(json.dumps(value, separators=(",", ":")), safe="")
        if len(metadata["value"]) > 7_000:
            raise ValueError("a listed state value must stay under 7 KB")
    return metadata


async def _next_page(pages) -> list | None:
    try:
        page = await pages.__anext__()
    except StopAsyncIteration:
        return None
    return [blob async for blob in page]


class _Owned:
    """Closes the container client."""

    def __init__(self, container: ContainerClient, deadline: float) -> None:
        self._container, self._deadline = container, deadline

    async def close(self) -> None:
        await self._container.close()


class BlobStorage(_Owned, Storage):
    """StateStore on Blob Storage. A write of several keys is not atomic: conditional writes go first, so a
    conflict stops the batch before any unconditional write lands; the callers write one key at a time."""

    def __init__(self, container: ContainerClient, *, deadline: float = DEFAULT_DEADLINE) -> None:
        _Owned.__init__(self, container, deadline)

    async def read(self, keys: list[str]) -> dict[str, Any]:
        """Downloads READ_CONCURRENCY blobs at a time; callers page big reads (the sweeper: PAGE keys a call)."""
        gate = asyncio.Semaphore(READ_CONCURRENCY)

        async def one(key: str) -> tuple[str, Any] | None:
            async with gate:
                try:
                    download = await self._container.download_blob(_name(key))
                    body = await download.readall()
                except ResourceNotFoundError:
                    return None
                return key, {**json.loads(body), "e_tag": download.properties.etag}

        async def run() -> dict[str, Any]:
            return dict(found for found in await asyncio.gather(*(one(k) for k in dict.fromkeys(keys))) if found)

        return await guarded(run(), self._deadline)

    async def scan(self, prefix: str) -> dict[str, Any]:
        """A listing with metadata (up to 5,000 blobs a page, each page under the deadline): no download per key."""
        if not prefix.startswith(LISTED_PREFIXES):
            raise ValueError(f"state keys under {prefix!r} are not listed")
        pages = self._container.list_blobs(name_starts_with=_name(prefix), include=["metadata"],
                                           results_per_page=SCAN_PAGE).by_page()
        found: dict[str, Any] = {}
        while True:
            page = await guarded(_next_page(pages), self._deadline)
            if page is None:
                return found
            for blob in page:
                found[unquote(blob.metadata["key"])] = json.loads(unquote(blob.metadata["value"]))

    async def write(self, changes: dict[str, Any]) -> None:
        items = []
        for key, item in changes.items():
            value = dict(item if isinstance(item, dict) else vars(item))
            items.append((key, value.pop("e_tag", None), value))
        items.sort(key=lambda entry: entry[1] in (None, "*"))  # conditional first

        async def run() -> None:
            for key, expected, value in items:
                conditional = expected not in (None, "*")
                conditions = {"etag": expected, "match_condition": MatchConditions.IfNotModified} if conditional else {}
                try:
                    await self._container.upload_blob(
                        _name(key), json.dumps(value), overwrite=True, content_settings=_JSON,
                        metadata=_metadata(key, value), **conditions)
                except _CONFLICTS as exc:
                    if conditional and getattr(exc, "error_code", None) != "ContainerNotFound":
                        raise ConcurrencyConflict("etag mismatch for state key") from None
                    raise

        await guarded(run(), self._deadline)

    async def delete(self, keys: list[str]) -> None:
        async def run() -> None:
            for key in keys:
                try:
                    await self._container.delete_blob(_name(key), delete_snapshots="include")
                except ResourceNotFoundError:
                    pass

        await guarded(run(), self._deadline)


class BlobCoordination(_Owned):
    """Coordination on Blob Storage: create-only claim blobs and compare-and-swap counter blobs."""

    CLAIM_ATTEMPTS = 3
    COUNT_ATTEMPTS = 12

    def __init__(self, container: ContainerClient, clock: Clock, *, deadline: float = DEFAULT_DEADLINE) -> None:
        super().__init__(container, deadline)
        self._clock = clock
        # Increments from this process queue locally, so only other instances contend for a counter's ETag.
        self._stripes = [asyncio.Lock() for _ in range(16)]

    async def claim(self, key: str, owner: str, ttl_s: float) -> bool:
        name = blob_name("claim", key)

        async def put(now: float, **conditions: Any) -> None:
            metadata = {"key": quote(key, safe=""), "owner": quote(owner, safe=""), "expires": repr(now + ttl_s)}
            await self._container.upload_blob(name, b"", overwrite=True, metadata=metadata, **conditions)

        async def run() -> bool:
            for _ in range(self.CLAIM_ATTEMPTS):
                now = self._clock.now().timestamp()
                try:
                    await put(now, match_condition=MatchConditions.IfMissing)
                    return True
                except (ResourceExistsError, ResourceModifiedError):
                    pass
                try:
                    props = await self._container.get_blob_client(name).get_blob_properties()
                except ResourceNotFoundError:
                    continue  # released meanwhile: try to create it again
                if float(props.metadata.get("expires", "inf")) > now:
                    return False
                try:  # expired: take it over, unless someone else just did
                    await put(now, etag=props.etag, match_condition=MatchConditions.IfNotModified)
                    return True
                except ResourceModifiedError:
                    return False
                except ResourceNotFoundError:
                    continue
            raise DependencyUnavailable(BUSY)

        return await guarded(run(), self._deadline)

    async def release(self, key: str, owner: str) -> None:
        blob = self._container.get_blob_client(blob_name("claim", key))

        async def run() -> None:
            try:
                props = await blob.get_blob_properties()
                if unquote(props.metadata.get("owner", "")) == owner:
                    await blob.delete_blob(etag=props.etag, match_condition=MatchConditions.IfNotModified)
            except _CONFLICTS:
                pass  # gone, or taken over by someone else: not ours to delete

        await guarded(run(), self._deadline)

    async def count(self, key: str, window_s: float) -> int:
        window = int(self._clock.now().timestamp() // window_s)
        name = blob_name("count", f"{key}@{window}")

        async def run() -> int:
            async with self._stripes[int(name[-8:], 16) % len(self._stripes)]:
                for attempt in range(self.COUNT_ATTEMPTS):
                    try:
                        download = await self._container.download_blob(name)
                        current = int(json.loads(await download.readall())["count"])
                        conditions = {"etag": download.properties.etag,
                                      "match_condition": MatchConditions.IfNotModified}
                    except ResourceNotFoundError:
                        current, conditions = 0, {"match_condition": MatchConditions.IfMissing}
                    try:
                        await self._container.upload_blob(
                            name, json.dumps({"count": current + 1}), overwrite=True, content_settings=_JSON,
                            metadata={"key": quote(key, safe=""), "window": str(window)}, **conditions)
                    except _CONFLICTS:
                        await asyncio.sleep(random.uniform(0, 0.01 * (attempt + 1)))  # spread the contenders out
                        continue
                    if current == 0:
                        await self._forget(blob_name("count", f"{key}@{window - 1}"))
                    return current + 1
            raise DependencyUnavailable(BUSY)

        return await guarded(run(), self._deadline)

    async def _forget(self, name: str) -> None:
        """Best effort: the previous window's counter is dead weight once a new window starts."""
        try:
            await self._container.delete_blob(name, delete_snapshots="include")
        except AzureError:
            pass
