"""The requester's card for a verification, built from the proof declarations (core/proofs.py).

One function decides what the requester sees next: the ticket (asked once), the inputs of the proofs they still
give (in policy order), the approvals asked of others, or Show code once their part is done.
"""

from __future__ import annotations

from datetime import tzinfo

from .proofs import CALLBACK, DECLARATIONS, LABELS, MANAGER_APPROVAL, PHONE_CODE, SECOND_AGENT_APPROVAL
from .verification import Verification
from .views import CardField, RevealCard, VerifyCard
from .window import clock_text

TICKET_FIELD = CardField("ticket", "Ticket or case reference", "text", 40, "Enter the ticket reference.")
DONE_TEXT = {CALLBACK: "Callback", PHONE_CODE: "Texted code read back"}


def requester_view(record: Verification, zone: tzinfo, error: str | None = None):
    if record.requester_done:
        return reveal_view(record)
    steps, fields = [], []
    code = record.code_sent
    submit = ("Verify", "verify")
    for name in record.missing_from_requester():
        if name == CALLBACK:
            steps.append(f"Hang up and call {record.target_name} back on the number of record: "
                         f"**{record.phone_hint}**. Never use a number the caller gives you.")
            fields += [CardField(i.id, i.label, i.kind, i.max_length) for i in DECLARATIONS[name].inputs]
        elif name == PHONE_CODE and code is None:
            steps.append(f"Press **Text the code**: I text a one-time code to {record.target_name}'s mobile of "
                         f"record (**{record.mobile_hint}**). Never use a number the caller gives you.")
            submit = ("Text the code", "send_code")
        elif name == PHONE_CODE:
            steps.append(f"I texted a code to **{record.mobile_hint}** at {clock_text(code.sent_at_time, zone)}; "
                         f"it is valid until {clock_text(code.expires_at(), zone)}. Ask the caller to read it to you.")
            fields += [CardField(i.id, i.label, i.kind, i.max_length, "Type the code the caller reads out.")
                       for i in DECLARATIONS[name].inputs]
            submit = ("Check code", "verify")
    if submit[1] == "send_code":  # the code goes first: the other inputs follow on the next card
        fields = []
    if not record.ticket:
        fields.insert(0, TICKET_FIELD)
    send_again = None
    if code is not None and code.resends_left > 0:
        send_again = f"Send again ({code.resends_left} left)"
    return VerifyCard(
        record.vid, record.target_name, record.target_upn, record.window.text,
        clock_text(record.expires_at(), zone, seconds=False), record.agent_oid, record.proofs_text(),
        tuple(steps), tuple(fields), submit, send_again, SECOND_AGENT_APPROVAL in record.awaiting(),
        record.conversation_id, tuple(_waiting(record)), record.ticket, error)


def reveal_view(record: Verification) -> RevealCard:
    given = [DONE_TEXT.get(p, LABELS[p]) for p in record.required if p in record.done and DECLARATIONS[p].by_requester]
    headline = " and ".join(given) + " recorded" if given else "Ticket recorded"
    waiting = ", ".join(LABELS[p] for p in record.missing()) or None
    return RevealCard(record.vid, record.target_name, record.target_upn, record.window.text, record.agent_oid,
                      waiting, headline, SECOND_AGENT_APPROVAL in record.awaiting(), record.conversation_id)


def _waiting(record: Verification) -> list[str]:
    lines = []
    for name in record.awaiting():
        if name == MANAGER_APPROVAL:
            lines.append(f"{record.manager_name or 'The manager of record'} (manager of record) is asked to approve in Teams.")
        elif name == SECOND_AGENT_APPROVAL:
            lines.append("Another agent must press **Approve as second agent**." if not record.personal else
                         "Another agent must approve: I posted the request to the helpdesk channel.")
    return lines

