"""GraphDirectory / GraphGroupMembership / GraphMailer against the local Graph mock (tests/support/graph_mock.py)."""

from __future__ import annotations

import logging
import socket
import time

import aiohttp
import pytest

from bot.adapters.graph import GraphClient, GraphDirectory, GraphGroupMembership, GraphMailer
from bot.core.errors import DependencyUnavailable
from bot.core.models import Person
from tests.support.graph_mock import StubGraphCredential, graph_mock  # noqa: F401  (fixture)

SELECT = "?$select=id,userPrincipalName,displayName,mobilePhone,businessPhones,accountEnabled"
ALICE_OID = "00000000-0000-4000-8000-0000000000c1"
LEE_OID = "00000000-0000-4000-8000-0000000000d1"
ALICE_MOBILE = "+44 20 7946 0958"
G1, G2, G3 = ("11111111-0000-4000-8000-00000000000" + c for c in "abc")
AGAIN = "Try again in a minute; if it keeps failing, tell the bot admin."
LOOKUP_TIMEOUT = f"Microsoft Graph did not answer in time, so the user could not be looked up. {AGAIN}"
LOOKUP_THROTTLED = ("Microsoft Graph is throttling the bot's requests, so the user could not be looked up. "
                    "Try again in a minute.")
LOOKUP_DENIED = ("Microsoft Graph refused the bot access, so the user could not be looked up. "
                 "Tell the bot admin to check the bot's Graph permissions.")


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def credential() -> StubGraphCredential:
    return StubGraphCredential()


@pytest.fixture
def client(graph_mock, session, credential) -> GraphClient:
    return GraphClient(session, credential, base_url=graph_mock.url)


@pytest.fixture
def alice(graph_mock) -> str:
    graph_mock.add_user("lee@contoso.example", object_id=LEE_OID, display_name="Lee Manager")
    return graph_mock.add_user("Alice@Contoso.example", object_id=ALICE_OID, display_name="Alice User",
                               mobile=ALICE_MOBILE, business_phones=("+44 20 7946 0000",),
                               manager="lee@contoso.example", groups=(G1, G3.upper()))


async def test_find_by_upn_returns_the_exact_person_with_mobile_and_manager(graph_mock, client, alice):
    person = await GraphDirectory(client).find_by_upn("alice@contoso.example")
    assert person == Person("alice@contoso.example", ALICE_OID, "Alice User", ALICE_MOBILE, "lee@contoso.example",
                            mobile=ALICE_MOBILE)
    assert graph_mock.raw_paths == [f"/v1.0/users/alice@contoso.example{SELECT}",
                                    f"/v1.0/users/{ALICE_OID}/manager?$select=userPrincipalName"]


async def test_business_phone_is_the_fallback_and_no_manager_is_none(graph_mock, client):
    oid = graph_mock.add_user("bob@contoso.example", display_name="Bob", business_phones=("", "+1 425 555 0143"))
    assert await GraphDirectory(client).find_by_upn("bob@contoso.example") == Person(
        "bob@contoso.example", oid, "Bob", "+1 425 555 0143", None)


async def test_no_phone_at_all_is_none(graph_mock, client):
    oid = graph_mock.add_user("carol@contoso.example", display_name="Carol", mobile="  ")
    assert await GraphDirectory(client).find_by_upn("carol@contoso.example") == Person(
        "carol@contoso.example", oid, "Carol", None, None)


async def test_unknown_user_is_none_without_a_manager_call(graph_mock, client, alice):
    assert await GraphDirectory(client).find_by_upn("nobody@contoso.example") is None
    assert dict(graph_mock.counts) == {"user": 1}


async def test_upn_match_ignores_case(graph_mock, client, alice):
    person = await GraphDirectory(client).find_by_upn("ALICE@contoso.EXAMPLE")
    assert (person.upn, person.object_id) == ("alice@contoso.example", ALICE_OID)
    assert graph_mock.raw_paths[0] == f"/v1.0/users/ALICE@contoso.EXAMPLE{SELECT}"


