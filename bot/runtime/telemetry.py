"""OpenTelemetry to Application Insights, only when APPLICATIONINSIGHTS_CONNECTION_STRING is set.

Azure SDK calls (Key Vault, Blob, Table, identity) are traced by azure-core's OpenTelemetry plugin once
the distro is configured; Graph goes through our own aiohttp client, so its calls open spans here.
Without a connection string nothing is imported and `span` costs one attribute check.
"""

from __future__ import annotations

import copy
import logging
from contextlib import nullcontext

from .logs import sanitised_message

SERVICE_NAME = "otpbot"
EXPORTED_LOGGER = "otpbot"  # every logger of the package is named under it (a test checks)
_tracer = None


def configure(connection_string: str | None) -> bool:
    global _tracer
    if not connection_string:
        return False
    from azure.monitor.opentelemetry import configure_azure_monitor
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource

    # logger_name scopes log export to the package's loggers; their records are sanitised as for stderr.
    configure_azure_monitor(connection_string=connection_string, logger_name=EXPORTED_LOGGER,
                            enable_live_metrics=False, resource=Resource.create({"service.name": SERVICE_NAME}),
                            sampling_ratio=1.0)  # every request: a helpdesk bot has little traffic (the default
    # rate-limited sampler drops spans, the first ones included)
    exported = logging.getLogger(EXPORTED_LOGGER)
    exported.handlers[:] = [h if isinstance(h, SanitisingHandler) else SanitisingHandler(h) for h in exported.handlers]
    _tracer = trace.get_tracer(SERVICE_NAME)
    logging.getLogger("otpbot.telemetry").info("exporting traces and logs to Application Insights")
    return True


class SanitisingHandler(logging.Handler):
    """Hands the exporter a copy of each record with the stderr rules applied: control characters and bearer
    tokens out, length capped, the exception by its type only (the exporter would send its text and traceback)."""

    def __init__(self, inner: logging.Handler) -> None:
        super().__init__(inner.level)
        self.inner = inner

    def emit(self, record: logging.LogRecord) -> None:
        clean = copy.copy(record)
        clean.msg, clean.args = sanitised_message(record), None
        if record.exc_info and record.exc_info[0] is not None:
            setattr(clean, "exception.type", record.exc_info[0].__name__)
        clean.exc_info = clean.exc_text = clean.stack_info = None
        self.inner.handle(clean)

    def flush(self) -> None:
        self.inner.flush()


def use_tracer(tracer) -> None:
    """Tests inject a tracer backed by an in-memory exporter."""
    global _tracer
    _tracer = tracer


def span(name: str, kind: str = "internal", **attributes) -> "_Span":
    """A span usable with `with` and `async with`; yields None when tracing is off. An exception is recorded by
    its type only (OpenTelemetry's default records its message and traceback, which can carry request data)."""
    if _tracer is None:
        return _Span(nullcontext())
    from opentelemetry.trace import SpanKind

    return _Span(_tracer.start_as_current_span(name, kind=SpanKind[kind.upper()],
                                               attributes={k: str(v) for k, v in attributes.items()},
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
