"""OpenTelemetry to Application Insights, only when APPLICATIONINSIGHTS_CONNECTION_STRING is set.

Azure SDK calls (Key Vault, Blob, Table, identity) are traced by azure-core's OpenTelemetry plugin once
the distro is configured; Graph goes through our own aiohttp client, so its calls open spans here.
Without a connection string nothing is imported and `span` costs one attribute check.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext

_tracer = None


def configure(connection_string: str | None) -> bool:
    global _tracer
    if not connection_string:
        return False
    from azure.monitor.opentelemetry import configure_azure_monitor
    from opentelemetry import trace

    # logger_name scopes log export to our own loggers, which never carry secrets.
    configure_azure_monitor(connection_string=connection_string, logger_name="otpbot", enable_live_metrics=False)
    _tracer = trace.get_tracer("otpbot")
    logging.getLogger("otpbot.telemetry").info("exporting traces and logs to Application Insights")
    return True


def use_tracer(tracer) -> None:
    """Tests inject a tracer backed by an in-memory exporter."""
    global _tracer
    _tracer = tracer


def span(name: str, **attributes) -> "_Span":
    """A span usable with `with` and `async with`; yields None when tracing is off. An exception is recorded by
    its type only (OpenTelemetry's default records its message and traceback, which can carry request data)."""
    if _tracer is None:
        return _Span(nullcontext())
    return _Span(_tracer.start_as_current_span(name, attributes={k: str(v) for k, v in attributes.items()},
                                               record_exception=False, set_status_on_exception=False))


class _Span:
    def __init__(self, context) -> None:
        self._context = context
        self._span = None

    def __enter__(self):
        self._span = self._context.__enter__()
        return self._span

    def __exit__(self, kind, error, traceback):
        if kind is not None and self._span is not None:
            from opentelemetry.trace import Status, StatusCode

            self._span.set_attribute("error.type", kind.__name__)
            self._span.set_status(Status(StatusCode.ERROR))
        return self._context.__exit__(kind, error, traceback)

    async def __aenter__(self):
        return self.__enter__()

    async def __aexit__(self, *exc):
        return self.__exit__(*exc)
