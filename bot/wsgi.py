"""Entry point for gunicorn's aiohttp worker (`gunicorn --config gunicorn.conf.py bot.wsgi:app`)."""

import os

from aiohttp import web

from .app import create_app
from .logs import configure_logging
from .settings import Settings


async def app() -> web.Application:
    configure_logging(os.environ.get("OTPBOT_LOG_LEVEL", "INFO"))
    return create_app(Settings.from_env(os.environ))
