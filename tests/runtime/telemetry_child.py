"""Run by test_telemetry_export.py in a child process (the OpenTelemetry providers are process-global): configure
export to the ingestion endpoint given in argv[1], log through two package loggers, serve one request, flush."""

import asyncio
import logging
import sys

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer


async def main(connection_string: str) -> None:
    from opentelemetry import trace
    from opentelemetry._logs import get_logger_provider

    from bot import web as edge
    from bot.runtime import telemetry
    from bot.runtime.logs import configure_logging

    configure_logging("INFO")
    assert telemetry.configure(connection_string)
    logging.getLogger("otpbot.adapters.keyvault").warning("vault slow \x1b[31m Authorization: Bearer eyJabc.def")
    try:
        raise ValueError("seed JBSWY3DPEHPK3PXP")
    except ValueError:
        logging.getLogger("otpbot.web").exception("unhandled error ref=abc123")
    app = web.Application()
    edge.add_routes(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert (await client.get("/healthz")).status == 200
    trace.get_tracer_provider().force_flush()
    get_logger_provider().force_flush()


asyncio.run(main(sys.argv[1]))
