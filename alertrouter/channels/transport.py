"""Outbound HTTP: one session factory, the one transport deliveries POST with, and log
redaction for the HTTP client's own debug lines.

Deliveries POST through `KeepAlive.send` (`client_for(session)`): a small HTTP/1.1 client on the
`httptools` parser the server already uses, with idle keep-alive connections per host shared by
the delivery threads. Each POST is one `sendall` and a parse of the answer: about a tenth of the
CPU of the same POST through urllib3 (measured in benchmarks/README.md), which matters because
deliveries share one interpreter with intake. Through `requests` a third of a delivery's CPU also
went to re-reading the environment (proxies, `.netrc`, CA bundles) on every request; the client
reads it once per host. A host that the environment sends through a proxy is posted to by
`requests` (through the proxy), behind the same `send`: the same answer, the same three errors.

Channel URLs carry secrets in their query strings (Workflows `sig=`, webhook tokens). urllib3 logs
request lines at DEBUG, so its records are rewritten with query strings removed before any
handler sees them; the keep-alive client logs nothing and its errors never carry the URL.
"""

from __future__ import annotations

import logging
import os
import re
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import certifi
import httptools
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



MAX_IDLE = 16  # idle connections kept per host: the dispatcher's delivery threads, with room to spare
MAX_ANSWER_BYTES = 1 << 20  # a longer answer body is not read to the end: the connection is dropped
KEPT_BYTES = 4096  # of an answer's body, kept to be masked and cut to EXCERPT_BYTES for a failure's detail
_KEPT_HEADERS = ("retry-after", "connection", "content-type", "location")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""  # the first KEPT_BYTES of the answer's body (for a failure's detail)

    @property
    def retry_after(self) -> str | None:
        return self.headers.get("retry-after")


