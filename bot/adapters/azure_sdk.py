"""What the Azure SDK adapters share: a retry policy that respects a deadline, and proxies read once."""

from __future__ import annotations

import urllib.request
from typing import Any
from urllib.parse import urlsplit

from azure.core.pipeline.policies import AsyncRetryPolicy


class CappedRetryPolicy(AsyncRetryPolicy):
    """azure-core's retry policy, but a Retry-After longer than `max_retry_after` ends the retries at once.

    Retrying sooner than the server asked only adds to a throttled vault's load and fails again; waiting as
    long as it asked would overrun the turn. So: wait when the server asks for little, otherwise give up.
    """

    def __init__(self, *, max_retry_after: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_retry_after = max_retry_after

    def is_retry(self, settings: dict[str, Any], response: Any) -> bool:
        retry_after = self.get_retry_after(response)
        if retry_after is not None and retry_after > self.max_retry_after:
            return False
        return super().is_retry(settings, response)


def env_proxy_options(url: str) -> dict[str, Any]:
    """The environment's proxy for `url` (HTTPS_PROXY, NO_PROXY...), read once. Left to azure-core's aiohttp
    transport (`use_env_settings`), the proxy settings and ~/.netrc are read in a worker thread on every
    request: two thread hops per seed read."""
    proxies = urllib.request.getproxies_environment()
    host = urlsplit(url).hostname or ""
    chosen = {} if urllib.request.proxy_bypass_environment(host, proxies) else \
        {scheme: proxies[scheme] for scheme in ("http", "https") if scheme in proxies}
    return {"use_env_settings": False, **({"proxies": chosen} if chosen else {})}
