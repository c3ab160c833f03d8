"""`shipped`, `delivered`, `revoke` and `pending` through the real app: every transition the commands make, every
refusal, who may do what, and the audit trail. No command here reads a seed's value (`store.reads == 0`)."""

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.core.errors import DependencyUnavailable
from bot.core.models import Seed, TokenStatus
from bot.runtime.lifecycle_settings import LifecycleSettings
from tests.support.harness import ALICE, BOB, CAROL, RFC_SEED, card_of, texts
from tests.support.lifecycle_fakes import DAVE, HELPDESK, lifecycle_harness
from tests.support.teams import ADA, BEN, LEE, MALLORY
from bot.app import SERVICES
from bot.handlers.token_records import token_records

BURNED, SHIPPED, DELIVERED, DESTROYED, REVOKED = (
    TokenStatus.BURNED, TokenStatus.SHIPPED, TokenStatus.DELIVERED, TokenStatus.DESTROYED, TokenStatus.REVOKED)
SHIPPED_ALICE = ("Recorded: the token for Alice User (alice@contoso.example) is shipped via DHL, tracking "
                 "JD014600003828. When it arrives, a lead marks it `delivered alice@contoso.example`.")
DELIVERED_ALICE = ("Recorded: Alice User (alice@contoso.example) has the token. Its seed was disabled, deleted and "
                   "purged from the vault; no code can be released for it.")


def seed(person, status=BURNED, **fields) -> Seed:
    return Seed(person.object_id, person.upn, RFC_SEED, status=status, **fields)


@pytest.fixture
async def h(clock, tmp_path):
    harness = await lifecycle_harness(clock, tmp_path, seed(ALICE), seed(BOB, SHIPPED), seed(CAROL, DELIVERED))
    yield harness
    await harness.close()


def trail(h) -> list[tuple]:
    return [(r.event, r.actor, r.target, r.details) for r in h.audit.entries]


async def record(h, person) -> dict:
    found = (await h.state.read([f"token/{person.object_id}"])).get(f"token/{person.object_id}") or {}
    return {k: v for k, v in found.items() if k != "e_tag"}


async def test_burned_shipped_delivered_destroyed(h):
    assert texts(await h.say("shipped alice@contoso.example DHL JD014600003828")) == [SHIPPED_ALICE]
    assert h.store.seeds[ALICE.object_id].status is SHIPPED
    h.clock.advance(days=6)
    assert texts(await h.say("delivered alice@contoso.example", user=LEE)) == [DELIVERED_ALICE]
    assert ALICE.object_id not in h.store.seeds and h.store.deleted == {}
    assert trail(h) == [
        ("token.shipped", ADA.oid, ALICE.upn, {"from": "burned", "carrier": "DHL", "tracking": "JD014600003828"}),
        ("token.delivered", LEE.oid, ALICE.upn, {"from": "shipped"}),
        ("token.destroyed", LEE.oid, ALICE.upn, {"purged": "true", "purge_scheduled": ""}),
    ]
    assert await record(h, ALICE) == {  # Alice's seed came without a record: adopted when first changed
        "burned_at": "2026-11-28T09:00:10+00:00", "adopted_at": "2026-11-28T09:00:10+00:00",
        "status": "destroyed", "shipped_at": "2026-11-28T09:00:10+00:00", "carrier": "DHL",
        "tracking": "JD014600003828", "shipped_by": ADA.oid, "delivered_at": "2026-12-04T09:00:10+00:00",
        "delivered_by": LEE.oid, "destroyed_at": "2026-12-04T09:00:10+00:00", "purge_scheduled": ""}
    assert [c for c, _ in h.store.calls] == ["describe", "set_status", "describe", "set_status", "delete"]
    assert h.store.reads == 0
    assert texts(await h.say("delivered alice@contoso.example", user=LEE)) == [
        "The token is destroyed, so it cannot be delivered; that is final."]


async def test_shipped_without_carrier_or_tracking(h):
    assert texts(await h.say("shipped alice@contoso.example")) == [
        "Recorded: the token for Alice User (alice@contoso.example) is shipped. When it arrives, a lead marks it "
        "`delivered alice@contoso.example`."]
    assert trail(h)[0][3] == {"from": "burned", "carrier": "", "tracking": ""}


