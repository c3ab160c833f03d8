"""One error tree for the domain.

    OtpBotError
    ├── UserError                 a sentence safe to show the agent
    │   ├── InvalidInput          malformed command, UPN, seed, window
    │   ├── InvalidTransition     token state change not allowed (core/lifecycle.py)
    │   ├── NotAllowed            authorization or policy refusal
    │   ├── VerificationError     the verification gate refused
    │   ├── WindowRefused         Entra would not honour the window (carries an alternative)
    │   ├── SeedNotFound          no token enrolled for that user
    │   ├── SeedUnusable          token disabled, expired or in a non-releasable status
    │   ├── DependencyUnavailable a store or directory did not answer in time
    │   └── SmsNotSent            the text with a phone code was certainly not sent (refused, throttled)
    ├── ConfigurationError        refuse to start; message names what is wrong
    ├── AuditWriteError           the audit sink failed: nothing may be released
    ├── DeliveryFailed            a proactive message failed or its outcome is unknown
    ├── SmsOutcomeUnknown         the SMS service did not say whether it sent the text: never re-sent blindly
    └── ConcurrencyConflict       optimistic-concurrency check failed in a state store

Anything outside this tree is a bug: the agent sees "Something went wrong (ref …)".
"""


class OtpBotError(Exception):
    """Base of every error the bot raises on purpose."""


class UserError(OtpBotError):
    """Carries a sentence that is safe to show the agent."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(UserError):
    pass


class NotAllowed(UserError):
    pass


class VerificationError(UserError):
    pass


class WindowRefused(UserError):
    def __init__(self, message: str, alternative: str) -> None:
        super().__init__(f"{message} Nearest acceptable alternative: `{alternative}`.")
        self.alternative = alternative


class SeedNotFound(UserError):
    pass


class SeedUnusable(UserError):
    pass


class DependencyUnavailable(UserError):
    pass


class SmsNotSent(UserError):
    """`reason` is a short audit value (rejected, throttled, refused, not_allowed)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ConfigurationError(OtpBotError):
    pass


class AuditWriteError(OtpBotError):
    pass


class DeliveryFailed(OtpBotError):
    pass


class ConcurrencyConflict(OtpBotError):
    pass


class SmsOutcomeUnknown(OtpBotError):
    pass