async def test_a_different_returned_upn_is_not_a_match(graph_mock, client, alice):
    graph_mock.aliases["alice.old@contoso.example"] = ALICE_OID
    directory = GraphDirectory(client)
    assert await directory.find_by_upn("alice.old@contoso.example") is None
    assert await directory.find_by_upn(ALICE_OID) is None  # /users/{key} resolves ids too
    assert graph_mock.counts == {"user": 2}


async def test_special_characters_are_percent_encoded_in_the_path(graph_mock, client):
    oid = graph_mock.add_user("o'neil@contoso.example", display_name="Pat O'Neil", mobile="+353 1 555 0100")
    guest = graph_mock.add_user("ada_fabrikam.com#EXT#@contoso.example", display_name="Ada Guest")
    directory = GraphDirectory(client)
    assert await directory.find_by_upn("o'neil@contoso.example") == Person(
        "o'neil@contoso.example", oid, "Pat O'Neil", "+353 1 555 0100", None, mobile="+353 1 555 0100")
    assert (await directory.find_by_upn("ada_fabrikam.com#EXT#@contoso.example")).object_id == guest
    assert graph_mock.raw_paths[0] == f"/v1.0/users/o%27neil@contoso.example{SELECT}"
    assert graph_mock.raw_paths[2] == f"/v1.0/users/ada_fabrikam.com%23EXT%23@contoso.example{SELECT}"


async def test_a_disabled_account_is_found_and_marked_disabled(graph_mock, client):
    oid = graph_mock.add_user("gone@contoso.example", display_name="Gone User", mobile="+1 425 555 0199",
                              enabled=False)
    assert await GraphDirectory(client).find_by_upn("gone@contoso.example") == Person(
        "gone@contoso.example", oid, "Gone User", "+1 425 555 0199", None, enabled=False, mobile="+1 425 555 0199")
    assert await GraphDirectory(client).find_by_object_id(oid) == Person(
        "gone@contoso.example", oid, "Gone User", "+1 425 555 0199", None, enabled=False, mobile="+1 425 555 0199")


async def test_missing_account_enabled_fails_closed(graph_mock, client):
    graph_mock.add_user("basic@contoso.example", enabled=None)
    with pytest.raises(DependencyUnavailable) as caught:
        await GraphDirectory(client).find_by_upn("basic@contoso.example")
    assert caught.value.message == (
        "Microsoft Graph did not say whether the account is enabled, so the user could not be looked up. "
        "Tell the bot admin to check the bot's Graph permissions (User.Read.All).")


async def test_find_by_object_id(graph_mock, client, alice):
    directory = GraphDirectory(client)
    expected = Person("alice@contoso.example", ALICE_OID, "Alice User", ALICE_MOBILE, "lee@contoso.example",
                      mobile=ALICE_MOBILE)
    assert await directory.find_by_object_id(ALICE_OID.upper()) == expected
    assert await directory.find_by_object_id("00000000-0000-4000-8000-000000000999") is None
    assert await directory.find_by_object_id("alice@contoso.example") is None  # not an id: no request at all
    assert graph_mock.counts == {"user": 2, "manager": 1}
    assert graph_mock.raw_paths[0] == f"/v1.0/users/{ALICE_OID}{SELECT}"


async def test_member_of_returns_the_intersection_and_sends_the_exact_body(graph_mock, client, alice):
    groups = GraphGroupMembership(client)
    assert await groups.member_of(ALICE_OID, [G1, G2.upper(), G3, G1]) == {G1, G3}
    assert graph_mock.member_checks == [(ALICE_OID, {"groupIds": [G1, G2, G3]})]
    assert graph_mock.raw_paths == [f"/v1.0/users/{ALICE_OID}/checkMemberGroups"]
    graph_mock.extra_groups = [G2.upper()]  # never more than was asked, even if Graph says so
    assert await groups.member_of(ALICE_OID, [G1]) == {G1}