async def test_purge_protection_says_when_key_vault_will_purge(clock, tmp_path):
    from tests.support.lifecycle_fakes import LifecycleSecretStore

    store = LifecycleSecretStore(seed(BOB, SHIPPED), purge_protection=True, clock=clock)
    h = await lifecycle_harness(clock, tmp_path, secrets=store)
    assert texts(await h.say("delivered bob@contoso.example", user=LEE)) == [
        "Recorded: Bob User (bob@contoso.example) has the token. Its seed was disabled and deleted; purge protection "
        "keeps the deleted copy until Key Vault purges it on 2027-02-26 (UTC). No code can be released for it."]
    assert trail(h)[-1] == ("token.destroyed", LEE.oid, BOB.upn,
                            {"purged": "false", "purge_scheduled": "2027-02-26T09:00:10+00:00"})
    assert (await record(h, BOB))["purge_scheduled"] == "2027-02-26T09:00:10+00:00"
    await h.close()


@pytest.mark.parametrize("status", [BURNED, SHIPPED, DELIVERED])
async def test_revoke_from_every_live_state_disables_the_seed(h, status):
    h.store.seeds[ALICE.object_id] = seed(ALICE, status)
    assert texts(await h.say("revoke alice@contoso.example parcel lost in transit")) == [
        "Revoked the token for Alice User (alice@contoso.example) (parcel lost in transit). Its seed is disabled and "
        "no code will be released for it. For a new token, use `provision alice@contoso.example`."]
    stored = h.store.seeds[ALICE.object_id]
    assert (stored.status, stored.enabled) == (REVOKED, False)
    assert trail(h) == [("token.revoked", ADA.oid, ALICE.upn, {"from": status.value,
                                                               "reason": "parcel lost in transit"})]
    assert (await record(h, ALICE))["revoke_reason"] == "parcel lost in transit"


async def test_delivered_resumes_when_an_earlier_run_stopped_before_the_seed_was_destroyed(h):
    async def fail_on_delete(object_id):
        raise DependencyUnavailable("Key Vault did not answer in time, so the deletion may be incomplete.")

    real_delete, h.store.delete_and_purge = h.store.delete_and_purge, fail_on_delete
    assert texts(await h.say("delivered bob@contoso.example", user=LEE)) == [
        "Key Vault did not answer in time, so the deletion may be incomplete."]
    assert h.store.seeds[BOB.object_id].status is DELIVERED  # no more codes: delivered is not releasable
    h.store.delete_and_purge = real_delete
    assert texts(await h.say("delivered bob@contoso.example", user=LEE)) == [
        "Recorded: Bob User (bob@contoso.example) has the token. Its seed was disabled, deleted and purged from the "
        "vault; no code can be released for it."]
    assert [(e, d) for e, _, _, d in trail(h)] == [
        ("token.delivered", {"from": "shipped"}),
        ("token.change_failed", {"change": "destroyed", "reason": "DependencyUnavailable"}),
        ("token.destroyed", {"purged": "true", "purge_scheduled": ""}),
    ]


@pytest.mark.parametrize("command, status, message", [
    ("shipped alice@contoso.example", SHIPPED, "The token is already shipped; next it can be delivered or revoked."),
    ("shipped alice@contoso.example", DELIVERED,
     "The token is delivered, so it cannot go back to shipped; next it can be destroyed or revoked."),
    ("shipped alice@contoso.example", REVOKED,
     "The token is revoked, so it cannot be shipped any more; next it can be destroyed."),
    ("delivered alice@contoso.example", BURNED, "The token is burned; it must be shipped before it can be delivered."),
    ("delivered alice@contoso.example", REVOKED,
     "The token is revoked, so it cannot be delivered any more; next it can be destroyed."),
    ("revoke alice@contoso.example", REVOKED, "The token is already revoked; next it can be destroyed."),
])
async def test_invalid_transitions_are_refused_with_the_reason(h, command, status, message):
    h.store.seeds[ALICE.object_id] = seed(ALICE, status)
    assert texts(await h.say(command, user=LEE)) == [message]
    assert h.store.seeds[ALICE.object_id].status is status
    assert h.audit.events() == []


@pytest.mark.parametrize("command, message", [
    ("shipped alice@contoso.example", "The token is destroyed, so it cannot be shipped; that is final."),
    ("delivered alice@contoso.example", "The token is destroyed, so it cannot be delivered; that is final."),
    ("revoke alice@contoso.example", "The token is destroyed, so it cannot be revoked; that is final."),
])
async def test_a_destroyed_token_stays_destroyed(h, command, message):
    await h.say("shipped alice@contoso.example")
    await h.say("delivered alice@contoso.example", user=LEE)
    events = h.audit.events()
    assert texts(await h.say(command, user=LEE)) == [message]
    assert h.audit.events() == events


