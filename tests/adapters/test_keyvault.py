"""KeyVaultSecretStore through the real azure SecretClient against the loopback Key Vault emulator."""

from __future__ import annotations

import logging
import socket
import time
from datetime import datetime, timedelta, timezone

import pytest
import pytest_asyncio
from azure.keyvault.secrets.aio import SecretClient

from bot.adapters.keyvault import CONTENT_TYPE, KeyVaultSecretStore, secret_name
from bot.core.errors import DependencyUnavailable, SeedNotFound, SeedUnusable
from bot.core.models import Algorithm, Seed, TokenStatus, TotpParams
from tests.support.kv_emulator import KeyVaultEmulator, StubCredential, kv_cert, kv_emulator  # noqa: F401  (fixtures)

pytestmark = pytest.mark.asyncio

OID = "0b5c6d1e-2f3a-4b5c-8d7e-9f0a1b2c3d4e"
NAME = f"totp-{OID}"
SECRET = "2SK2TSMKJP7KDBCK"
TAGS = {"upn": "alice@contoso.com", "status": "shipped", "period": "60", "digits": "8",
        "algorithm": "SHA256", "serial": "TK-0042"}
ALICE = Seed(object_id=OID, upn="alice@contoso.com", secret=SECRET,
             params=TotpParams(period=60, digits=8, algorithm=Algorithm.SHA256),
             status=TokenStatus.SHIPPED, serial="TK-0042", enabled=True, expires_at=None)

THROTTLED = "Key Vault is throttling requests, so no code was released. Try again in a minute."
NO_ANSWER = ("Key Vault did not answer in time, so no code was released. "
             "Try again in a minute; if it keeps failing, tell the bot admin.")
SERVER_ERROR = ("Key Vault answered with an error, so no code was released. "
                "Try again in a minute; if it keeps failing, tell the bot admin.")
REFUSED = ("Key Vault refused the bot access, so no code was released. "
           "Tell the bot admin to check the bot's access to the vault.")


@pytest_asyncio.fixture
async def store(kv_emulator: KeyVaultEmulator):
    s = KeyVaultSecretStore.from_vault_url(kv_emulator.url, StubCredential(), **kv_emulator.client_kwargs())
    yield s
    await s.close()


def stored(emulator: KeyVaultEmulator, **overrides) -> None:
    fields = {"tags": TAGS, "content_type": CONTENT_TYPE, **overrides}
    emulator.store(NAME, fields.pop("value", SECRET), **fields)


async def test_found_returns_every_field(kv_emulator, store):
    stored(kv_emulator)
    assert await store.get_seed(OID) == ALICE


async def test_object_id_is_canonicalised_to_lower_case(kv_emulator, store):
    stored(kv_emulator)
    assert secret_name(OID.upper()) == NAME
    assert await store.get_seed(OID.upper()) == ALICE


@pytest.mark.parametrize("bad", ["", "alice@contoso.com", "../secrets/x", OID + "-1", "{" + OID + "}",
                                 OID.replace("-", "")])
async def test_object_id_that_is_not_a_guid_is_rejected(store, bad):
    with pytest.raises(ValueError, match="must be a GUID"):
        await store.get_seed(bad)
    with pytest.raises(ValueError, match="must be a GUID"):
        await store.put_seed(Seed(object_id=bad, upn="a@contoso.com", secret=SECRET))


async def test_not_found(kv_emulator, store):
    with pytest.raises(SeedNotFound) as caught:
        await store.get_seed(OID)
    assert caught.value.message == f"No token is enrolled for {OID}."


async def test_disabled_is_returned_with_enabled_false_and_no_value(kv_emulator, store):
    stored(kv_emulator, enabled=False)
    seed = await store.get_seed(OID)
    # Key Vault answers 403 SecretDisabled to a GET, so the store reads the version's properties instead.
    assert seed == Seed(**{**ALICE.__dict__, "enabled": False, "secret": ""})
    assert kv_emulator.counts == {("GET", "secret"): 1, ("GET", "versions"): 1}


