"""Token lifecycle views -> Adaptive Cards. Registered on cards.render; imported at the end of cards.py.

The enrollment card is schema 1.5: `style: "Password"` on Input.Text is a 1.5 feature (Teams renders 1.5).
With Action.Execute, Teams merges the card's input values into the action's data.
"""

from __future__ import annotations

from ...core.pending import PAGE_SIZE
from ...core.views import EnrollApprovalCard, EnrollCard, PendingCard, RunbookCard
from .cards import _card, _execute, _no_inputs, _text, render

SECRET_HELP = ("Enter the secret key shown under \"Can't scan image?\" (spaces and lower case are fine), or an "
               "otpauth://totp/ link, whose period, digits and algorithm then win. It is hidden, checked against "
               "the code below, and never shown again.")


def _input(id_: str, label: str, value: str = "", **extra) -> dict:
    element = {"type": "Input.Text", "id": id_, "label": label, **extra}
    if value:
        element["value"] = value
    return element


def _choices(id_: str, label: str, value: str, options: tuple[tuple[str, str], ...]) -> dict:
    return {"type": "Input.ChoiceSet", "id": id_, "label": label, "style": "compact", "value": value,
            "choices": [{"title": title, "value": v} for title, v in options]}


@render.register
def _(view: EnrollApprovalCard) -> dict:
    return _card([_text("Approval needed: storing a token seed", weight="Bolder"),
                  _text(f"{view.requester_name} asks to store a seed for {view.target_name} ({view.target_upn}): "
                        f"{view.why}. Whoever knows a seed can compute its codes; approve only if you know why."),
                  _text("Only a lead's own Approve counts; the requester then saves the seed within 30 minutes.")],
                 [_execute("Approve as lead", "approve_enroll", {"upn": view.target_upn, "requester": view.requester},
                           style="positive")])


@render.register
def _(view: EnrollCard) -> dict:
    body = [_text(view.title or f"Enroll a token for {view.target_name} ({view.target_upn})", weight="Bolder")]
    if view.error:
        body.append(_text(view.error, color="Attention"))
    if view.note:
        body.append(_text(view.note))
    body += [
        _text(SECRET_HELP),
        _input("seed", "Secret key or otpauth://totp/ link", style="Password", isRequired=True, maxLength=512,
               errorMessage="Enter the secret key."),
        _input("code", "Current code shown by the token (or the setup page)", isRequired=True, maxLength=9,
               errorMessage="Enter the current code."),
        _input("serial", "Token serial number", view.serial, maxLength=40),
        _input("model", "Token model", view.model, maxLength=40),
        _choices("period", "Period", str(view.period), (("30 seconds", "30"), ("60 seconds", "60"))),
        _choices("digits", "Digits", str(view.digits), (("6", "6"), ("8", "8"))),
        _choices("algorithm", "Algorithm", view.algorithm, (("SHA1", "SHA1"), ("SHA256", "SHA256"),
                                                             ("SHA512", "SHA512"))),
        {"type": "Input.Toggle", "id": "replace", "title": "Replace an active seed (leads only)",
         "valueOn": "true", "valueOff": "false", "value": "false"},
    ]
    data = {"upn": view.target_upn, **({"run": view.run} if view.run else {})}
    actions = [_execute("Check code and save", "enroll", data, style="positive")]
    if view.run:
        actions.append(_no_inputs("Abort", "provision_abort", {"run": view.run}, style="destructive"))
    card = _card(body, actions)
    card["version"] = "1.5"
    return card


@render.register
def _(view: RunbookCard) -> dict:
    body = [_text(view.title, weight="Bolder")]
    if view.outcome:
        body.append(_text(view.outcome, color="Good"))
    if view.error:
        body.append(_text(view.error, color="Attention"))
    body += [_text(line) for line in view.lines]
    if view.ask_shipment:
        body += [_input("carrier", "Carrier", maxLength=40), _input("tracking", "Tracking number", maxLength=40)]
    return _card(body, [
        _execute(view.done_label, "provision_step", {"run": view.run, "step": view.step}, style="positive"),
        _no_inputs("Abort", "provision_abort", {"run": view.run}, style="destructive"),
    ])


@render.register
def _(view: PendingCard) -> dict:
    counts = (f"{view.burned:,} burned (not shipped), {view.shipped:,} shipped; {view.overdue:,} overdue "
              f"(more than {view.overdue_days} days since the token was burned).")
    body = [_text(f"Tokens not delivered yet: {view.total:,}", weight="Bolder"), _text(counts)]
    if view.rows:
        first = (view.page - 1) * PAGE_SIZE + 1
        which = f"{view.only} tokens" if view.only else "tokens, overdue first"
        body.append(_text(f"{which.capitalize()}, oldest first: {first:,}–{first + len(view.rows) - 1:,} of "
                          f"{view.matching:,}.", isSubtle=True))
    elif view.total:
        body.append(_text(f"No {view.only} tokens." if view.only else "No tokens on this page.", isSubtle=True))
    for row in view.rows:  # the UPN on a line of its own: a FactSet's narrow title column broke it mid-word
        body.append(_text(row.upn, weight="Bolder", spacing="Small"))
        flags = ("OVERDUE · " if row.overdue else "") + row.text + ("" if row.enabled else " · seed disabled")
        body.append(_text(flags, spacing="None", isSubtle=not row.overdue,
                          **({"color": "Attention"} if row.overdue else {})))
    if view.page < view.pages:
        body.append(_text(f"Page {view.page} of {view.pages}: type `{_pending_command(view, view.page + 1)}` "
                          "for the next.", isSubtle=True))
    elif view.pages > 1:
        body.append(_text(f"Page {view.page} of {view.pages}.", isSubtle=True))
    return _card(body)


def _pending_command(view: PendingCard, page: int) -> str:
    return " ".join(filter(None, ("pending", view.only, f"page {page}")))
