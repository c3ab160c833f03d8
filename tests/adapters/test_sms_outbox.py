"""The local SMS outbox: one JSON object a line, file 0600, printed on the terminal; texts never interleave."""

import asyncio
import io
import json
import stat

from bot.adapters.sms_outbox import OUTBOX_NAME, SmsOutbox, read_outbox
from tests.support.fakes import FakeClock


async def test_each_text_is_one_line_in_a_private_file_and_on_the_terminal(tmp_path):
    terminal = io.StringIO()
    outbox = SmsOutbox(tmp_path / "data" / OUTBOX_NAME, FakeClock(), terminal=terminal)
    ids = await asyncio.gather(*(outbox.send(f"+44770090{i:04d}", f"text {i}") for i in range(50)))
    lines = (tmp_path / "data" / OUTBOX_NAME).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 50 and len(set(ids)) == 50 and all(i.startswith("local-") for i in ids)
    assert json.loads(lines[0]) == {"time": "2026-11-28T09:00:00+00:00", "to": "+447700900000", "text": "text 0"}
    assert sorted(e["text"] for e in read_outbox(tmp_path / "data" / OUTBOX_NAME)) == sorted(
        f"text {i}" for i in range(50))
    assert stat.S_IMODE((tmp_path / "data" / OUTBOX_NAME).stat().st_mode) == 0o600
    assert terminal.getvalue().splitlines()[0] == "[local SMS to +447700900000] text 0"
    assert read_outbox(tmp_path / "missing.jsonl") == []
