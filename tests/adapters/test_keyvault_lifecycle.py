"""The lifecycle commands on the real KeyVaultSecretStore and SecretClient, against the Key Vault emulator:
soft delete and purge through `delivered` (with and without purge protection), and no seed value ever fetched
(the emulator counts GET /secrets/{name}, the only call that returns a value)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.adapters.keyvault import CONTENT_TYPE, KeyVaultSecretStore
from bot.core.models import Seed, TokenStatus, TotpParams
from tests.support.harness import ALICE, BOB, card_of, texts
from tests.support.kv_emulator import StubCredential, kv_cert, kv_emulator  # noqa: F401  (fixtures)
from tests.support.lifecycle_fakes import DAVE, lifecycle_harness
from tests.support.teams import LEE

ENTRA = "2SK2TSMKJP7KDBCK"
NAME = f"totp-{ALICE.object_id}"


def tags(person, status: str) -> dict:
    return {"upn": person.upn, "status": status, "period": "30", "digits": "6", "algorithm": "SHA1"}


@pytest.fixture
async def h(clock, tmp_path, kv_emulator):
    store = KeyVaultSecretStore.from_vault_url(kv_emulator.url, StubCredential(), **kv_emulator.client_kwargs())
    harness = await lifecycle_harness(clock, tmp_path, secrets=store)
    harness.vault = kv_emulator
    yield harness
    await harness.client.close()  # closes the store too
    await harness.connector.server.close()


def value_reads(vault) -> int:
    return vault.counts[("GET", "secret")]


async def test_delivered_disables_deletes_and_purges(h):
    h.vault.store(NAME, ENTRA, tags=tags(ALICE, "shipped"), content_type=CONTENT_TYPE)
    assert texts(await h.say("delivered alice@contoso.example", user=LEE)) == [
        "Recorded: Alice User (alice@contoso.example) has the token. Its seed was disabled, deleted and purged from "
        "the vault; no code can be released for it."]
    assert NAME not in h.vault.secrets and NAME not in h.vault.deleted
    assert h.audit.events() == ["token.delivered", "token.destroyed"]
    assert value_reads(h.vault) == 0
    assert texts(await h.say("revoke alice@contoso.example", user=LEE)) == [
        "The token is destroyed, so it cannot be revoked; that is final."]


async def test_delivered_under_purge_protection_says_when_the_vault_purges(h):
    h.vault.purge_protection = True
    h.vault.store(NAME, ENTRA, tags=tags(ALICE, "shipped"), content_type=CONTENT_TYPE)
    sent = texts(await h.say("delivered alice@contoso.example", user=LEE))
    deleted = h.vault.deleted[NAME]
    purge_on = datetime.fromtimestamp(deleted.scheduled_purge_date, timezone.utc)
    assert sent == [
        "Recorded: Alice User (alice@contoso.example) has the token. Its seed was disabled and deleted; purge "
        f"protection keeps the deleted copy until Key Vault purges it on {purge_on:%Y-%m-%d} (UTC). No code can be "
        "released for it."]
    assert [(v.enabled, v.tags["status"]) for v in deleted.versions] == [(False, "delivered")]
    assert h.audit.entries[-1].details == {"purged": "false", "purge_scheduled": purge_on.isoformat()}
    assert value_reads(h.vault) == 0
    # The name stays taken until then: a new enrollment says so, and the trail records that it failed.
    body, _ = await h.click("enroll", {"upn": ALICE.upn, "seed": "2sk2 tsmk jp7k dbck", "code": "138424",
                                       "period": "30", "digits": "6", "algorithm": "SHA1"}, user=LEE)
    assert body["value"]["body"][1]["text"] == (
        f"Key Vault still holds a deleted token for {ALICE.object_id}, so the token was not saved. Tell the bot "
        "admin to recover or purge it.")
    assert h.audit.events()[-2:] == ["token.enrolled", "token.change_failed"]
    assert h.audit.entries[-1].details == {"change": "enrolled", "reason": "SeedUnusable"}


async def test_shipped_revoke_and_pending_read_only_properties(h):
    h.vault.store(NAME, ENTRA, tags=tags(ALICE, "burned"), content_type=CONTENT_TYPE)
    h.vault.store(f"totp-{BOB.object_id}", ENTRA, tags={**tags(BOB, "shipped"), "serial": "TK-9"},
                  content_type=CONTENT_TYPE)
    h.vault.store("totp-not-ours", "x", content_type="text/plain")  # not a seed record: left out
    h.vault.store(f"totp-{DAVE.object_id}", ENTRA, tags={"upn": DAVE.upn}, content_type=CONTENT_TYPE)  # damaged
    assert texts(await h.say("shipped alice@contoso.example UPS 1Z999AA10123456784")) == [
        "Recorded: the token for Alice User (alice@contoso.example) is shipped via UPS, tracking 1Z999AA10123456784. "
        "When it arrives, a lead marks it `delivered alice@contoso.example`."]
    assert h.vault.secrets[NAME][-1].tags["status"] == "shipped"
    from bot.app import SERVICES
    from bot.handlers.sweep import sweep_once

    await sweep_once(h.client.server.app[SERVICES], "a")  # indexes Bob's seed, stored without the bot
    card = card_of((await h.say("pending"))[0])
    assert [b["text"] for b in card["body"]][3::2] == ["alice@contoso.example", "bob@contoso.example"]
    assert texts(await h.say("revoke bob@contoso.example leaver")) == [
        "Revoked the token for Bob User (bob@contoso.example) (leaver). Its seed is disabled and no code will be "
        "released for it. For a new token, use `provision bob@contoso.example`."]
    bob = h.vault.secrets[f"totp-{BOB.object_id}"][-1]
    assert (bob.enabled, bob.tags) == (False, {**tags(BOB, "revoked"), "serial": "TK-9"})
    assert value_reads(h.vault) == 0


async def test_enroll_writes_a_burned_seed_and_reads_no_value(h):
    body, _ = await h.click("enroll", {"upn": ALICE.upn, "seed": "2sk2 tsmk jp7k dbck", "code": "138424",
                                       "serial": "TK-1", "period": "30", "digits": "6", "algorithm": "SHA1"})
    assert body["value"]["body"][0]["text"].startswith("Saved the token for Alice User")
    [version] = h.vault.secrets[NAME]
    assert (version.value, version.tags) == (ENTRA, {**tags(ALICE, "burned"), "serial": "TK-1"})
    assert value_reads(h.vault) == 0


async def test_store_listing_and_describe_return_metadata_only(kv_emulator):
    store = KeyVaultSecretStore.from_vault_url(kv_emulator.url, StubCredential(), **kv_emulator.client_kwargs())
    kv_emulator.store(NAME, ENTRA, tags=tags(ALICE, "shipped"), content_type=CONTENT_TYPE, enabled=False)
    expected = Seed(ALICE.object_id, ALICE.upn, "", TotpParams(), TokenStatus.SHIPPED, enabled=False)
    assert await store.list_seeds() == [expected]
    assert await store.describe(ALICE.object_id) == expected
    assert value_reads(kv_emulator) == 0
    await store.close()
