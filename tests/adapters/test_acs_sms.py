"""AcsSmsSender through the real azure-communication-sms SmsClient against the loopback ACS SMS emulator."""

from __future__ import annotations

import logging
import re
import socket
import time

import pytest

from bot.adapters.acs_sms import AcsSmsSender
from bot.core.errors import SmsNotSent, SmsOutcomeUnknown
from tests.support.acs_emulator import acs_emulator  # noqa: F401  (fixture)
from tests.support.kv_emulator import StubCredential

FROM, TO = "+18005550123", "+447700900958"
TEXT = "Contoso IT: your helpdesk verification code is 482 193. Read it only to the agent who called you."


def sender(emulator, credential=None, **kw) -> AcsSmsSender:
    return AcsSmsSender.from_endpoint(emulator.url, FROM, credential or StubCredential(),
                                      connection_verify=str(emulator.cert.cert), **kw)


async def test_a_text_is_sent_with_the_managed_identity_token_and_returns_the_message_id(acs_emulator):
    credential = StubCredential()
    sms = sender(acs_emulator, credential)
    try:
        message_id = await sms.send(TO, TEXT)
    finally:
        await sms.close()
    [request] = acs_emulator.requests
    assert request["query"] == {"api-version": "2021-03-07"}
    assert request["headers"]["Authorization"] == "Bearer fake-token"
    assert credential.requests[0][0] == ("https://communication.azure.com//.default",)
    body = request["body"]
    assert (body["from"], body["message"], [r["to"] for r in body["smsRecipients"]]) == (FROM, TEXT, [TO])
    assert body["smsRecipients"][0]["repeatabilityRequestId"]
    assert re.fullmatch(r"Outgoing_\d{4}_noam", message_id)


async def test_the_message_id_is_the_providers(acs_emulator):
    sms = sender(acs_emulator)
    try:
        first, second = await sms.send(TO, TEXT), await sms.send(TO, TEXT)
    finally:
        await sms.close()
    assert first.startswith("Outgoing_") and first.endswith("_noam") and first != second


@pytest.mark.parametrize("fault, reason", [("recipient", "rejected"), ("401", "refused"), ("403", "refused")])
async def test_refusals_are_not_sent_and_not_retried(acs_emulator, fault, reason):
    acs_emulator.set_fault(fault, times=None)
    sms = sender(acs_emulator)
    try:
        with pytest.raises(SmsNotSent) as caught:
            await sms.send(TO, TEXT)
    finally:
        await sms.close()
    assert caught.value.reason == reason
    assert len(acs_emulator.requests) == 1


async def test_a_short_429_is_retried_with_the_same_repeatability_id(acs_emulator):
    acs_emulator.set_fault("429", times=1, retry_after=0.2)
    sms = sender(acs_emulator)
    try:
        assert (await sms.send(TO, TEXT)).startswith("Outgoing_")
    finally:
        await sms.close()
    ids = [r["body"]["smsRecipients"][0]["repeatabilityRequestId"] for r in acs_emulator.requests]
    assert len(ids) == 2 and ids[0] == ids[1]  # the service deduplicates on it: never two texts


async def test_a_long_retry_after_gives_up_at_once_and_a_persistent_429_after_the_cap(acs_emulator):
    acs_emulator.set_fault("429", times=1, retry_after=30)
    sms = sender(acs_emulator)
    try:
        started = time.monotonic()
        with pytest.raises(SmsNotSent) as caught:
            await sms.send(TO, TEXT)
        assert time.monotonic() - started < 1 and caught.value.reason == "throttled"
        assert len(acs_emulator.requests) == 1
        acs_emulator.set_fault("429", times=None, retry_after=0)
        with pytest.raises(SmsNotSent):
            await sms.send(TO, TEXT)
    finally:
        await sms.close()
    assert len(acs_emulator.requests) == 1 + 3  # the first try and two retries


async def test_a_500_is_an_unknown_outcome_and_is_never_re_sent(acs_emulator):
    acs_emulator.set_fault("500", times=None)
    sms = sender(acs_emulator)
    try:
        with pytest.raises(SmsOutcomeUnknown):
            await sms.send(TO, TEXT)
    finally:
        await sms.close()
    assert len(acs_emulator.requests) == 1


async def test_a_hang_ends_within_the_deadline_as_an_unknown_outcome(acs_emulator):
    acs_emulator.set_fault("hang")
    sms = sender(acs_emulator)
    try:
        started = time.monotonic()
        with pytest.raises(SmsOutcomeUnknown):
            await sms.send(TO, TEXT)
        assert time.monotonic() - started <= 3.5
    finally:
        await sms.close()
    assert len(acs_emulator.requests) == 1


async def test_nothing_listening_is_not_sent(acs_emulator):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sms = AcsSmsSender.from_endpoint(f"https://127.0.0.1:{port}", FROM, StubCredential(),
                                     connection_verify=str(acs_emulator.cert.cert))
    try:
        with pytest.raises(SmsNotSent) as caught:
            await sms.send(TO, TEXT)
    finally:
        await sms.close()
    assert caught.value.reason == "unreachable"


async def test_no_text_or_number_reaches_the_log(acs_emulator, caplog):
    caplog.set_level(logging.DEBUG)
    acs_emulator.set_fault("recipient")
    sms = sender(acs_emulator)
    try:
        with pytest.raises(SmsNotSent):
            await sms.send(TO, TEXT)
        await sms.send(TO, TEXT)
    finally:
        await sms.close()
    logged = "\n".join(f"{r.getMessage()} {r.args}" for r in caplog.records)
    assert "482 193" not in logged and "482193" not in logged and "7700900958" not in logged