async def test_member_of_splits_more_than_20_groups_and_skips_empty_requests(graph_mock, client, alice):
    many = [f"22222222-0000-4000-8000-{i:012d}" for i in range(23)] + [G3]
    groups = GraphGroupMembership(client)
    assert await groups.member_of(ALICE_OID, many) == {G3}
    assert [len(body["groupIds"]) for _, body in graph_mock.member_checks] == [20, 4]
    assert await groups.member_of(ALICE_OID, []) == set()
    assert await groups.member_of("00000000-0000-4000-8000-000000000999", [G1]) == set()  # 404: member of nothing
    assert graph_mock.counts == {"checkMemberGroups": 3}


async def test_send_mail_posts_the_exact_json(graph_mock, client):
    await GraphMailer(client, "otp-bot@contoso.example").send("alice@contoso.example", "Your code", "123 456\n")
    assert graph_mock.sent_mail == [("otp-bot@contoso.example", {
        "message": {"subject": "Your code", "body": {"contentType": "Text", "content": "123 456\n"},
                    "toRecipients": [{"emailAddress": {"address": "alice@contoso.example"}}]},
        "saveToSentItems": False})]
    assert graph_mock.raw_paths == ["/v1.0/users/otp-bot@contoso.example/sendMail"]


async def test_long_retry_after_gives_up_at_once(graph_mock, client, alice):
    graph_mock.fail("user", "429", retry_after=30, times=None)
    started = time.monotonic()
    with pytest.raises(DependencyUnavailable) as caught:
        await GraphDirectory(client).find_by_upn("alice@contoso.example")
    assert time.monotonic() - started < 1.0
    assert caught.value.message == LOOKUP_THROTTLED
    assert graph_mock.counts == {"user": 1}


async def test_retry_after_above_one_second_gives_up_even_within_the_deadline(graph_mock, client, alice):
    graph_mock.fail("user", "429", retry_after=2)
    started = time.monotonic()
    with pytest.raises(DependencyUnavailable) as caught:
        await GraphDirectory(client).find_by_upn("alice@contoso.example")
    assert time.monotonic() - started < 1.0
    assert (caught.value.message, graph_mock.counts) == (LOOKUP_THROTTLED, {"user": 1})


async def test_short_retry_after_is_honoured_once(graph_mock, client, alice):
    graph_mock.fail("user", "429", retry_after=1)
    started = time.monotonic()
    person = await GraphDirectory(client).find_by_upn("alice@contoso.example")
    assert 1.0 <= time.monotonic() - started < 2.0
    assert person.object_id == ALICE_OID
    assert graph_mock.counts == {"user": 2, "manager": 1}


async def test_server_error_is_not_retried(graph_mock, client, alice):
    graph_mock.fail("user", "500")
    with pytest.raises(DependencyUnavailable) as caught:
        await GraphDirectory(client).find_by_upn("alice@contoso.example")
    assert caught.value.message == f"Microsoft Graph answered with an error, so the user could not be looked up. {AGAIN}"
    assert graph_mock.counts == {"user": 1}


async def test_503_is_retried_twice_at_most(graph_mock, client, alice):
    graph_mock.fail("checkMemberGroups", "503", times=2)
    assert await GraphGroupMembership(client).member_of(ALICE_OID, [G1]) == {G1}
    graph_mock.fail("checkMemberGroups", "504", times=None)
    with pytest.raises(DependencyUnavailable) as caught:
        await GraphGroupMembership(client).member_of(ALICE_OID, [G1])
    assert caught.value.message == (
        f"Microsoft Graph did not answer in time, so group membership could not be checked. {AGAIN}")
    assert graph_mock.counts == {"checkMemberGroups": 6}


