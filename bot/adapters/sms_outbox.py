"""Local mode's SMS sender: texts go to `<OTPBOT_DATA_DIR>/sms-outbox.jsonl` and the bot's terminal, not a phone.

One JSON object a line, `{"time": "<ISO 8601 UTC>", "to": "+447700900958", "text": "..."}`, appended and flushed
before `send` returns, so a reader (the README walk-through, the browser test) finds the code there at once.
The file is created 0600: it holds live verification codes. This is the only place a code is written to disk,
and it exists only in local mode.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Callable, TextIO

OUTBOX_NAME = "sms-outbox.jsonl"


class SmsOutbox:
    def __init__(self, path: Path, clock, terminal: TextIO | None = None,
                 echo: Callable[[str], None] | None = None) -> None:
        self.path, self._clock = Path(path), clock
        self._echo = echo or (lambda line: print(line, file=terminal or sys.stdout, flush=True))
        self._lock = asyncio.Lock()

    async def send(self, to: str, text: str) -> str:
        entry = {"time": self._clock.now().isoformat(), "to": to, "text": text}
        async with self._lock:  # whole lines only, in order, even when several turns text at once
            await asyncio.to_thread(self._append, json.dumps(entry, ensure_ascii=False) + "\n")
        self._echo(f"[local SMS to {to}] {text}")
        return f"local-{secrets.token_hex(8)}"

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as out:
            out.write(line)
            out.flush()
            os.fsync(out.fileno())


def read_outbox(path: Path) -> list[dict]:
    """Every text in the outbox, oldest first (tests and the README walk-through read it)."""
    if not Path(path).exists():
        return []
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
