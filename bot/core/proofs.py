"""Which proofs a release needs. Only things the real employee controls count as proof."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigurationError

CALLBACK = "callback"
MANAGER_APPROVAL = "manager_approval"
SECOND_AGENT_APPROVAL = "second_agent_approval"
PROOFS = (CALLBACK, MANAGER_APPROVAL, SECOND_AGENT_APPROVAL)
APPROVALS = (MANAGER_APPROVAL, SECOND_AGENT_APPROVAL)
LABELS = {CALLBACK: "callback to the number of record", MANAGER_APPROVAL: "manager approval",
          SECOND_AGENT_APPROVAL: "second agent approval"}
# What a caller can recite is knowledge an attacker can buy or research, so it never counts.
RECITABLE = {"birth_date", "date_of_birth", "dob", "employee_id", "employee_number", "manager_name", "address",
             "postcode", "ssn", "last4", "security_question", "mother_maiden_name", "job_title", "start_date"}


@dataclass(frozen=True)
class ProofPolicy:
    standard: tuple[str, ...] = (CALLBACK,)
    privileged: tuple[str, ...] = (CALLBACK, SECOND_AGENT_APPROVAL)

    @classmethod
    def parse(cls, standard: str, privileged: str) -> "ProofPolicy":
        policy = cls(_names(standard, "OTPBOT_PROOFS_STANDARD"), _names(privileged, "OTPBOT_PROOFS_PRIVILEGED"))
        if len(policy.privileged) < 2 or not set(policy.privileged) & set(APPROVALS):
            raise ConfigurationError(
                "Refusing to start: OTPBOT_PROOFS_PRIVILEGED must name two proofs, one of them an approval by "
                f"someone other than the requester ({' or '.join(APPROVALS)}).")
        return policy

    def required(self, privileged: bool) -> tuple[str, ...]:
        return self.privileged if privileged else self.standard


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