async def test_a_user_without_a_token(h):
    for command in ("shipped", "delivered", "revoke"):
        assert texts(await h.say(f"{command} dave@contoso.example", user=LEE)) == [
            "Dave User has no token enrolled. Use `provision dave@contoso.example` or `enroll dave@contoso.example`."]
    assert texts(await h.say("shipped nobody@contoso.example")) == [
        "There is no user `nobody@contoso.example` in the directory. Check the spelling."]


async def test_only_leads_may_mark_delivered(h):
    assert texts(await h.say("delivered bob@contoso.example", user=BEN)) == [
        "Only helpdesk leads can mark a token delivered."]
    assert h.store.seeds[BOB.object_id].status is SHIPPED
    assert trail(h) == [("access.denied", BEN.oid, BOB.upn, {"command": "MarkDelivered"})]
    assert texts(await h.say("shipped alice@contoso.example", user=MALLORY)) == [
        "You are not on the helpdesk agent list. Ask your Teams admin to add you."]


@pytest.mark.parametrize("text, message", [
    ("shipped", "Use `shipped alice@contoso.com [carrier] [tracking]`; carrier and tracking are single words of "
                "letters, digits and . _ / # - (up to 40 characters)."),
    ("shipped alice@contoso.example DHL JD01 extra", "Use `shipped alice@contoso.com [carrier] [tracking]`; carrier "
     "and tracking are single words of letters, digits and . _ / # - (up to 40 characters)."),
    ("shipped alice@contoso.example DHL JD01!", "Use `shipped alice@contoso.com [carrier] [tracking]`; carrier and "
     "tracking are single words of letters, digits and . _ / # - (up to 40 characters)."),
    ("delivered", "Use `delivered alice@contoso.com` once the user has the token."),
    ("revoke", "Use `revoke alice@contoso.com [reason]`, for example `revoke alice@contoso.com lost`."),
    ("pending now", "Use `pending`, `pending overdue`, `pending burned` or `pending shipped`, and `page 2` after "
                    "any of them for the next page."),
    ("pending shipped page 0", "Use `pending`, `pending overdue`, `pending burned` or `pending shipped`, and `page "
                               "2` after any of them for the next page."),
    ("provision", "Use `provision alice@contoso.com`: it walks you through the whole set-up."),
])
async def test_grammar_errors(h, text, message):
    assert texts(await h.say(text)) == [message]


async def pending_blocks(h, text="pending", **kw) -> list[str]:
    card = card_of((await h.say(text, **kw))[0])
    assert {b["type"] for b in card["body"]} == {"TextBlock"}  # no FactSet: its title column broke UPNs mid-word
    return [b["text"] for b in card["body"]]


async def reindex(h) -> None:
    """What the sweeper does first: the open-token index brought in line with the secret store."""
    s = h.client.server.app[SERVICES]
    await token_records(s, index=await s.state.scan("open/"))


async def test_pending_lists_undelivered_tokens_with_age_last_event_and_overdue_flag(h):
    h.store.seeds[DAVE.object_id] = seed(DAVE, REVOKED)
    for person, burned in ((BOB, h.clock.now() - timedelta(days=2)), (ALICE, h.clock.now())):
        await h.state.write({f"token/{person.object_id}": {"upn": person.upn, "burned_at": burned.isoformat()}})
    h.store.seeds[BOB.object_id] = seed(BOB)
    await h.say("shipped bob@contoso.example DHL JD014600003828")
    h.clock.advance(days=29, seconds=1)
    await h.say("shipped alice@contoso.example")
    h.store.seeds[ALICE.object_id] = replace(h.store.seeds[ALICE.object_id], enabled=False)
    await reindex(h)
    assert await pending_blocks(h) == [  # oldest first; Carol's (delivered) and Dave's (revoked) are not pending
        "Tokens not delivered yet: 2",
        "0 burned (not shipped), 2 shipped; 1 overdue (more than 30 days since the token was burned).",
        "Tokens, overdue first, oldest first: 1–2 of 2.",
        "bob@contoso.example", "OVERDUE · shipped 2026-11-28 via DHL, tracking JD014600003828 · burned 31 days ago",
        "alice@contoso.example", "shipped 2026-12-27 · burned 29 days ago · seed disabled",
    ]
    assert h.store.reads == 0
    calls = len(h.store.calls)
    await h.say("pending")
    assert len(h.store.calls) == calls  # pending reads the index only: no secret-store call at all


