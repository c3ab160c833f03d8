"""Entry point for gunicorn's aiohttp worker (`gunicorn --config gunicorn.conf.py bot.wsgi:app`)."""

import os

from aiohttp import web

from .runtime import telemetry
from .app import create_app
from .runtime.logs import configure_logging
from .settings import Settings


async def app() -> web.Application:
    configure_logging(os.environ.get("OTPBOT_LOG_LEVEL", "INFO"))
    settings = Settings.from_env(os.environ)
    telemetry.configure(os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING"))
    return create_app(settings)
