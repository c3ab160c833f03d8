"""`enroll <upn>`: the seed arrives only through the card's password-style input, is checked against the code the
token (or setup page) shows, and is stored with status burned. No reply, card, log line or audit record ever
carries it: an error re-shows the card with the non-secret fields only.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ..core import audit_events as events
from ..core.commands import Enroll
from ..core.errors import InvalidInput, SeedNotFound, UserError
from ..core.models import ALLOWED_DIGITS, ALLOWED_PERIODS, Algorithm, Person, Seed, TokenStatus, TotpParams
from ..core.policy import LEAD
from ..core.seed_in_chat import looks_like_seed
from ..core.seed_input import parse_seed_input
from ..core.totp import matches, require_strong
from ..core.upn import normalise_upn
from ..core.views import ActionOutcome, EnrollCard, Text
from .context import Action, Services, Turn, require_role
from .seed_custody import announce, four_eyes_reasons, require_custody
from .token_records import ACTIVE, audit_failed_change, find_person, replace_record

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/#()-]{0,39}$")
WRONG_CODE = ("That code does not match the secret key now (checked one step either side), so nothing was saved. "
              "Check the key, the period, digits and algorithm, and the token's clock, then try a fresh code.")
NOT_A_LABEL = "The {field} may hold letters, digits, spaces and . _ / # ( ) - (up to 40 characters)."
SECRET_IN_FIELD = ("The {field} field looks like it holds a secret key, so nothing was saved. Put the key only in "
                   "the secret key field, which is hidden.")
OTHER_ACCOUNT = "That otpauth link names a different account than {upn}, so nothing was saved."


async def show_card(s: Services, turn: Turn, command: Enroll) -> list:
    person = await find_person(s, command.upn, enabled_only=True)
    return [EnrollCard(person.display_name, person.upn)]


async def submit(s: Services, action: Action) -> ActionOutcome:
    """The card's Action.Execute. Provisioning step 3 comes here too, with `run` in the data."""
    person = await find_person(s, normalise_upn(str(action.data.get("upn", ""))), enabled_only=True)
    run = str(action.data.get("run", ""))
    if run:
        from . import provision

        return await provision.capture(s, action, person, run)
    card = EnrollCard(person.display_name, person.upn)
    try:
        saved = await enroll(s, action, person)
    except UserError as error:
        return ActionOutcome(refill(card, action.data, error.message))
    who = action.agent.display_name or "An agent"
    return ActionOutcome(Text(saved), (f"{who} enrolled a token for {person.display_name} ({person.upn}).",))


async def enroll(s: Services, action: Action, person: Person) -> str:
    """Checks and stores the seed; returns the reply. Raises UserError (nothing saved) otherwise."""
    data, actor = action.data, action.agent.object_id
    serial, model = label(data.get("serial"), "serial"), label(data.get("model"), "model")
    parsed = parse_seed_input(str(data.get("seed", "")))
    params = parsed.params or card_params(data)  # an otpauth link's own parameters win
    if parsed.account and "@" in parsed.account and parsed.account.strip().lower() != person.upn:
        raise InvalidInput(OTHER_ACCOUNT.format(upn=person.upn))
    code = "".join(str(data.get("code", "")).split())
    if not (code.isascii() and code.isdigit() and len(code) == params.digits):
        raise InvalidInput(f"Type the {params.digits}-digit code the token shows now, so I can check the key.")
    require_strong(parsed.secret)
    previous = await _previous_status(s, person)
    replacing = previous in ACTIVE
    if replacing:
        await _require_replace(s, action, person, previous)
    details = {"serial": serial, "model": model, "period": str(params.period), "digits": str(params.digits),
               "algorithm": params.algorithm.value}
    reasons = await four_eyes_reasons(s, person, previous)
    if not matches(parsed.secret, params, code, s.clock.now(), steps=1):
        await s.audit.append(events.TOKEN_ENROLL_REFUSED, actor, person.upn, {**details, "reason": "code_mismatch"})
        raise InvalidInput(WRONG_CODE)
    approver = await require_custody(s, action.agent, person, reasons, details)
    await s.audit.append(events.TOKEN_ENROLLED, actor, person.upn, {
        **details, "replaced": "true" if replacing else "false", "previous": previous.value if previous else "",
        "four_eyes": ",".join(reasons), "approved_by": approver})
    try:
        await s.secrets.put_seed(Seed(person.object_id, person.upn, parsed.secret, params, TokenStatus.BURNED,
                                      serial or None))
    except Exception as error:
        await audit_failed_change(s, actor, person.upn, "enrolled", error)
        raise
    await announce(s, action.agent, person, approver, reasons)
    now = s.clock.now()
    await replace_record(s, person.object_id, {"upn": person.upn, "status": TokenStatus.BURNED.value,
                                               "burned_at": now.isoformat(), "serial": serial, "model": model,
                                               "enrolled_by": actor})
    token = f"serial {serial}, " if serial else ""
    return (f"Saved the token for {person.display_name} ({person.upn}): {token}{params.period} s, {params.digits} "
            f"digits, {params.algorithm.value}; status burned. The code matched.")


def refill(card: EnrollCard, data: dict, error: str) -> EnrollCard:
    """The card again with the reason and the non-secret fields as typed; never the seed or the code."""
    values = {}
    for field in ("serial", "model"):
        try:
            values[field] = label(data.get(field), field)
        except InvalidInput:
            values[field] = ""
    try:
        params = card_params(data)
        values.update(period=params.period, digits=params.digits, algorithm=params.algorithm.value)
    except InvalidInput:
        pass
    return replace(card, **values, error=error)


def card_params(data: dict) -> TotpParams:
    period, digits = str(data.get("period") or "30"), str(data.get("digits") or "6")
    if period not in map(str, ALLOWED_PERIODS):
        raise InvalidInput("Choose a period of 30 or 60 seconds.")
    if digits not in map(str, ALLOWED_DIGITS):
        raise InvalidInput("Choose 6 or 8 digits.")
    try:
        algorithm = Algorithm(str(data.get("algorithm") or "SHA1").upper())
    except ValueError:
        raise InvalidInput("Choose SHA1, SHA256 or SHA512.") from None
    return TotpParams(int(period), int(digits), algorithm)


def label(raw: object, field: str) -> str:
    """Serial and model: short, printable, and never something that could be the seed typed in the wrong box."""
    text = " ".join(str(raw or "").split())
    if not text:
        return ""
    if looks_like_seed(text):
        raise InvalidInput(SECRET_IN_FIELD.format(field=field))
    if not _LABEL.match(text):
        raise InvalidInput(NOT_A_LABEL.format(field=field))
    return text


async def _previous_status(s: Services, person: Person) -> TokenStatus | None:
    try:
        return (await s.secrets.describe(person.object_id)).status  # metadata only
    except SeedNotFound:
        return None


async def _require_replace(s: Services, action: Action, person: Person, previous: TokenStatus) -> None:
    if str(action.data.get("replace", "")).lower() != "true":
        raise InvalidInput(
            f"{person.display_name} already has an active token ({previous.value}), so nothing was saved. "
            f"Revoke it first with `revoke {person.upn}`, or ask a lead to replace it (the Replace option).")
    await require_role(s, action.agent, LEAD, "enroll_replace", target=person.upn, fresh=True,
                       refusal="Only helpdesk leads can replace an active seed, so nothing was saved.")
