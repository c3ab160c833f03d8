"""The daily sweeper: disable seeds past their maximum age, destroy revoked seeds after the undo period, and post
ONE digest to the helpdesk channel saying what it did (disabled, destroyed, overdue with the count and the oldest).

Scale: the tokens are swept in pages of PAGE tokens (records read with bounded concurrency, changes made
CONCURRENCY at a time), each page under its own deadline. After every page the progress (cursor and counts) is
saved under PROGRESS_KEY, so a sweep that is killed or times out is resumed by the next one, under its lease,
from where it stopped. The sweep also brings the open-token index (`pending`'s) in line with the secret store.

Safe with several instances: a sweep runs only under the `lease/sweeper` claim, and what it does is idempotent
(a disabled seed is never disabled again). Runs in process (runtime/sweep_schedule.start_sweeper, from app.py's
cleanup context) and once from the CLI (`otpbot sweep`). Reads only metadata, never a seed's value.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from datetime import datetime, timedelta

from ..core import audit_events as events
from ..core.errors import ConcurrencyConflict, DeliveryFailed, DependencyUnavailable, UserError
from ..core.lifecycle import TokenRecord, sweep_plan
from ..core.models import TokenStatus
from ..core.sweep_report import SweepReport
from ..core.views import Text
from .context import Services, append_best_effort
from .token_records import OPEN_PREFIX, destroy_seed, open_key, token_records, update_record

log = logging.getLogger("otpbot.sweeper")
LEASE_KEY = "lease/sweeper"
LEASE_TTL_S = 15 * 60  # far longer than a sweep; a crashed holder blocks the next one for at most this long
PROGRESS_KEY = "sweeper/progress"
RESUME_WITHIN = timedelta(hours=23)  # an older unfinished sweep is not resumed: a fresh one starts
ACTOR = "otpbot-sweeper"
TASK_NAME = "sweeper"
PAGE = 200  # tokens per page
PAGE_DEADLINE_S = 60.0
PAGE_ATTEMPTS = 2
PAGE_RETRY_PAUSE_S = 1.0
CONCURRENCY = 8  # changes (audit + secret store + state) in flight within a page
SEND_DEADLINE_S = 10.0


def instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


async def sweep_once(s: Services, instance: str) -> SweepReport:
    if not await s.coordination.claim(LEASE_KEY, instance, LEASE_TTL_S):
        return SweepReport(skipped=True)
    try:
        return await _sweep(s)
    finally:
        await s.coordination.release(LEASE_KEY, instance)


async def _sweep(s: Services) -> SweepReport:
    now = s.clock.now()
    saved = (await s.state.read([PROGRESS_KEY])).get(PROGRESS_KEY)
    if saved and now - datetime.fromisoformat(saved["started_at"]) < RESUME_WITHIN:
        report, started, cursor = SweepReport.from_state(saved), saved["started_at"], saved["cursor"]
        now = datetime.fromisoformat(started)  # the interrupted sweep's "now": one sweep, one set of ages
    else:
        report, started, cursor = SweepReport(), now.isoformat(), ""
    try:
        seeds = sorted(await s.secrets.list_seeds(), key=lambda seed: seed.object_id)
        index = await s.state.scan(OPEN_PREFIX)
        todo = [seed for seed in seeds if seed.object_id > cursor]
        for first in range(0, len(todo), PAGE):
            page = todo[first:first + PAGE]
            await _page_with_retry(s, page, index, now, report)
            await s.state.write({PROGRESS_KEY: {"started_at": started, "cursor": page[-1].object_id,
                                                **report.to_state(), "e_tag": "*"}})
        stale = sorted(set(index) - {open_key(seed.object_id) for seed in seeds})  # destroyed or removed
        for first in range(0, len(stale), PAGE):
            await s.state.delete(stale[first:first + PAGE])
    except (UserError, ConcurrencyConflict, asyncio.TimeoutError) as error:
        report.stopped = _why(error)
        log.warning("sweep stopped after %d tokens: %s", report.checked, type(error).__name__)
    await _post_digest(s, report)
    if not report.stopped:
        await s.state.delete([PROGRESS_KEY])
    return report


async def _page_with_retry(s: Services, page, index: dict, now: datetime, report: SweepReport) -> None:
    """A page that fails to read is tried once more after a pause (what it already changed is idempotent)."""
    for attempt in range(PAGE_ATTEMPTS):
        checked, disabled, destroyed, failed = report.checked, len(report.disabled), len(report.destroyed), \
            len(report.failed)
        try:
            return await asyncio.wait_for(_sweep_page(s, page, index, now, report), PAGE_DEADLINE_S)
        except (DependencyUnavailable, asyncio.TimeoutError):
            if attempt + 1 == PAGE_ATTEMPTS:
                raise
            report.checked = checked  # the page is done again from its start
            del report.disabled[disabled:], report.destroyed[destroyed:], report.failed[failed:]
            log.warning("sweep page failed; trying it again")
            await asyncio.sleep(PAGE_RETRY_PAUSE_S)


async def _sweep_page(s: Services, page, index: dict, now: datetime, report: SweepReport) -> None:
    tokens, records = await token_records(s, page, index)
    plan = sweep_plan(tokens, now, s.max_seed_age, s.overdue_after)
    by_id = {token.object_id: token for token in tokens}
    revoked = [t for t in tokens if t.status is TokenStatus.REVOKED and records[t.object_id].get("revoked_at")
               and now - datetime.fromisoformat(records[t.object_id]["revoked_at"]) >= s.revoked_retention]
    gate = asyncio.Semaphore(CONCURRENCY)

    order = {token.object_id: i for i, token in enumerate(tokens)}

    async def attempt(change, token: TokenRecord, done: list[tuple[int, str]]) -> None:
        async with gate:
            try:
                await change(s, token, now)
                done.append((order[token.object_id], token.upn))
            except UserError as error:  # one token's trouble must not stop the sweep
                log.warning("sweeper could not change a token: %s", type(error).__name__)
                report.failed.append(token.upn)

    disabled, destroyed = [], []
    await asyncio.gather(*(attempt(_disable, by_id[oid], disabled) for oid in plan.disable),
                         *(attempt(_destroy_revoked, token, destroyed) for token in revoked))
    report.disabled += [upn for _, upn in sorted(disabled)]  # oldest first, as planned, however they finished
    report.destroyed += [upn for _, upn in sorted(destroyed)]
    for object_id in plan.remind:
        token = by_id[object_id]
        report.note_overdue(token.upn, max((now - token.burned_at).days, 0))
    report.checked += len(tokens)


async def _post_digest(s: Services, report: SweepReport) -> None:
    """One message per sweep, sent under its own deadline; it carries no code, so a failure is only reported."""
    if not report.has_news():
        return
    conversation = s.helpdesk_conversation or s.alerts_conversation
    if not conversation:
        log.warning("sweep digest not posted: no helpdesk conversation is configured (%d overdue tokens)",
                    report.overdue)
        report.digest = "not posted (no channel)"
        return
    text = report.digest_text(s.overdue_after.days, s.max_seed_age.days)
    try:
        await asyncio.wait_for(s.notifier.to_conversation(conversation, Text(text)), SEND_DEADLINE_S)
        report.digest = "posted"
    except (DeliveryFailed, asyncio.TimeoutError) as error:
        log.warning("sweep digest not posted: %s", type(error).__name__)
        report.digest = "not posted (the send failed)"
    await append_best_effort(s, events.SWEEPER_DIGEST, ACTOR, "", {
        "checked": str(report.checked), "disabled": str(len(report.disabled)),
        "destroyed": str(len(report.destroyed)), "overdue": str(report.overdue), "failed": str(len(report.failed)),
        "oldest": report.oldest[0][0] if report.oldest else "", "posted": str(report.digest == "posted").lower()})


def _why(error: Exception) -> str:
    if isinstance(error, asyncio.TimeoutError):
        return f"a page of {PAGE} tokens took longer than {PAGE_DEADLINE_S:.0f} s"
    return getattr(error, "message", None) or type(error).__name__


async def _disable(s: Services, token: TokenRecord, now: datetime) -> None:
    expired = token.expires_at is not None and token.expires_at <= now
    await s.audit.append(events.SWEEPER_DISABLED, ACTOR, token.upn, {
        "status": token.status.value, "age_days": str((now - token.burned_at).days),
        "reason": "expired" if expired else "max_age"})
    await s.secrets.disable(token.object_id)
    await update_record(s, token.object_id, disabled_at=now)


async def _destroy_revoked(s: Services, token: TokenRecord, now: datetime) -> None:
    """A revoked token is lost or its user has left: once the undo period is over, its seed has no purpose."""
    await destroy_seed(s, ACTOR, token.upn, token.object_id, {"reason": "revoked"})


