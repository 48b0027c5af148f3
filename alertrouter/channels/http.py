"""Outbound HTTP: one session factory, and log redaction for the HTTP client's own debug lines.

Channel URLs carry secrets in their query strings (Workflows `sig=`, webhook tokens). urllib3 logs
request lines at DEBUG, so its records are rewritten with query strings removed before any
handler sees them.
"""

from __future__ import annotations

import logging
import re

import requests

_QUERY = re.compile(r"\?[^\s\"']*")


class RedactQueryStrings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        if "?" in message:
            record.msg, record.args = _QUERY.sub("?<redacted>", message), ()
        return True


_FILTER = RedactQueryStrings()
for _name in ("urllib3.connectionpool", "urllib3.util.retry", "requests"):
    _logger = logging.getLogger(_name)
    if _FILTER not in _logger.filters:
        _logger.addFilter(_FILTER)


def make_session(user_agent: str = "alertrouter/0.1") -> requests.Session:
    s = requests.Session()
    s.headers["User-Agent"] = user_agent
    return s