async def test_expired_is_returned_as_it_is(kv_emulator, store):
    exp = int(time.time()) - 3600
    stored(kv_emulator, exp=exp)
    seed = await store.get_seed(OID)
    assert seed == Seed(**{**ALICE.__dict__, "expires_at": datetime.fromtimestamp(exp, timezone.utc)})
    assert seed.expires_at < datetime.now(timezone.utc)


async def test_429_with_long_retry_after_fails_at_once(kv_emulator, store):
    stored(kv_emulator)
    kv_emulator.set_fault("429", name=NAME, retry_after=30)
    started = time.monotonic()
    with pytest.raises(DependencyUnavailable) as caught:
        await store.get_seed(OID)
    assert time.monotonic() - started < 3.5
    assert caught.value.message == THROTTLED
    assert kv_emulator.counts[("GET", "secret")] == 1  # not retried sooner than the vault asked


async def test_429_with_short_retry_after_is_honoured_then_succeeds(kv_emulator, store):
    stored(kv_emulator)
    kv_emulator.set_fault("429", name=NAME, retry_after=1, times=1)
    started = time.monotonic()
    assert await store.get_seed(OID) == ALICE
    assert 1.0 <= time.monotonic() - started < 3.0
    assert kv_emulator.counts[("GET", "secret")] == 2


async def test_500_is_retried_twice_then_unavailable(kv_emulator, store):
    stored(kv_emulator)
    kv_emulator.set_fault("500")
    started = time.monotonic()
    with pytest.raises(DependencyUnavailable) as caught:
        await store.get_seed(OID)
    assert time.monotonic() - started < 3.5
    assert caught.value.message == SERVER_ERROR
    assert kv_emulator.counts[("GET", "secret")] == 3


async def test_hang_ends_at_the_deadline(kv_emulator, store):
    stored(kv_emulator)
    kv_emulator.set_fault("hang", name=NAME)
    started = time.monotonic()
    with pytest.raises(DependencyUnavailable) as caught:
        await store.get_seed(OID)
    assert time.monotonic() - started < 3.5
    assert caught.value.message == NO_ANSWER


async def test_403_is_unavailable_and_not_retried(kv_emulator, store):
    stored(kv_emulator)
    kv_emulator.set_fault("403")
    with pytest.raises(DependencyUnavailable) as caught:
        await store.get_seed(OID)
    assert caught.value.message == REFUSED
    assert kv_emulator.counts[("GET", "secret")] == 1


async def test_connection_refused_is_unavailable(kv_emulator):
    kwargs = kv_emulator.client_kwargs()
    with socket.create_server(("127.0.0.1", 0)) as sock:  # a port nobody listens on once closed
        url = f"https://127.0.0.1:{sock.getsockname()[1]}"
    s = KeyVaultSecretStore.from_vault_url(url, StubCredential(), **kwargs)
    started = time.monotonic()
    with pytest.raises(DependencyUnavailable) as caught:
        await s.get_seed(OID)
    await s.close()
    assert time.monotonic() - started < 3.5
    assert caught.value.message == NO_ANSWER


async def test_one_challenge_then_exactly_one_get_per_read(kv_emulator, store):
    stored(kv_emulator)
    for _ in range(3):
        await store.get_seed(OID)
    # The SDK's first request goes without a token to learn the tenant (401 challenge), then repeats with one.
    assert kv_emulator.challenges == {("GET", "secret"): 1}
    assert kv_emulator.counts == {("GET", "secret"): 3}


