"""The sweeper's in-process schedule (the sweep itself is handlers/sweep.py)."""

from __future__ import annotations

import logging
import os

from ..handlers.context import Services
from ..handlers.sweep import TASK_NAME, instance_id, sweep_once
from .lifecycle_settings import LifecycleSettings
from .periodic import Periodic

log = logging.getLogger("otpbot.sweeper")


def start_sweeper(services: Services, settings: LifecycleSettings | None = None) -> Periodic:
    """Applies the lifecycle settings to `services` and starts the daily sweep; app.py calls it on startup.
    Every instance runs the schedule; the lease lets one sweep at a time. The first sweep waits a little,
    so a new instance settles first."""
    settings = settings or LifecycleSettings.from_env(os.environ)
    settings.apply(services)
    instance = instance_id()

    async def sweep() -> None:
        log.info("sweep: %s", (await sweep_once(services, instance)).summary())

    return Periodic(TASK_NAME, settings.sweep_every.total_seconds(), sweep,
                    first_after_s=settings.first_sweep_after.total_seconds())
