"""What one sweep did, as the CLI's summary line and as the one digest message it posts to the helpdesk channel.

Both stay short at any scale: counts, at most NAMES_SHOWN names per list and the OLDEST_SHOWN oldest overdue
tokens, so the digest is one message well under Teams' size limit however many tokens there are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .pending import days_ago

NAMES_SHOWN = 10
OLDEST_SHOWN = 5


@dataclass
class SweepReport:
    skipped: bool = False  # another instance holds the lease
    checked: int = 0
    disabled: list[str] = field(default_factory=list)  # UPNs
    destroyed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    overdue: int = 0
    oldest: list[tuple[str, int]] = field(default_factory=list)  # (upn, age in days), oldest first
    resumed_after: int = 0  # tokens an interrupted sweep had checked before this one took over
    stopped: str = ""  # why the sweep stopped before the end ("" when it finished)
    digest: str = ""  # "posted", "failed", "no channel", or "" when there was nothing to post

    def note_overdue(self, upn: str, age_days: int) -> None:
        self.overdue += 1
        self.oldest = sorted(self.oldest + [(upn, age_days)], key=lambda item: (-item[1], item[0]))[:OLDEST_SHOWN]

    def summary(self) -> str:
        if self.skipped:
            return "Another instance is sweeping right now (it holds the sweeper lease); nothing was done."
        resumed = f" (resumed after {self.resumed_after:,})" if self.resumed_after else ""
        destroyed = f", destroyed {len(self.destroyed):,} revoked seeds" if self.destroyed else ""
        failed = f", {len(self.failed):,} failed ({_names(self.failed)})" if self.failed else ""
        digest = f"; digest {self.digest}" if self.digest else ""
        stopped = f" Stopped early: {self.stopped}" if self.stopped else ""
        return (f"Checked {self.checked:,} tokens{resumed}: disabled {len(self.disabled):,} seeds{destroyed}, "
                f"{self.overdue:,} overdue{failed}{digest}.{stopped}")

    def has_news(self) -> bool:
        return bool(self.disabled or self.destroyed or self.failed or self.overdue or self.stopped)

    def digest_text(self, overdue_days: int, max_age_days: int) -> str:
        lines = [f"Daily token sweep: checked {self.checked:,} tokens."]
        if self.disabled:
            lines.append(f"Disabled {len(self.disabled):,} seeds older than {max_age_days} days or past their "
                         f"expiry: {_names(self.disabled)}.")
        if self.destroyed:
            lines.append(f"Destroyed the seeds of {len(self.destroyed):,} revoked tokens: {_names(self.destroyed)}.")
        if self.overdue:
            oldest = ", ".join(f"{upn} (burned {days_ago(days)})" for upn, days in self.oldest)
            lines.append(f"{self.overdue:,} tokens are overdue (not delivered {overdue_days} days after burning); "
                         f"the oldest: {oldest}. Type `pending overdue` for the list; when one has arrived, a lead "
                         f"marks it `delivered <upn>`; if it is lost, `revoke <upn> lost`.")
        if self.failed:
            lines.append(f"{len(self.failed):,} could not be changed and are tried again next time: "
                         f"{_names(self.failed)}.")
        if self.stopped:
            lines.append(f"The sweep stopped early ({self.stopped}); the next one resumes where it stopped.")
        return "\n\n".join(lines)

    def to_state(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k not in ("skipped", "stopped", "digest")}

    @classmethod
    def from_state(cls, saved: dict[str, Any]) -> "SweepReport":
        report = cls(**{k: saved[k] for k in ("checked", "disabled", "destroyed", "failed", "overdue")
                        if k in saved})
        report.oldest = [(upn, int(days)) for upn, days in saved.get("oldest", [])]
        report.resumed_after = report.checked
        return report


def _names(upns: list[str]) -> str:
    shown = ", ".join(upns[:NAMES_SHOWN])
    return shown + (f" and {len(upns) - NAMES_SHOWN:,} more" if len(upns) > NAMES_SHOWN else "")
