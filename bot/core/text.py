"""Typed text as a reply may quote it."""

from __future__ import annotations


def printable(text: str, limit: int) -> str:
    """Printable characters only (no control or bidi characters), no backticks (one would end the code span the
    reply quotes it in), at most `limit` of them."""
    return "".join(ch for ch in text if ch.isprintable() and ch != "`")[:limit]


_MARKDOWN = frozenset("\\`*_[]()<>#~|")


def escape_markdown(text: str) -> str:
    """Text from an agent or the directory, made inert in a Teams message or card: `[IT Security](https://…)`
    must not become a link, `**` no emphasis. Teams renders a backslash-escaped character as itself."""
    return "".join("\\" + ch if ch in _MARKDOWN else ch for ch in text or "")


class EscapedDirectory:
    """A Directory whose display names are escaped for Teams markdown: every card and message shows them."""

    def __init__(self, inner) -> None:
        self._inner = inner

    async def find_by_upn(self, upn: str):
        return _escaped(await self._inner.find_by_upn(upn))

    async def find_by_object_id(self, object_id: str):
        return _escaped(await self._inner.find_by_object_id(object_id))

    async def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            await close()

    def __getattr__(self, name: str):
        return getattr(self._inner, name)


def _escaped(person):
    from dataclasses import replace

    return None if person is None else replace(person, display_name=escape_markdown(person.display_name))
