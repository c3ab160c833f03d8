"""Logging configured once, as JSON lines. Attacker-controlled text is sanitised here as a last line
of defence; the real rule is that seeds, codes, tokens and evidence are never passed to a logger."""

from __future__ import annotations

import json
import logging
import re
import sys

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_BEARER = re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+")
MAX_MESSAGE = 500


def sanitised_message(record: logging.LogRecord) -> str:
    """The record's message as every sink may see it (stderr and the telemetry exporter alike)."""
    return _BEARER.sub("Bearer [redacted]", _CONTROL.sub(" ", record.getMessage()))[:MAX_MESSAGE]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = sanitised_message(record)
        line = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname,
                "logger": record.name, "message": message}
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = record.exc_info[0].__name__  # type only: messages can carry request data
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # azure-core's HTTP logging would print request/response headers at INFO.
    logging.getLogger("azure").setLevel(logging.WARNING)
