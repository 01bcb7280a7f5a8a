"""Logging set-up (text or JSON lines) and the redaction every logged URL goes through."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any
from urllib.parse import unquote_plus

# Query parameters that carry secrets (CONTRACT section 4); headers are never logged.
SECRET_PARAMETERS = frozenset({"private_token", "job_token", "token", "access_token"})


def redact_query(query: str) -> str:
    """The query with secret values replaced. Names are compared DECODED, as the app reads
    them, so `private%5Ftoken=...` is redacted too; everything else is kept as sent."""
    kept = []
    for pair in query.split("&"):
        name, sep, _ = pair.partition("=")
        decoded = unquote_plus(name).strip().lower().removesuffix("[]")
        kept.append(f"{name}=[FILTERED]" if sep and decoded in SECRET_PARAMETERS else pair)
    return "&".join(kept)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            # Which process wrote it: with `serve --workers N`, which worker answered.
            "pid": record.process,
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            body.update(extra)
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


def configure(log_format: str) -> None:
    # Neither format shows where a call was made or from which thread: without these, every
    # record (one per request in the access log) walks the stack and asks for the thread
    # (the logging HOWTO's "Optimization" section).
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def command_result(
    log_format: str, command: str, message: str, *, failed: bool = False, **fields: object
) -> None:
    """A background command's one line of outcome (expire, gc, migrate, import): the text as
    before, or with `json` one object holding the same figures as fields. To stdout, or to
    stderr when it `failed`."""
    if log_format == "json":
        body = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "level": "error" if failed else "info",
            "logger": "artifactsvc.commands",
            "command": command,
            "msg": message,
            **fields,
        }
        message = json.dumps(body, default=str)
    print(message, file=sys.stderr if failed else sys.stdout, flush=True)
