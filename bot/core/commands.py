"""The command grammar: text in, a Command out, or InvalidInput with one clear sentence."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, timedelta

from .errors import InvalidInput
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


Command = Help | Cancel | RequestCode | ShowAudit
_SINCE_DAYS = re.compile(r"^(\d{1,3})d$")


def parse(text: str) -> Command:
    words = text.split()
    if not words:
        return Help()
    name, args = words[0].lower(), words[1:]
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
    raise InvalidInput(_unknown(name))


def parse_since(text: str) -> date | timedelta:
    if m := _SINCE_DAYS.match(text.lower()):
        return timedelta(days=int(m.group(1)))
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"I don't understand `{text[:20]}` as a start date. Use `7d` or `2026-11-01`.") from None


def _unknown(name: str) -> str:
    shown = "".join(ch for ch in name if ch.isprintable() and ch != "`")[:30]
    close = difflib.get_close_matches(name, _NAMES, n=1, cutoff=0.6)
    hint = f" Did you mean `{close[0]}`?" if close else ""
    return f"I don't know the command `{shown}`.{hint} Type `help` for the list."
