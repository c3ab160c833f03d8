"""Options every Azure SDK client of the bot gets: proxies from the environment, read once."""

from __future__ import annotations

import pytest
from azure.core.pipeline.policies import ProxyPolicy

from bot.adapters.azure_audit import TableAuditLog
from bot.adapters.azure_sdk import env_proxy_options
from bot.adapters.azure_storage import container_client
from bot.adapters.keyvault import KeyVaultSecretStore
from tests.support.fakes import FakeClock


@pytest.mark.parametrize("env, expected", [
    ({}, {"use_env_settings": False}),
    ({"HTTPS_PROXY": "http://proxy.corp:3128"},
     {"use_env_settings": False, "proxies": {"https": "http://proxy.corp:3128"}}),
    ({"HTTPS_PROXY": "http://proxy.corp:3128", "NO_PROXY": ".vault.azure.net"}, {"use_env_settings": False}),
    ({"https_proxy": "http://proxy.corp:3128", "no_proxy": "other.example"},
     {"use_env_settings": False, "proxies": {"https": "http://proxy.corp:3128"}}),
])
def test_the_environments_proxy_is_read_once_for_the_vault(monkeypatch, env, expected):
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy", "ALL_PROXY",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert env_proxy_options("https://contoso-otp.vault.azure.net/") == expected


class NoCredential:
    async def get_token(self, *scopes, **kwargs):
        raise AssertionError("no request is made")

    async def close(self) -> None:
        pass


def transport_of(pipeline):
    transport = pipeline._transport
    while hasattr(transport, "_transport"):  # azure-storage wraps the transport
        transport = transport._transport
    return transport


def proxies_of(pipeline) -> list:
    """The `proxies` of every azure-core ProxyPolicy in the pipeline (SansIO policies are wrapped in a runner)."""
    policies = [getattr(policy, "_policy", policy) for policy in pipeline._impl_policies]
    return [policy.proxies for policy in policies if isinstance(policy, ProxyPolicy)]


async def test_every_production_client_reads_no_proxy_settings_per_request(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    vault = KeyVaultSecretStore.from_vault_url("https://contoso-otp.vault.azure.net/", NoCredential())
    blobs = container_client("https://contosootp.blob.core.windows.net", "state", NoCredential())
    audit = TableAuditLog.from_account_url("https://contosootp.table.core.windows.net", "audit", NoCredential(),
                                           FakeClock())
    pipelines = {"vault": vault._client._client._client._pipeline, "blobs": blobs._pipeline,
                 "audit": audit._table._client._client._pipeline}
    assert {name: transport_of(p)._use_env_settings for name, p in pipelines.items()} == \
        {"vault": False, "blobs": False, "audit": False}
    proxy = [{"https": "http://proxy.corp:3128"}]  # read once, so it must reach each pipeline's ProxyPolicy
    assert {name: proxies_of(p) for name, p in pipelines.items()} == {"vault": proxy, "blobs": proxy, "audit": proxy}
    await vault.close()
    await blobs.close()
    await audit.close()
