"""What reaches Application Insights, end to end: the real azure-monitor exporter configured by telemetry.configure
sends to a loopback ingestion endpoint served here. The exporter's providers are process-global, so the bot side
runs in a child process (tests/runtime/telemetry_child.py)."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import sys
from pathlib import Path

from aiohttp import web

REPO = Path(__file__).resolve().parents[2]


async def exported_envelopes() -> list[dict]:
    received: list[dict] = []

    async def track(request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        items = json.loads(body)
        received.extend(items)
        return web.json_response({"itemsReceived": len(items), "itemsAccepted": len(items), "errors": []})

    app = web.Application()
    app.router.add_post("/{path:.*}", track)  # the exporter posts to <IngestionEndpoint>/v2.1/track
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    connection_string = (f"InstrumentationKey=00000000-0000-4000-8000-000000000000;"
                         f"IngestionEndpoint=http://127.0.0.1:{port}/")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS", "OTEL_"))}
    env["APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL"] = "true"  # its endpoint is not ours
    try:
        child = await asyncio.create_subprocess_exec(sys.executable, "-m", "tests.runtime.telemetry_child",
                                                     connection_string, cwd=str(REPO), env=env,
                                                     stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(child.communicate(), 60)
        assert child.returncode == 0, err.decode()[-3000:]
    finally:
        await runner.cleanup()
    return received


async def test_logs_of_every_package_logger_requests_and_service_name_reach_the_ingestion_endpoint():
    envelopes = await exported_envelopes()
    ours = [e for e in envelopes if e["name"] != "Microsoft.ApplicationInsights.Metric"]
    assert {e["tags"]["ai.cloud.role"] for e in ours} == {"otpbot"}  # not unknown_service:python

    requests = [e["data"]["baseData"] for e in ours if e["name"] == "Microsoft.ApplicationInsights.Request"]
    assert [(r["name"], r["responseCode"]) for r in requests] == [("GET /healthz", "200")]

    messages = {e["data"]["baseData"]["message"] for e in ours if e["name"] == "Microsoft.ApplicationInsights.Message"}
    assert "vault slow  [31m Authorization: Bearer [redacted]" in messages  # an adapter's logger, sanitised
    assert "exporting traces and logs to Application Insights" in messages

    (failure,) = [e["data"]["baseData"] for e in ours if e["name"] == "Microsoft.ApplicationInsights.Exception"]
    assert [(x["typeName"], x["message"]) for x in failure["exceptions"]] == [("ValueError", "unhandled error ref=abc123")]
    everything = json.dumps(envelopes)
    assert "JBSWY3DPEHPK3PXP" not in everything and "eyJabc" not in everything and "Traceback" not in everything


def test_every_logger_of_the_package_is_under_the_exported_one():
    import re

    from bot.runtime.telemetry import EXPORTED_LOGGER

    names = set()
    for module in (REPO / "bot").rglob("*.py"):
        names.update(re.findall(r"getLogger\(([^)]*)\)", module.read_text(encoding="utf-8")))
    outside = {n for n in names if not n.startswith((f'"{EXPORTED_LOGGER}.', f'"{EXPORTED_LOGGER}' + '" + '))
               and n not in ('', '"azure"', 'EXPORTED_LOGGER')}
    assert outside == set(), "name loggers under \"otpbot\" (telemetry exports only that tree)"
