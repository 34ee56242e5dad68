"""JSON structured logs with a request id on every line, and never personal data.

Only what code passes as `extra` in `SAFE_FIELDS` is written; request bodies, variables,
query strings and exception messages (which may quote SQL parameters) are never logged.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import traceback
from datetime import UTC, datetime

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

SAFE_FIELDS = frozenset(
    {
        "method",
        "path",
        "status",
        "duration_ms",
        "operation",
        "error_type",
        "code",
        "event",
        "client",
    }
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": request_id_var.get(),
            "pid": record.process,  # which server process, when HEARTH_WORKERS > 1
        }
        entry.update({k: v for k, v in record.__dict__.items() if k in SAFE_FIELDS})
        if record.exc_info and record.exc_info[0] is not None:
            entry["error_type"] = record.exc_info[0].__name__
            entry["stack"] = _frames(record.exc_info[2])
        return json.dumps(entry, default=str)


def _frames(tb: object) -> list[str]:
    """Where it failed (file:line function), without the message or any local values."""
    summary = traceback.extract_tb(tb)  # type: ignore[arg-type]
    return [f"{f.filename}:{f.lineno} {f.name}" for f in summary[-8:]]


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries that would log messages containing SQL parameters or request details.
    for noisy in ("uvicorn.access", "sqlalchemy.engine", "strawberry.execution"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL + 1)
