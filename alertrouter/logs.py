"""Log lines that carry the ids needed to follow one notification from intake to delivery.

Records logged with `extra={"event_id": …, "notification_id": …}` get those ids appended
(`text`) or as fields (`json`, one object per line). Set ALERTROUTER_LOG_FORMAT=json for a log
shipper.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

IDS = ("event_id", "notification_id")
AZURE_HTTP_LOGGER = "azure.core.pipeline.policies.http_logging_policy"


def _ids(record: logging.LogRecord) -> str:
    """`event_id=… notification_id=…` for the ids the record carries ("" for none)."""
    return " ".join(f"{k}={getattr(record, k)}" for k in IDS if getattr(record, k, None))


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = _ids(record)
        return f"{line} [{ids}]" if ids else line


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
        return json.dumps(doc, ensure_ascii=False)


class IdsInMessage(logging.Filter):
    """For hosts that ship the message text without our formatter (the Functions worker sends it to
    Application Insights as a trace): the ids are appended to the message itself, once."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = _ids(record)
        if ids and not getattr(record, "ids_in_message", False):
            record.msg, record.args = f"{record.getMessage()} [{ids}]", ()
            record.ids_in_message = True
        return True


def ids_in_messages(on: bool = True) -> None:
    """Put the ids into the message of every record of the router's loggers (logger filters do not
    apply to child loggers' records, so each one gets the filter); `on=False` takes them off."""
    f = IdsInMessage()
    for name in ["alertrouter", *list(logging.root.manager.loggerDict)]:
        if name == "alertrouter" or name.startswith("alertrouter."):
            logger = logging.getLogger(name)
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
