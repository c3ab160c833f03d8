"""Which proofs a release needs, declared as data. Only things the real employee controls count as proof.

Each proof is one `Proof`: who gives it, what the requester's card collects for it, and what the target must
have for it to be possible. Handlers and cards walk these declarations; a new proof is a new entry here plus,
at most, one hook in handlers/proof_steps.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigurationError

CALLBACK = "callback"
PHONE_CODE = "phone_code"
MANAGER_APPROVAL = "manager_approval"
SECOND_AGENT_APPROVAL = "second_agent_approval"

# Who gives a proof. The requester and the caller-through-the-requester are one person as far as the
# two-person rule goes: the requester types what the caller reads out.
REQUESTER, CALLER, OTHER_AGENT, MANAGER = "requester", "caller", "other_agent", "manager"
# What the target needs for the proof to be possible.
NEEDS_PHONE, NEEDS_MOBILE, NEEDS_MANAGER = "phone", "mobile", "manager"


@dataclass(frozen=True)
class CardInput:
    """One input on the requester's card: a toggle that must be on, or a text field."""

    id: str
    label: str
    kind: str  # "toggle" | "text"
    max_length: int = 0


@dataclass(frozen=True)
class Proof:
    name: str
    label: str
    given_by: str
    inputs: tuple[CardInput, ...] = ()
    needs: str = ""
    refusal: str = ""  # "{name} …": why the proof cannot be given, when `needs` is missing

    @property
    def by_requester(self) -> bool:
        """Given on the requester's own card (their Verify), not by a second person's action."""
        return self.given_by in (REQUESTER, CALLER)


CALLED_BACK = CardInput("calledBack", "I called back on the number of record and reached the user.", "toggle")
PHONE_CODE_INPUT = CardInput("phoneCode", "Code the caller reads back to you", "text", 12)

DECLARATIONS: dict[str, Proof] = {p.name: p for p in (
    Proof(CALLBACK, "callback to the number of record", REQUESTER, (CALLED_BACK,), NEEDS_PHONE,
          "{name} has no phone number of record, so you cannot call them back. No code can be released; ask HR or "
          "IT to record a number first."),
    Proof(PHONE_CODE, "code texted to the mobile of record", CALLER, (PHONE_CODE_INPUT,), NEEDS_MOBILE,
          "{name} has no mobile number of record, so no code can be texted to them. No code can be released; ask "
          "HR or IT to record a mobile number first."),
    Proof(MANAGER_APPROVAL, "manager approval", MANAGER, (), NEEDS_MANAGER,
          "{name} needs manager approval, but has no manager of record who could approve. No code can be released."),
    Proof(SECOND_AGENT_APPROVAL, "second agent approval", OTHER_AGENT),
)}
PROOFS = tuple(DECLARATIONS)
APPROVALS = tuple(p.name for p in DECLARATIONS.values() if not p.by_requester)
LABELS = {p.name: p.label for p in DECLARATIONS.values()}
# What a caller can recite is knowledge an attacker can buy or research, so it never counts.
RECITABLE = {"birth_date", "date_of_birth", "dob", "employee_id", "employee_number", "manager_name", "address",
             "postcode", "ssn", "last4", "security_question", "mother_maiden_name", "job_title", "start_date"}


@dataclass(frozen=True)
class ProofPolicy:
    """Proofs per kind of target. `no_mobile` replaces a list naming phone_code for a target without a mobile
    number of record (it must itself satisfy the privileged rule, since privileged targets use it too)."""

    standard: tuple[str, ...] = (PHONE_CODE,)
    privileged: tuple[str, ...] = (PHONE_CODE, SECOND_AGENT_APPROVAL)
    no_mobile: tuple[str, ...] = (CALLBACK, SECOND_AGENT_APPROVAL)

    @classmethod
    def parse(cls, standard: str, privileged: str, no_mobile: str = "callback,second_agent_approval") -> "ProofPolicy":
        policy = cls(_names(standard, "OTPBOT_PROOFS_STANDARD"), _names(privileged, "OTPBOT_PROOFS_PRIVILEGED"),
                     _names(no_mobile, "OTPBOT_PROOFS_NO_MOBILE"))
        for setting, names in (("OTPBOT_PROOFS_PRIVILEGED", policy.privileged),
                               ("OTPBOT_PROOFS_NO_MOBILE", policy.no_mobile)):
            if not two_person(names):
                raise ConfigurationError(
                    f"Refusing to start: {setting} must name two proofs, one of them an approval by someone other "
                    f"than the requester ({' or '.join(APPROVALS)}); otherwise one agent alone could release a code "
                    "for a privileged target.")
        if PHONE_CODE in policy.no_mobile:
            raise ConfigurationError("Refusing to start: OTPBOT_PROOFS_NO_MOBILE is used when there is no mobile "
                                     "number to text, so it cannot name phone_code.")
        return policy

    def required(self, privileged: bool, has_mobile: bool = True) -> tuple[str, ...]:
        names = self.privileged if privileged else self.standard
        if PHONE_CODE in names and not has_mobile:
            return self.no_mobile
        return names

    def uses(self, proof: str) -> bool:
        return any(proof in names for names in (self.standard, self.privileged, self.no_mobile))


def two_person(names: tuple[str, ...]) -> bool:
    """At least two proofs, one given by someone other than the requester."""
    return len(names) >= 2 and any(not DECLARATIONS[n].by_requester for n in names)


def _names(text: str, setting: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    recitable = [n for n in names if n in RECITABLE]
    if recitable:
        raise ConfigurationError(
            f"Refusing to start: {setting} names {', '.join(recitable)}, which a caller can recite; an attacker on "
            f"the phone can learn it, so it is not proof. Use {', '.join(PROOFS)}.")
    unknown = [n for n in names if n not in PROOFS]
    if unknown or not names:
        raise ConfigurationError(f"Refusing to start: {setting} must list proofs from {', '.join(PROOFS)}.")
    return names