async def test_dropped_connection_is_resent_once_by_aiohttp_for_get(graph_mock, client, alice):
    graph_mock.fail("manager", "drop")
    assert (await GraphDirectory(client).find_by_upn("alice@contoso.example")).manager_upn == "lee@contoso.example"
    graph_mock.fail("manager", "drop", times=2)  # aiohttp's own resend is the only one: no third request
    with pytest.raises(DependencyUnavailable) as caught:
        await GraphDirectory(client).find_by_upn("alice@contoso.example")
    assert caught.value.message == LOOKUP_TIMEOUT
    assert graph_mock.counts == {"user": 2, "manager": 4}


async def test_dropped_connection_is_retried_for_check_member_groups(graph_mock, client, alice):
    graph_mock.fail("checkMemberGroups", "drop", times=2)
    assert await GraphGroupMembership(client).member_of(ALICE_OID, [G1]) == {G1}
    assert graph_mock.counts == {"checkMemberGroups": 3}


async def test_refused_connection_is_retried_twice(session, credential):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    client = GraphClient(session, credential, base_url=f"http://127.0.0.1:{port}/v1.0")
    started = time.monotonic()
    with pytest.raises(DependencyUnavailable) as caught:
        await GraphGroupMembership(client).member_of(ALICE_OID, [G1])
    assert 0.6 <= time.monotonic() - started < 1.5  # backoff 0.2 s + 0.4 s between the three attempts
    assert caught.value.message == (
        f"Microsoft Graph did not answer in time, so group membership could not be checked. {AGAIN}")


@pytest.mark.parametrize("fault", ["drop", "503"])
async def test_send_mail_is_not_retried_when_graph_may_have_taken_it(graph_mock, client, fault):
    graph_mock.fail("sendMail", fault)
    with pytest.raises(DependencyUnavailable) as caught:
        await GraphMailer(client, "otp-bot@contoso.example").send("alice@contoso.example", "s", "b")
    assert caught.value.message == f"Microsoft Graph did not answer in time, so the e-mail may not have been sent. {AGAIN}"
    assert graph_mock.counts == {"sendMail": 1}
    assert graph_mock.sent_mail == []


async def test_send_mail_is_retried_after_a_short_429(graph_mock, client):
    graph_mock.fail("sendMail", "429", retry_after=0)
    await GraphMailer(client, "otp-bot@contoso.example").send("alice@contoso.example", "s", "b")
    assert (graph_mock.counts, len(graph_mock.sent_mail)) == ({"sendMail": 2}, 1)


async def test_hang_ends_at_the_deadline_across_both_calls(graph_mock, session, credential, alice):
    client = GraphClient(session, credential, base_url=graph_mock.url, deadline=1.0)
    graph_mock.fail("manager", "hang")
    started = time.monotonic()
    with pytest.raises(DependencyUnavailable) as caught:
        await GraphDirectory(client).find_by_upn("alice@contoso.example")
    assert 1.0 <= time.monotonic() - started < 1.5  # one deadline for user + manager, not one each
    assert caught.value.message == LOOKUP_TIMEOUT
    assert GraphClient(session, credential).deadline == 3.0


@pytest.mark.parametrize("fault", ["401", "403"])
async def test_refused_access(graph_mock, client, credential, alice, fault):
    graph_mock.fail("user", fault)
    with pytest.raises(DependencyUnavailable) as caught:
        await GraphDirectory(client).find_by_upn("alice@contoso.example")
    assert caught.value.message == LOOKUP_DENIED
    assert graph_mock.counts == {"user": 1}
    await GraphDirectory(client).find_by_upn("alice@contoso.example")
    assert credential.calls == (2 if fault == "401" else 1)  # a 401 drops the cached token


async def test_a_token_graph_rejects_is_refused_access(graph_mock, session, alice):
    client = GraphClient(session, StubGraphCredential("wrong-token"), base_url=graph_mock.url)
    with pytest.raises(DependencyUnavailable) as caught:
        await GraphDirectory(client).find_by_upn("alice@contoso.example")
    assert (caught.value.message, graph_mock.unauthorized) == (LOOKUP_DENIED, 1)


