"""A code sent into a 1:1 chat stays in that chat's history: once Entra would reject it, the message is
replaced by "expired". Pending expiries live in the state store, so a restart or another instance
still carries them out."""

from __future__ import annotations

from datetime import datetime

from ..core.errors import ConcurrencyConflict, DeliveryFailed
from ..core.models import SentMessage
from ..core.views import Text
from .context import Services

INDEX_KEY = "expiries"
MAX_ATTEMPTS = 5


async def schedule_expiry(s: Services, sent: SentMessage, at: datetime, text: str) -> None:
    entry = {"conversation_id": sent.conversation_id, "activity_id": sent.activity_id, "at": at.isoformat(),
             "text": text}
    await _change(s, lambda entries: entries + [entry])


async def expire_due(s: Services) -> int:
    """Replaces every due message; returns how many. Failed updates are retried on the next run."""
    now = s.clock.now()
    found = (await s.state.read([INDEX_KEY])).get(INDEX_KEY) or {}
    due = [e for e in found.get("entries", []) if datetime.fromisoformat(e["at"]) <= now]
    done = []
    for entry in due:
        try:
            await s.notifier.update(SentMessage(entry["conversation_id"], entry["activity_id"]), Text(entry["text"]))
            done.append(entry)
        except DeliveryFailed:
            s.log.warning("could not mark a delivered code as expired; will retry")
    if done:
        await _change(s, lambda entries: [e for e in entries if e not in done])
    return len(done)


async def _change(s: Services, change) -> None:
    for _ in range(MAX_ATTEMPTS):  # optimistic concurrency: several instances may touch the index
        found = (await s.state.read([INDEX_KEY])).get(INDEX_KEY)
        entries = list((found or {}).get("entries", []))
        try:
            await s.state.write({INDEX_KEY: {"entries": change(entries), "e_tag": found["e_tag"] if found else "*"}})
            return
        except ConcurrencyConflict:
            continue
    raise ConcurrencyConflict("expiry index kept changing")
