"""`provision <upn>`: the seven steps of setting up a programmable token, and the run record that walks them.

The run belongs to the agent who started it, like a verification. Step 3 is the enrollment card; every other
step is confirmed with Done (step 7 with Shipped, which records the shipment). Pure rules and texts only; the
workflow that loads, saves and audits it lives in handlers/provision.py.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta

from .errors import NotAllowed, VerificationError


@dataclass(frozen=True)
class Step:
    name: str  # audit name
    title: str
    lines: tuple[str, ...]  # `{name}` and `{upn}` are filled in


STEPS: tuple[Step, ...] = (
    Step("sign_in", "sign in", (
        "Ask {name} to sign in at office.com with their work account, then open aka.ms/mfasetup "
        "(Security info). If you guide them remotely, ask them to share their screen.",)),
    Step("authenticator", "add an authenticator app", (
        "Ask them to add a sign-in method: an authenticator app, using \"set up without notifications\" "
        "(or \"I want to use a different authenticator app\"), and to press Next until a QR code shows.",
        "Then ask them to choose \"Can't scan image?\": the page shows the secret key. Leave the page open.")),
    Step("capture", "capture the secret", ()),
    Step("burn", "burn the token", (
        "Make sure the token is programmed with the secret key you entered, with the same period, digits and "
        "algorithm, and that it shows codes.",
        "Label the token and its parcel with the serial number. Never write the secret key down.")),
    Step("register", "confirm on the setup page", (
        "Ask {name} to press Next on the setup page and type the code the token shows now (read it out to "
        "them), then finish. The new sign-in method should now be listed.",)),
    Step("sign_in_again", "sign out and in again", (
        "Ask {name} to sign out and sign in again with a code from the token (read it out to them).",
        "When asked, they tick \"Don't ask again for 60 days\" and \"Stay signed in\", so they need codes less "
        "often until the token arrives.")),
    Step("ship", "record the shipment", (
        "Post the token to {name}. Enter the carrier and tracking number, then press Shipped.",
        "Abort instead if it is not posted yet; record it later with `shipped {upn} [carrier] [tracking]`.")),
)
TOTAL = len(STEPS)
CAPTURE, SHIP = 3, 7
CAPTURE_NOTE = ("The bot checks the key against a code before saving it: burn the token with this key now (step 4 "
                "confirms it) and type the code it shows.")
TTL = timedelta(hours=24)
OPEN, ABORTED, COMPLETED = "open", "aborted", "completed"


def run_key(run: str) -> str:
    return f"provision/{run}"


@dataclass(frozen=True)
class ProvisionRun:
    run: str
    agent_oid: str
    target_upn: str
    target_oid: str
    target_name: str
    started_at: str
    step: int = 1
    status: str = OPEN

    @classmethod
    def start(cls, agent_oid: str, upn: str, oid: str, name: str, now: datetime) -> "ProvisionRun":
        return cls(secrets.token_urlsafe(12), agent_oid, upn, oid, name, now.isoformat())

    @classmethod
    def from_dict(cls, data: dict) -> "ProvisionRun":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def to_dict(self) -> dict:
        return asdict(self)

    def title(self) -> str:
        return STEPS[self.step - 1].title

    def lines(self) -> tuple[str, ...]:
        return tuple(line.format(name=self.target_name, upn=self.target_upn) for line in STEPS[self.step - 1].lines)

    def check(self, invoker_oid: str, step: int | None, now: datetime) -> None:
        """Raises unless `invoker_oid` may act on `step` (None: any step, e.g. Abort) of this run now."""
        if invoker_oid != self.agent_oid:
            raise NotAllowed("This runbook belongs to another agent; only they can continue it.")
        if self.status == ABORTED:
            raise VerificationError("This runbook was aborted. Start again with `provision <upn>`.")
        if self.status == COMPLETED:
            raise VerificationError("This runbook is already complete.")
        if now >= datetime.fromisoformat(self.started_at) + TTL:
            raise VerificationError("This runbook expired after 24 hours. Start again with `provision <upn>`.")
        if step is not None and step != self.step:
            raise VerificationError(f"That step was already done: this runbook is at step {self.step} of {TOTAL}.")

    def advanced(self) -> "ProvisionRun":
        return replace(self, step=self.step + 1) if self.step < TOTAL else replace(self, status=COMPLETED)

    def aborted(self) -> "ProvisionRun":
        return replace(self, status=ABORTED)