async def test_token_failure(graph_mock, session):
    client = GraphClient(session, StubGraphCredential(fail=True), base_url=graph_mock.url)
    with pytest.raises(DependencyUnavailable) as caught:
        await GraphMailer(client, "otp-bot@contoso.example").send("alice@contoso.example", "s", "b")
    assert caught.value.message == ("The bot could not sign in to Microsoft Graph, so the e-mail may not have been "
                                    "sent. Tell the bot admin to check the bot's identity.")
    assert graph_mock.counts == {}


async def test_token_is_fetched_once_and_cached(graph_mock, client, credential, alice):
    await GraphDirectory(client).find_by_upn("alice@contoso.example")
    await GraphGroupMembership(client).member_of(ALICE_OID, [G1])
    await GraphMailer(client, "otp-bot@contoso.example").send("alice@contoso.example", "s", "b")
    assert (credential.calls, credential.scopes) == (1, [("https://graph.microsoft.com/.default",)])
    assert graph_mock.unauthorized == 0


async def test_token_near_expiry_is_fetched_again(graph_mock, session, alice):
    credential = StubGraphCredential(expires_in=120)
    client = GraphClient(session, credential, base_url=graph_mock.url)
    await GraphGroupMembership(client).member_of(ALICE_OID, [G1])
    await GraphGroupMembership(client).member_of(ALICE_OID, [G1])
    assert credential.calls == 2


async def test_from_credential_owns_its_session_and_credential(graph_mock, credential, alice):
    directory = GraphDirectory.from_credential(credential, base_url=graph_mock.url)
    assert (await directory.find_by_upn("alice@contoso.example")).object_id == ALICE_OID
    await directory.close()
    assert credential.closed is False  # shared credentials stay open
    client = GraphClient.from_credential(credential, base_url=graph_mock.url, owns_credential=True)
    await GraphMailer(client, "otp-bot@contoso.example").send("alice@contoso.example", "s", "b")
    await client.close()
    assert credential.closed is True


async def test_no_token_or_phone_number_reaches_the_log(graph_mock, session, client, alice, caplog):
    caplog.set_level(logging.DEBUG)
    directory, groups = GraphDirectory(client), GraphGroupMembership(client)
    await directory.find_by_upn("alice@contoso.example")
    for fault in ("500", "401", "403", "429", "503"):
        graph_mock.fail("user", fault, retry_after=30)
        with pytest.raises(DependencyUnavailable):
            await directory.find_by_upn("alice@contoso.example")
    graph_mock.fail("checkMemberGroups", "429", retry_after=0)
    await groups.member_of(ALICE_OID, [G1])
    graph_mock.fail("checkMemberGroups", "drop")
    await groups.member_of(ALICE_OID, [G1])
    with pytest.raises(DependencyUnavailable):
        await GraphDirectory(GraphClient(session, StubGraphCredential(fail=True), base_url=graph_mock.url)
                             ).find_by_upn("alice@contoso.example")
    text = "\n".join(logging.Formatter("%(name)s %(message)s").format(r) for r in caplog.records)
    assert text.count("bot.adapters.graph") == 8  # every failure was logged, so the check below means something
    for secret in ("test-token", "Bearer", "Authorization:", "7946", "0958", "injected fault", "secret expired"):
        assert secret not in text


async def test_the_tenants_country_decides_where_codes_may_be_texted_by_default(graph_mock, client):
    from bot.adapters.graph import tenant_country
    from bot.core.countries import TenantCountry

    countries = TenantCountry(lambda: tenant_country(client))
    assert await countries.calling_codes() == frozenset({"+44"})
    assert await countries.calling_codes() == frozenset({"+44"})
    assert graph_mock.raw_paths == ["/v1.0/organization?$select=countryLetterCode"]  # read once
    graph_mock.fail("organization", "503", times=None)
    with pytest.raises(DependencyUnavailable):
        await tenant_country(client)