async def test_put_then_get_round_trip(kv_emulator, store):
    expires = datetime(2031, 5, 1, 12, 0, tzinfo=timezone.utc)
    seed = Seed(object_id=OID, upn="bob@contoso.com", secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
                status=TokenStatus.BURNED, expires_at=expires)
    await store.put_seed(seed)
    [version] = kv_emulator.secrets[NAME]
    assert (version.value, version.content_type, version.enabled, version.exp) == (
        seed.secret, CONTENT_TYPE, True, int(expires.timestamp()))
    assert version.tags == {"upn": "bob@contoso.com", "status": "burned", "period": "30", "digits": "6",
                            "algorithm": "SHA1"}  # no serial tag when there is none
    assert await store.get_seed(OID) == seed
    await store.put_seed(ALICE)
    assert await store.get_seed(OID) == ALICE
    assert len(kv_emulator.secrets[NAME]) == 2


async def test_put_refuses_what_it_could_not_read_back(store):
    with pytest.raises(ValueError, match="normalised base32"):
        await store.put_seed(Seed(object_id=OID, upn="a@contoso.com", secret="2sk2 tsmk jp7k dbck"))
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.put_seed(Seed(object_id=OID, upn="a@contoso.com", secret=SECRET, expires_at=datetime(2031, 1, 1)))


@pytest.mark.parametrize("overrides, what", [
    ({"tags": {k: v for k, v in TAGS.items() if k != "upn"}}, "tag 'upn' is missing or invalid"),
    ({"tags": {**TAGS, "period": "45"}}, "tag 'period' is missing or invalid"),
    ({"tags": {**TAGS, "digits": "six"}}, "tag 'digits' is missing or invalid"),
    ({"tags": {**TAGS, "algorithm": "MD5"}}, "tag 'algorithm' is missing or invalid"),
    ({"tags": {**TAGS, "status": "lost"}}, "tag 'status' is missing or invalid"),
    ({"content_type": "text/plain"}, "it is not a TOTP seed record"),
    ({"value": "2sk2-tsmk-jp7k-dbck!"}, "its value is not a base32 seed"),
])
async def test_damaged_record_is_unusable_with_a_clear_sentence(kv_emulator, store, overrides, what):
    stored(kv_emulator, **overrides)
    with pytest.raises(SeedUnusable) as caught:
        await store.get_seed(OID)
    assert caught.value.message == (f"The Key Vault record of the token for {OID} is damaged ({what}), "
                                    "so no code was released. Tell the bot admin.")
    assert "2sk2" not in caught.value.message.lower()


async def test_set_status_changes_only_the_status_tag(kv_emulator, store):
    stored(kv_emulator)
    await store.set_status(OID, TokenStatus.DELIVERED)
    [version] = kv_emulator.secrets[NAME]
    assert (version.value, version.tags) == (SECRET, {**TAGS, "status": "delivered"})
    assert kv_emulator.counts == {("GET", "versions"): 1, ("PATCH", "secret"): 1}  # the value is never read


async def test_disable(kv_emulator, store):
    stored(kv_emulator)
    await store.disable(OID)
    assert (await store.get_seed(OID)).enabled is False


async def test_delete_and_purge_without_purge_protection(kv_emulator, store):
    stored(kv_emulator)
    assert await store.delete_and_purge(OID) is None
    assert NAME not in kv_emulator.secrets and NAME not in kv_emulator.deleted
    with pytest.raises(SeedNotFound):
        await store.get_seed(OID)
    await store.put_seed(ALICE)  # the name is free again
    assert await store.get_seed(OID) == ALICE


