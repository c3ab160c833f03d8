"""Every proof policy the settings accept reaches a released code, end to end through the HTTP edge.

The list is not written by hand: it is every combination of the declared proofs that ProofPolicy.parse accepts,
for ordinary targets (OTPBOT_PROOFS_STANDARD), privileged ones (OTPBOT_PROOFS_PRIVILEGED) and targets without a
mobile (OTPBOT_PROOFS_NO_MOBILE). The driver does what each proof's declaration says: the requester fills the
card's inputs (ticket, callback box, the code from the SMS outbox), a second agent or the manager approves.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from bot.core.errors import ConfigurationError
from bot.core.proofs import PROOFS, ProofPolicy
from tests.support.fakes import FakeDirectory
from tests.support.harness import (ADA_PERSON, ALICE, BEN_PERSON, CARL, LEE, MIA, card_of, card_texts,
                                   start_harness)
from tests.support.teams import BEN, MIA as MIA_USER

ADA_OID = "00000000-0000-4000-8000-0000000000a1"
COMBINATIONS = [",".join(c) for n in range(1, len(PROOFS) + 1) for c in itertools.combinations(PROOFS, n)]


def accepted(setting: str) -> list[str]:
    names = []
    for combination in COMBINATIONS:
        env = {"standard": (combination, "phone_code,second_agent_approval", "callback,second_agent_approval"),
               "privileged": ("phone_code", combination, "callback,second_agent_approval"),
               "no_mobile": ("phone_code", "phone_code,second_agent_approval", combination)}[setting]
        try:
            ProofPolicy.parse(*env)
        except ConfigurationError:
            continue
        names.append(combination)
    return names


CASES = ([("standard", p) for p in accepted("standard")] + [("privileged", p) for p in accepted("privileged")]
         + [("no_mobile", p) for p in accepted("no_mobile")])


def test_the_accepted_policies_are_what_the_rules_say():
    assert len(accepted("standard")) == 15  # any proof, alone or combined
    assert "callback,phone_code" not in accepted("privileged")  # the requester alone could give both
    assert accepted("no_mobile") == ["callback,manager_approval", "callback,second_agent_approval",
                                     "manager_approval,second_agent_approval",
                                     "callback,manager_approval,second_agent_approval"]
    assert len(CASES) == 15 + 10 + 4


@pytest.mark.parametrize("setting, proofs", CASES, ids=[f"{s}={p}" for s, p in CASES])
async def test_every_accepted_policy_reaches_a_released_code(clock, tmp_path, setting, proofs):
    env = {"OTPBOT_PROOFS_STANDARD": "phone_code", "OTPBOT_PROOFS_PRIVILEGED": "phone_code,second_agent_approval",
           "OTPBOT_PROOFS_NO_MOBILE": "callback,second_agent_approval"}
    env[{"standard": "OTPBOT_PROOFS_STANDARD", "privileged": "OTPBOT_PROOFS_PRIVILEGED",
         "no_mobile": "OTPBOT_PROOFS_NO_MOBILE"}[setting]] = proofs
    target = {"standard": ALICE, "privileged": replace(LEE, manager_upn=MIA.upn), "no_mobile": CARL}[setting]
    directory = FakeDirectory(ALICE, CARL, ADA_PERSON, MIA, replace(LEE, manager_upn=MIA.upn), BEN_PERSON)
    h = await start_harness(clock, tmp_path, policy={}, env=env, directory=directory)
    try:
        expected = proofs.split(",")
        sent = await h.say(f"code {target.upn}")
        card = card_of(sent[0])
        assert f"Proofs needed: {', '.join(_labels(expected))}." in card_texts(card)
        vid = card["actions"][0]["data"]["vid"]
        body = await _requester_part(h, vid, card, expected)
        if "second_agent_approval" in expected:
            approve = next(a for a in body["actions"] if a["verb"] == "approve_agent")
            await h.click("approve_agent", approve["data"], user=BEN)
        if "manager_approval" in expected:
            [(manager_oid, request)] = h.notifier.to_users
            assert manager_oid == MIA.object_id
            await h.click("approve_manager", {"vid": request.vid, "requester": request.requester,
                                              "conversation": request.conversation_id}, user=MIA_USER)
        result, _ = await h.click("reveal", {"vid": vid, "requester": ADA_OID})
        assert card_texts(result["value"])[:2] == [f"Code for {target.display_name} ({target.upn})", "361 520"]
        released = h.audit.entries[-1]
        assert (released.event, released.details["proofs"]) == ("code.released", proofs)
        approvers = {p: BEN.oid if p == "second_agent_approval" else MIA.object_id
                     for p in expected if p in ("second_agent_approval", "manager_approval")}
        assert released.details["approvers"] == ",".join(f"{p}={approvers[p]}" for p in _given_order(h, vid)
                                                         if p in approvers)
        assert bool(h.texts_sent()) == ("phone_code" in expected)
    finally:
        await h.close()


async def _requester_part(h, vid, card, expected):
    """Ticket, callback box and the texted code, as the card asks for them; returns the Show code card."""
    data = {"vid": vid, "requester": ADA_OID, "ticket": "INC-4242", "calledBack": "true"}
    for _ in range(4):
        verb = card["actions"][0]["verb"]
        if verb == "reveal":
            return card
        if verb == "verify" and "phone_code" in expected:
            data["phoneCode"] = h.last_code()
        body, _ = await h.click(verb, data)
        card = body["value"]
    raise AssertionError(f"the requester's part did not end: {card_texts(card)}")


def _labels(names):
    from bot.core.proofs import LABELS

    return [LABELS[n] for n in names]


def _given_order(h, vid):
    """The order the approvals were given in (the release record lists them so)."""
    return [r.details["proof"] for r in h.audit.entries if r.event == "approval.granted"]
