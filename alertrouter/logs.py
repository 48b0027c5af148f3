r"""Log lines that carry the ids needed to follow one notification from intake to delivery.

Records logged with `extra={"event_id": …, "notification_id": …}` get those ids appended
(`text`) or as fields (`json`, one object per line). Set ALERTROUTER_LOG_FORMAT=json for a log
shipper.

A record is one line, whatever payload text its message, arguments or ids carry: control
characters (ESC, BEL, NUL, CR/LF…), the bidi controls (U+202E…) and the Unicode line separators
are shown as escapes (`\x1b`, `\n`, `\u202e`) in text logs and as JSON `\u` escapes in JSON logs.
A traceback keeps its line breaks and is indented under its record (a line break in an exception's
message cannot start a line of its own); its other control characters are escaped.

What a replay simulates is not logged: inside `simulated()` (the what-if and `alertrouter replay`
run a scratch App) the router's loggers drop their records, so a log never shows an event taken in,
a notice or a stuck run that only happened in a simulation. Only the thread that simulates is
quieted: a request served meanwhile on another thread logs as ever.
"""

from __future__ import annotations

import contextvars
import json
import logging
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

from .rendering.safety import escape_controls, json_controls

IDS = ("event_id", "notification_id")
AZURE_HTTP_LOGGER = "azure.core.pipeline.policies.http_logging_policy"


def _ids(record: logging.LogRecord) -> str:
    """`event_id=… notification_id=…` for the ids the record carries ("" for none)."""
    return " ".join(f"{k}={getattr(record, k)}" for k in IDS if getattr(record, k, None))


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        record.asctime = self.formatTime(record, self.datefmt)
        line = f"{record.asctime} {record.levelname} {escape_controls(record.name)}: {escape_controls(record.message)}"
        if record.exc_info:  # not cached on the record: another handler may format it differently
            line += "\n" + self.formatException(record.exc_info)
        elif record.exc_text:
            line += "\n" + _indented(record.exc_text)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        ids = escape_controls(_ids(record))
        return f"{line} [{ids}]" if ids else line

    def formatException(self, ei) -> str:
        return _indented(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return _indented(super().formatStack(stack_info))


def _indented(block: str) -> str:
    return "\n".join("  " + line for line in escape_controls(block, keep_newlines=True).split("\n"))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for k in IDS:
            if getattr(record, k, None):
                doc[k] = getattr(record, k)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json_controls(json.dumps(doc, ensure_ascii=False, default=str))


class IdsInMessage(logging.Filter):
    """For hosts that ship the message text without our formatter (the Functions worker sends it to
    Application Insights as a trace): the ids are appended to the message itself, once, and its
    control characters escaped."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "ids_in_message", False):
            return True
        ids = _ids(record)
        message = record.getMessage()
        clean = escape_controls(f"{message} [{ids}]" if ids else message)
        if clean != message:  # with ids, or with control characters the host would ship raw
            record.msg, record.args = clean, ()
        record.ids_in_message = True
        return True


_SIMULATING: contextvars.ContextVar[bool] = contextvars.ContextVar("alertrouter_simulating", default=False)


class NotSimulated(logging.Filter):
    """Drops the records made inside `simulated()` (in that thread or task only)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _SIMULATING.get()


_NOT_SIMULATED = NotSimulated()


def _router_loggers() -> list[logging.Logger]:
    """The router's loggers that exist now (each module makes its own when it is imported; a logger
    filter does not apply to child loggers' records, so each one gets the filter)."""
    return [logging.getLogger(name) for name in ["alertrouter", *list(logging.root.manager.loggerDict)]
            if name == "alertrouter" or name.startswith("alertrouter.")]


_simulations = 0  # simulations under way in this process (the filter is on the loggers while any is)
_simulations_lock = threading.Lock()


@contextmanager
def simulated() -> Iterator[None]:
    """Within it, this thread's records from the router's loggers are dropped (see the module's
    docstring). The filter is on the loggers while any simulation runs, and taken off after the last."""
    global _simulations
    with _simulations_lock:
        if _simulations == 0:
            for logger in _router_loggers():
                logger.addFilter(_NOT_SIMULATED)
        _simulations += 1
    token = _SIMULATING.set(True)
    try:
        yield
    finally:
        _SIMULATING.reset(token)
        with _simulations_lock:
            _simulations -= 1
            if _simulations == 0:
                for logger in _router_loggers():
                    logger.removeFilter(_NOT_SIMULATED)


def ids_in_messages(on: bool = True) -> None:
    """Put the ids into the message of every record of the router's loggers (logger filters do not
    apply to child loggers' records, so each one gets the filter); `on=False` takes them off."""
    f = IdsInMessage()
    for logger in _router_loggers():
        for old in [x for x in logger.filters if isinstance(x, IdsInMessage)]:
            logger.removeFilter(old)
        if on:
            logger.addFilter(f)


def setup(fmt: str = "text", level: int = logging.INFO) -> None:
    # Neither format prints where a call was made, nor thread or process names: the logging docs'
    # "Optimization" settings skip gathering them for every record (intake logs a line an event).
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The Azure SDK logs every storage request with its headers at INFO: a dozen lines an event on
    # the Azure store, and most of its CPU. Warnings and errors still show (host.json does the same).
    logging.getLogger(AZURE_HTTP_LOGGER).setLevel(max(level, logging.WARNING))
