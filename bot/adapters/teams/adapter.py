"""The CloudAdapter, configured: our authentication, and errors logged by type only."""

from __future__ import annotations

import logging

from botbuilder.integration.aiohttp import CloudAdapter

log = logging.getLogger("otpbot.teams")


def make_adapter(authentication) -> CloudAdapter:
    adapter = CloudAdapter(authentication)
    adapter.on_turn_error = _on_turn_error
    return adapter


async def _on_turn_error(context, error: Exception) -> None:
    # Never echo the exception to the user: it may carry request details.
    log.error("turn failed: %s", type(error).__name__, exc_info=error)