async def test_pending_ages_come_from_the_enrollment_and_overdue_is_configurable(clock, tmp_path):
    h = await lifecycle_harness(clock, tmp_path, lifecycle=LifecycleSettings(overdue_after=timedelta(days=7),
                                                                             helpdesk_conversation_id=HELPDESK))
    for person, days_ago in ((ALICE, 8), (BOB, 7), (CAROL, 1)):
        h.store.seeds[person.object_id] = seed(person)
        burned = (clock.now() - timedelta(days=days_ago)).isoformat()
        await h.state.write({f"token/{person.object_id}": {"upn": person.upn, "burned_at": burned}})
    h.store.seeds[DAVE.object_id] = seed(DAVE)  # stored by another tool: no lifecycle record yet
    assert (await pending_blocks(h))[:2] == [  # not in the index until the sweeper repairs it
        "Tokens not delivered yet: 0", "0 burned (not shipped), 0 shipped; 0 overdue (more than 7 days since the "
        "token was burned)."]
    await reindex(h)
    assert await pending_blocks(h) == [
        "Tokens not delivered yet: 4",
        "4 burned (not shipped), 0 shipped; 1 overdue (more than 7 days since the token was burned).",
        "Tokens, overdue first, oldest first: 1–4 of 4.",
        "alice@contoso.example", "OVERDUE · not shipped yet · burned 8 days ago",
        "bob@contoso.example", "not shipped yet · burned 7 days ago",
        "carol@contoso.example", "not shipped yet · burned yesterday",
        "dave@contoso.example", "not shipped yet · burned today",
    ]
    assert await record(h, DAVE) == {"upn": DAVE.upn, "burned_at": "2026-11-28T09:00:10+00:00",
                                     "adopted_at": "2026-11-28T09:00:10+00:00"}  # adopted: its age counts from now
    await h.close()


async def test_pending_with_nothing_pending(clock, tmp_path):
    h = await lifecycle_harness(clock, tmp_path)
    assert await pending_blocks(h) == [
        "Tokens not delivered yet: 0",
        "0 burned (not shipped), 0 shipped; 0 overdue (more than 30 days since the token was burned)."]
    await h.close()


@pytest.mark.parametrize("env, message", [
    ({"OTPBOT_OVERDUE_DAYS": "0"},
     "Refusing to start: OTPBOT_OVERDUE_DAYS must be a whole number of days from 1 to 365, not '0'."),
    ({"OTPBOT_MAX_SEED_AGE_DAYS": "45d"},
     "Refusing to start: OTPBOT_MAX_SEED_AGE_DAYS must be a whole number of days from 1 to 365, not '45d'."),
])
def test_lifecycle_settings_refuse_nonsense(env, message):
    from bot.core.errors import ConfigurationError

    with pytest.raises(ConfigurationError) as error:
        LifecycleSettings.from_env(env)
    assert str(error.value) == message


def test_lifecycle_settings_from_env():
    assert LifecycleSettings.from_env({}) == LifecycleSettings()
    assert LifecycleSettings.from_env({"OTPBOT_OVERDUE_DAYS": "21", "OTPBOT_MAX_SEED_AGE_DAYS": "40",
                                       "OTPBOT_HELPDESK_CONVERSATION_ID": " 19:hd@thread.tacv2 "}) == \
        LifecycleSettings(timedelta(days=21), timedelta(days=40), "19:hd@thread.tacv2")


async def test_a_state_write_failing_after_the_purge_still_leaves_the_destruction_audited(h):
    real_write = h.state.write

    async def failing_token_write(changes):
        if any(change.get("status") == "destroyed" for change in changes.values()):
            raise DependencyUnavailable("The bot's shared state did not answer in time, so nothing was done.")
        await real_write(changes)

    h.state.write = failing_token_write
    assert texts(await h.say("delivered bob@contoso.example", user=LEE)) == [
        "The bot's shared state did not answer in time, so nothing was done."]
    assert BOB.object_id not in h.store.seeds
    assert [(e, d) for e, _, _, d in trail(h)] == [
        ("token.delivered", {"from": "shipped"}),
        ("token.destroyed", {"purged": "true", "purge_scheduled": ""}),
        ("token.change_failed", {"change": "destroyed", "reason": "DependencyUnavailable"}),
    ]