class _Parse:
    """httptools callbacks for one answer."""

    def __init__(self):
        self.headers: dict[str, str] = {}
        self.size = 0
        self.kept = bytearray()
        self.head_done = self.done = self.keep_alive = False
        self.parser: httptools.HttpResponseParser | None = None

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        if key in _KEPT_HEADERS:
            self.headers[key] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.head_done = True
        self.keep_alive = self.parser.should_keep_alive()  # asked now: the parser forgets at the end

    def on_body(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if len(self.kept) < KEPT_BYTES:
            self.kept += chunk[:KEPT_BYTES - len(self.kept)]

    def on_message_complete(self) -> None:
        self.done = True


class KeepAlive:
    """POST bytes over kept-alive HTTP/1.1 connections (TLS verified against the CA bundle `requests`
    would use). No redirects, no retries of an answered request: the dispatcher decides what comes next.
    An idle connection the server closed is noticed before it is reused; a reused connection that
    fails before any byte of an answer is retried once on a new one (the server had not taken it)."""

    def __init__(self, user_agent: str = "alertrouter", session: requests.Session | None = None):
        self.user_agent = user_agent
        self._session = session  # posts to a host the environment sends through a proxy
        ca = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
        self._tls = ssl.create_default_context(capath=ca) if os.path.isdir(ca) else ssl.create_default_context(cafile=ca)
        self._idle: dict[tuple[str, str, int], list[socket.socket]] = {}
        self._lock = threading.Lock()
        self._direct: dict[tuple[str, str], bool] = {}

    def direct(self, url: str) -> bool:
        """Whether `url` is reached without a proxy (the environment is read once per scheme and host)."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        found = self._direct.get(key)
        if found is None:
            found = self._direct[key] = (parts.scheme in ("http", "https")
                                         and not requests.utils.get_environ_proxies(url))
        return found

    def send(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
        """POST `body`: over a kept-alive connection, or through `requests` and the proxy when the
        environment sends the host through one. Raises TimeoutError (no answer in time),
        ConnectionError (could not connect, or the connection broke) or ValueError (a request that
        cannot be sent; its `__cause__`, if any, is the `requests` error), never with the URL."""
        if self._session is None or self.direct(url):
            return self.post(url, body, headers, timeout)
        try:
            resp = self._session.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
        except requests.Timeout:
            raise TimeoutError("no answer in time") from None
        except requests.ConnectionError:
            raise ConnectionError("connection failed") from None
        except requests.RequestException as exc:
            raise ValueError("the request cannot be sent") from exc
        kept = {k.lower(): v for k, v in resp.headers.items() if k.lower() in _KEPT_HEADERS}
        return Answer(resp.status_code, kept, resp.content[:KEPT_BYTES])

    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
        """Over a kept-alive connection, whatever the environment says. Raises TimeoutError (no answer in time), ConnectionError (could not connect, or the
        connection broke) or ValueError (a URL or header that cannot be sent)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the URL must be http:// or https:// with a host")
        secure = parts.scheme == "https"
        try:
            port = parts.port or (443 if secure else 80)
        except ValueError:
            raise ValueError("the URL has an invalid port") from None
        host = parts.hostname
        shown = f"[{host}]" if ":" in host else host  # an IPv6 address goes in brackets
        authority = shown if port == (443 if secure else 80) else f"{shown}:{port}"
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lines = [f"POST {target} HTTP/1.1", f"Host: {authority}", f"User-Agent: {self.user_agent}",
                 f"Content-Length: {len(body)}"]
        for name, value in headers.items():
            value = str(value)
            if not _TOKEN.match(name) or "\r" in value or "\n" in value:
                raise ValueError("a header name or value holds characters HTTP does not allow")
            lines.append(f"{name}: {value}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        key = (parts.scheme, host, port)
        sock = self._take(key)
        if sock is not None:
            try:
                return self._exchange(key, sock, request, timeout)
            except _Unanswered:
                pass  # the server closed the kept-alive connection first: once more, on a new one
        try:
            return self._exchange(key, self._connect(host, port, secure, timeout), request, timeout)
        except _Unanswered:
            raise ConnectionError("the connection closed before an answer") from None

    def _exchange(self, key, sock: socket.socket, request: bytes, timeout: float) -> Answer:
        got = 0
        deadline = time.monotonic() + timeout  # for the whole answer, not each read: a trickle ends too
        try:
            sock.settimeout(timeout)
            sock.sendall(request)
            parse = _Parse()
            parser = parse.parser = httptools.HttpResponseParser(parse)
            while not parse.done:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                sock.settimeout(left)
                chunk = sock.recv(65536)
                if not chunk:
                    if got == 0:
                        raise _Unanswered
                    if parse.head_done and parse.headers.get("connection", "").lower() == "close":
                        break  # an answer delimited by the end of the connection
                    raise ConnectionError("the connection closed in the middle of an answer")
                got += len(chunk)
                parser.feed_data(chunk)
                if parse.size > MAX_ANSWER_BYTES:
                    break
        except (socket.timeout, TimeoutError):
            sock.close()
            raise TimeoutError("no answer in time") from None
        except _Unanswered:
            sock.close()
            raise
        except (OSError, httptools.HttpParserError) as exc:
            sock.close()
            if got == 0 and isinstance(exc, (BrokenPipeError, ConnectionResetError)):
                raise _Unanswered from None
            raise ConnectionError(type(exc).__name__) from None
        answer = Answer(parser.get_status_code(), parse.headers, bytes(parse.kept))
        if parse.done and parse.keep_alive:
            self._give(key, sock)
        else:
            sock.close()
        return answer

    def _connect(self, host: str, port: int, secure: bool, timeout: float) -> socket.socket:
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except (socket.timeout, TimeoutError):
            raise TimeoutError("no connection in time") from None
        except OSError as exc:
            raise ConnectionError(type(exc).__name__) from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if secure:
            try:
                sock = self._tls.wrap_socket(sock, server_hostname=host)
            except (socket.timeout, TimeoutError):
                sock.close()
                raise TimeoutError("no TLS handshake in time") from None
            except OSError as exc:  # ssl.SSLError (a certificate that does not verify) is an OSError
                sock.close()
                raise ConnectionError(type(exc).__name__) from None
        return sock

    def _take(self, key) -> socket.socket | None:
        while True:
            with self._lock:
                idle = self._idle.get(key)
                sock = idle.pop() if idle else None
            if sock is None:
                return None
            try:  # readable while idle: the server closed it (or sent what it should not): drop it
                readable, _, _ = select.select([sock], [], [], 0)
            except (OSError, ValueError):
                readable = [sock]
            if not readable:
                return sock
            sock.close()

    def _give(self, key, sock: socket.socket) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < MAX_IDLE:
                idle.append(sock)
                return
        sock.close()

    def close(self) -> None:
        with self._lock:
            socks = [s for idle in self._idle.values() for s in idle]
            self._idle.clear()
        for s in socks:
            s.close()


class _Unanswered(Exception):
    """A connection gave no byte of an answer before it closed: the request was not taken."""


_CLIENTS_LOCK = threading.Lock()


def client_for(session: requests.Session) -> KeepAlive:
    """The transport that goes with `session` (its User-Agent, and its proxies), made on first use."""
    client = getattr(session, "_alertrouter_client", None)
    if client is None:
        with _CLIENTS_LOCK:
            client = getattr(session, "_alertrouter_client", None)
            if client is None:
                client = KeepAlive(session.headers.get("User-Agent", "alertrouter"), session)
                session._alertrouter_client = client
    return client