async def test_delete_and_purge_with_purge_protection(kv_emulator, store):
    kv_emulator.purge_protection = True
    stored(kv_emulator)
    purge_date = await store.delete_and_purge(OID)
    deleted = kv_emulator.deleted[NAME]
    assert purge_date == datetime.fromtimestamp(deleted.scheduled_purge_date, timezone.utc)
    assert purge_date - datetime.fromtimestamp(deleted.deleted_date, timezone.utc) == timedelta(days=90)
    assert [v.enabled for v in deleted.versions] == [False]
    assert await store.delete_and_purge(OID) == purge_date  # running it again is harmless
    # The name stays reserved, so the next token of this user gets the next generation's name.
    await store.put_seed(ALICE)
    assert (f"{NAME}-2" in kv_emulator.secrets, await store.get_seed(OID)) == (True, ALICE)
    assert (await store.describe(OID)).status is ALICE.status
    assert [seed.object_id for seed in await store.list_seeds()] == [OID]
    assert await store.delete_and_purge(OID) == datetime.fromtimestamp(
        kv_emulator.deleted[f"{NAME}-2"].scheduled_purge_date, timezone.utc)
    await store.put_seed(ALICE)
    assert f"{NAME}-3" in kv_emulator.secrets and (await store.get_seed(OID)) == ALICE


async def test_a_new_instance_finds_the_live_generation(kv_emulator, store):
    kv_emulator.purge_protection = True
    stored(kv_emulator)  # a seed stored before generations existed: totp-<oid>
    assert await store.get_seed(OID) == ALICE
    await store.delete_and_purge(OID)
    await store.put_seed(ALICE)
    other = KeyVaultSecretStore.from_vault_url(kv_emulator.url, StubCredential(), **kv_emulator.client_kwargs())
    try:
        assert await other.get_seed(OID) == ALICE  # probes totp-<oid> (deleted), finds totp-<oid>-2
        await store.set_status(OID, TokenStatus.SHIPPED)
        assert (await other.describe(OID)).status is TokenStatus.SHIPPED
    finally:
        await other.close()


async def test_the_seed_never_reaches_logs_or_error_messages(kv_emulator, store, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("azure", "azure.core.pipeline.policies.http_logging_policy", "aiohttp"):
        caplog.set_level(logging.DEBUG, logger=name)
    await store.put_seed(ALICE)
    assert await store.get_seed(OID) == ALICE
    errors = []
    for fault in ("500", "403", "429"):
        kv_emulator.set_fault(fault, retry_after=30 if fault == "429" else None)
        for call in (store.get_seed(OID), store.put_seed(ALICE)):
            with pytest.raises(DependencyUnavailable) as caught:
                await call
            errors.append(caught.value)
    kv_emulator.clear_faults()
    kv_emulator.secrets[NAME][-1].tags = {}
    with pytest.raises(SeedUnusable) as caught:
        await store.get_seed(OID)
    errors.append(caught.value)

    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "Request URL" in logged  # azure-core's HTTP logging really ran at this level
    assert SECRET not in logged
    for error in errors:
        chain = [error, error.__cause__, error.__context__]
        assert all(SECRET not in str(e) for e in chain)


async def test_leak_check_would_catch_body_logging(kv_emulator, caplog):
    # Control for the test above: azure-core's logging_enable=True does log bodies, seed included.
    caplog.set_level(logging.DEBUG)
    client = SecretClient(kv_emulator.url, StubCredential(), logging_enable=True, **kv_emulator.client_kwargs())
    async with client:
        await client.set_secret(NAME, SECRET)
    assert any(SECRET in r.getMessage() for r in caplog.records)


async def test_close_closes_the_credential_only_when_the_store_owns_it(kv_emulator):
    shared, owned = StubCredential(), StubCredential()
    await KeyVaultSecretStore.from_vault_url(kv_emulator.url, shared, **kv_emulator.client_kwargs()).close()
    await KeyVaultSecretStore.from_vault_url(kv_emulator.url, owned, owns_credential=True,
                                             **kv_emulator.client_kwargs()).close()
    assert (shared.closed, owned.closed) == (False, True)


async def test_lifecycle_calls_on_a_missing_token_say_not_found(store):
    for call in (store.set_status(OID, TokenStatus.REVOKED), store.disable(OID), store.delete_and_purge(OID)):
        with pytest.raises(SeedNotFound) as caught:
            await call
        assert caught.value.message == f"No token is enrolled for {OID}."

