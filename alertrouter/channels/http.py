"""Outbound HTTP: one session factory, the fast POST that deliveries use, and log redaction for
the HTTP client's own debug lines.

Deliveries POST through urllib3's connection pools directly (`pool_for(session)`), one keep-alive
pool per host shared by the delivery threads. Through `requests`, a third of each delivery's CPU
went to re-reading the environment for proxies, `.netrc` and CA bundles on every request, and to
merging per-request settings; the pool reads the environment once per host. A host that the
environment sends through a proxy is posted to by `requests` as before.

Channel URLs carry secrets in their query strings (Workflows `sig=`, webhook tokens). urllib3 logs
request lines at DEBUG, so its records are rewritten with query strings removed before any
handler sees them.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from urllib.parse import urlsplit

import certifi
import requests
import urllib3

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


POOL_SIZE = 16  # connections kept per host: the dispatcher's delivery threads, with room to spare


class Pool:
    """urllib3 pools for one session: its User-Agent, TLS verified against the same CA bundle
    `requests` would use, no retries and no redirects (the dispatcher decides what happens next)."""

    def __init__(self, session: requests.Session):
        self.user_agent = session.headers.get("User-Agent", "alertrouter")
        ca = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
        self.manager = urllib3.PoolManager(num_pools=32, maxsize=POOL_SIZE, block=False, retries=False,
                                           cert_reqs="CERT_REQUIRED", ca_certs=ca)
        self._direct: dict[tuple[str, str], bool] = {}

    def direct(self, url: str) -> bool:
        """Whether `url` is reached without a proxy (environment read once per scheme and host)."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        found = self._direct.get(key)
        if found is None:
            found = self._direct[key] = parts.scheme in ("http", "https") and not requests.utils.get_environ_proxies(url)
        return found

    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> urllib3.BaseHTTPResponse:
        return self.manager.request("POST", url, body=body, headers={"User-Agent": self.user_agent, **headers},
                                    timeout=urllib3.Timeout(connect=timeout, read=timeout), redirect=False,
                                    retries=False)


_POOLS_LOCK = threading.Lock()


def pool_for(session: requests.Session) -> Pool:
    pool = getattr(session, "_alertrouter_pool", None)
    if pool is None:
        with _POOLS_LOCK:
            pool = getattr(session, "_alertrouter_pool", None)
            if pool is None:
                pool = Pool(session)
                session._alertrouter_pool = pool
    return pool
