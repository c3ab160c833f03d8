"""The command grammar: text in, a Command out, or InvalidInput with one clear sentence."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, timedelta

from .errors import InvalidInput
from .seed_in_chat import looks_like_seed
from .text import printable
from .upn import normalise_upn
from .window import WindowSpec, parse_window


@dataclass(frozen=True)
class CommandHelp:
    name: str
    usage: str
    summary: str


COMMANDS: tuple[CommandHelp, ...] = (
    CommandHelp("help", "help", "List the commands."),
    CommandHelp("code", "code <upn> [now | at HH:MM | in 10m]", "Verify the caller, then get their one-time code."),
    CommandHelp("cancel", "cancel", "Abandon your open verification in this conversation."),
    CommandHelp("audit", "audit <upn> [7d | 2026-11-01]", "Leads: who released codes for a user, when, with which proofs."),
    CommandHelp("provision", "provision <upn>", "Guided runbook: set up, enroll, burn and ship a token, step by step."),
    CommandHelp("enroll", "enroll <upn>", "Store a token's seed from a card, checked against a current code. "
                "Never type a seed in chat."),
    CommandHelp("shipped", "shipped <upn> [carrier] [tracking]", "Record that the token was posted to the user."),
    CommandHelp("delivered", "delivered <upn>", "Leads: the user has the token; its seed is deleted from the vault."),
    CommandHelp("revoke", "revoke <upn> [reason]", "Stop a token (lost parcel, leaver): no more codes for it."),
    CommandHelp("pending", "pending [overdue | burned | shipped] [page N]",
                "Tokens not delivered yet: counts, then overdue ones first, oldest first, a page at a time."),
)
_NAMES = tuple(c.name for c in COMMANDS)


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Cancel:
    pass


@dataclass(frozen=True)
class RequestCode:
    upn: str
    window: WindowSpec


@dataclass(frozen=True)
class ShowAudit:
    upn: str
    since: date | timedelta


@dataclass(frozen=True)
class Provision:
    upn: str


@dataclass(frozen=True)
class Enroll:
    upn: str


@dataclass(frozen=True)
class MarkShipped:
    upn: str
    carrier: str | None = None
    tracking: str | None = None


@dataclass(frozen=True)
class MarkDelivered:
    upn: str


@dataclass(frozen=True)
class Revoke:
    upn: str
    reason: str = ""


@dataclass(frozen=True)
class ShowPending:
    only: str | None = None  # "overdue", "burned" or "shipped"
    page: int = 1


@dataclass(frozen=True)
class SeedInChat:
    """The message carried (or may have carried) a seed: refuse, warn, never echo."""

    upn: str | None = None


Command = (Help | Cancel | RequestCode | ShowAudit | Provision | Enroll | MarkShipped | MarkDelivered | Revoke
           | ShowPending | SeedInChat)
_SINCE_DAYS = re.compile(r"^(\d{1,3})d$")
_SHIPPING_WORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/#-]{0,39}$")
MAX_REASON = 200
SHIPPED_USAGE = ("Use `shipped alice@contoso.com [carrier] [tracking]`; carrier and tracking are single words of "
                 "letters, digits and . _ / # - (up to 40 characters).")


def parse(text: str) -> Command:
    words = text.split()
    if not words:
        return Help()
    name, args = words[0].lower(), words[1:]
    if name == "enroll" and len(args) > 1:  # anything after the user name is taken for a seed
        return SeedInChat(_upn_or_none(args[0]))
    if looks_like_seed(text):  # handlers check first; parse never returns a command carrying a seed either
        return SeedInChat(_upn_or_none(args[0]) if args else None)
    if name in ("help", "?"):
        return Help()
    if name == "cancel":
        return Cancel()
    if name == "code":
        if not args:
            raise InvalidInput("Whose code? Use `code alice@contoso.com` (add `at 14:30` or `in 10m` for later).")
        return RequestCode(normalise_upn(args[0]), parse_window(" ".join(args[1:])))
    if name == "audit":
        if not args or len(args) > 2:
            raise InvalidInput("Use `audit alice@contoso.com` (add `7d` or `2026-11-01` to look further back).")
        return ShowAudit(normalise_upn(args[0]), parse_since(args[1] if len(args) > 1 else "30d"))
    if name in _ONE_UPN:
        if len(args) != 1:
            raise InvalidInput(_ONE_UPN[name][1])
        return _ONE_UPN[name][0](normalise_upn(args[0]))
    if name == "shipped":
        if not 1 <= len(args) <= 3:
            raise InvalidInput(SHIPPED_USAGE)
        return MarkShipped(normalise_upn(args[0]), *(shipping_word(a) for a in args[1:]))
    if name == "revoke":
        if not args:
            raise InvalidInput("Use `revoke alice@contoso.com [reason]`, for example `revoke alice@contoso.com lost`.")
        return Revoke(normalise_upn(args[0]), _reason(" ".join(args[1:])))
    if name == "pending":
        return _pending(args)
    raise InvalidInput(_unknown(name))


_ONE_UPN = {
    "provision": (Provision, "Use `provision alice@contoso.com`: it walks you through the whole set-up."),
    "enroll": (Enroll, "Use `enroll alice@contoso.com`, then enter the seed in the card (never in chat)."),
    "delivered": (MarkDelivered, "Use `delivered alice@contoso.com` once the user has the token."),
}


PENDING_USAGE = ("Use `pending`, `pending overdue`, `pending burned` or `pending shipped`, and `page 2` after "
                 "any of them for the next page.")
_PENDING_FILTERS = ("overdue", "burned", "shipped")


def _pending(args: list[str]) -> ShowPending:
    words = [a.lower() for a in args]
    only = words.pop(0) if words and words[0] in _PENDING_FILTERS else None
    page = 1
    if words[:1] == ["page"] and len(words) == 2 and words[1].isascii() and words[1].isdigit() \
            and 1 <= int(words[1]) <= 100_000:
        page, words = int(words[1]), []
    if words:
        raise InvalidInput(PENDING_USAGE)
    return ShowPending(only, page)


def shipping_word(text: str | None) -> str | None:
    """A carrier or tracking number: one word, or None when empty. Never echoed back on error."""
    text = (text or "").strip()
    if not text:
        return None
    if not _SHIPPING_WORD.match(text):
        raise InvalidInput(SHIPPED_USAGE)
    return text


def _reason(text: str) -> str:
    return printable(text, MAX_REASON).strip()


def _upn_or_none(text: str) -> str | None:
    try:
        return normalise_upn(text)
    except InvalidInput:
        return None


def parse_since(text: str) -> date | timedelta:
    if m := _SINCE_DAYS.match(text.lower()):
        return timedelta(days=int(m.group(1)))
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"I don't understand `{printable(text, 20)}` as a start date. Use `7d` or `2026-11-01`."
                           ) from None


def _unknown(name: str) -> str:
    shown = printable(name, 30)
    close = difflib.get_close_matches(name, _NAMES, n=1, cutoff=0.6)
    hint = f" Did you mean `{close[0]}`?" if close else ""
    return f"I don't know the command `{shown}`.{hint} Type `help` for the list."
