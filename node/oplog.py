"""The operator's log: text for a human or one JSON object per line, on standard error.

What a human needs by default (INFO): one line per delivery failure naming
the peer by alias with a short reason, and each refused request with its
reason, repeats of the same reason summarized once a minute. Access lines
(one per HTTP request) only at DEBUG. With `json`, every line is an object
with time, level, logger and message, plus the structured fields a record
carries (peer, reason, status, count).
"""

import json
import logging
import sqlite3
import sys
import time
from collections.abc import Callable
from typing import IO

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from tagshare.node.client import PeerRefused, PeerUnreachable
from tagshare.node.peer_text import peer_text
from tagshare.node.telemetry import peer_label

LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
STRUCTURED_FIELDS = ("peer", "reason", "status", "count", "url", "admin_url")
REFUSAL_WINDOW = 60.0  # seconds: repeats of one refusal reason are counted, then summarized

sync_log = logging.getLogger("tagshare.sync")
refusal_log = logging.getLogger("tagshare.refusals")
# A library's loggers stay silent until the program configures logging (serve does);
# without this, Python's last-resort handler would echo warnings into `tagshare sync`.
logging.getLogger("tagshare").addHandler(logging.NullHandler())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in STRUCTURED_FIELDS:
            if name in record.__dict__:
                line[name] = record.__dict__[name]
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


JsonFormatter.converter = time.gmtime


def configure_logging(log_format: str = "text", level: str = "info",
                      stream: IO[str] | None = None) -> None:
    """One handler on the root logger; the serve lifecycle lines show at any level."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else
                         logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("tagshare.serve").setLevel(min(root.level, logging.INFO))


class DebugAccessLogger(AbstractAccessLogger):
    """aiohttp's access line, at DEBUG: one per request is noise for a human at INFO."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse,
            time: float) -> None:
        self.logger.debug('%s "%s %s HTTP/%d.%d" %d %.3fs', request.remote, request.method,
                          request.path_qs, request.version.major, request.version.minor,
                          response.status, time, extra={"status": response.status})

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.DEBUG)


def short_reason(error: Exception) -> str:
    if isinstance(error, PeerUnreachable):
        return "unreachable (is it running? is its URL right?)"
    if isinstance(error, PeerRefused):
        return f"refused: {error.code} (HTTP {error.status}): {peer_text(error.peer_message, 120)}"
    return peer_text(error)


def log_delivery_failure(peer: sqlite3.Row, error: Exception, what: str = "delivery") -> None:
    label, reason = peer_label(peer), short_reason(error)
    sync_log.warning("%s to %s failed: %s", what, label, reason,
                     extra={"peer": label, "reason": reason})


class RefusalLog:
    """The first refusal of each reason in a window at INFO with its message; the rest
    counted and summarized in one line when the window is over (see `flush`)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 window: float = REFUSAL_WINDOW) -> None:
        self.clock = clock
        self.window = window
        self.opened: dict[str, float] = {}
        self.repeats: dict[str, int] = {}

    def refused(self, code: str, status: int, message: str) -> None:
        now = self.clock()
        self.flush(now)
        if code in self.opened:
            self.repeats[code] += 1
            refusal_log.debug("refused: %s (HTTP %d): %s", code, status, message,
                              extra={"reason": code, "status": status})
            return
        self.opened[code], self.repeats[code] = now, 0
        refusal_log.info("refused a request: %s (HTTP %d): %s", code, status, message,
                         extra={"reason": code, "status": status})

    def flush(self, now: float | None = None) -> None:
        """Summarize every window that is over (all of them when `now` is None)."""
        for code, opened in list(self.opened.items()):
            if now is not None and now - opened < self.window:
                continue
            count = self.repeats.pop(code)
            del self.opened[code]
            if count:
                refusal_log.info("refused %d more requests (%s) in the last minute", count,
                                 code, extra={"reason": code, "count": count})
