"""Typed text as a reply may quote it."""

from __future__ import annotations


def printable(text: str, limit: int) -> str:
    """Printable characters only (no control or bidi characters), no backticks (one would end the code span the
    reply quotes it in), at most `limit` of them."""
    return "".join(ch for ch in text if ch.isprintable() and ch != "`")[:limit]
