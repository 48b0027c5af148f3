"""The local server's first check on every request: the `Host` it was sent to, and for a request that
may change something, the site it came from.

- **Host** (DNS rebinding): a web page on `evil.example` whose name is made to resolve to 127.0.0.1
  reaches a loopback server as same-origin, with `Host: evil.example:7071`. Only names this server
  is known by are answered: the bound address; `localhost`, `127.0.0.1` and `::1` for a loopback
  bind; for a bind to every interface (`0.0.0.0`, `::`) any IP address (rebinding needs a name)
  and this machine's host name; the host of `ALERTROUTER_PUBLIC_URL`; and the names in
  `ALERTROUTER_ALLOWED_HOSTS` (comma-separated; `*` turns the check off). Ports are not compared:
  an SSH tunnel or a proxy on another port keeps working, and the name is what rebinding forges.
  Anything else answers 400.
- **Cross-site writes**: any page the operator visits can POST to `http://127.0.0.1:7071` (a form, or
  `fetch` with `text/plain`, which needs no preflight). A request other than GET, HEAD or OPTIONS is
  refused (403) when its `Sec-Fetch-Site` is `cross-site` or `same-site`, or its `Origin` is neither
  the request's own `scheme://host:port` nor the origin of `ALERTROUTER_PUBLIC_URL`. `Origin: null`
  (sent by browsers for a form posted under `Referrer-Policy: no-referrer`, and by sandboxed frames)
  is left to `Sec-Fetch-Site`, which browsers send to loopback addresses. Azure's own
  server-to-server posts (Event Grid, Action Groups) carry neither header and pass.

It also tells the handlers the connection's peer address in `x-alertrouter-client` (the console's
sign-in rate limit), having removed any such header the client sent.

Under the Functions host this guard does not run: App Service routes by `Host` to the app's own
names (the platform answers other names itself), and every write there needs a function key, an
Entra token, a signed acknowledge token or the console's CSRF token, none of which a foreign page
holds. The console's own CSRF check refuses cross-site `Sec-Fetch-Site` in both places.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
from urllib.parse import urlsplit

log = logging.getLogger("alertrouter.server")

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD = frozenset({"0.0.0.0", "::", ""})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CLIENT_HEADER = b"x-alertrouter-client"
SETTING = "ALERTROUTER_ALLOWED_HOSTS"


def split_host(value: str) -> tuple[str, int | None]:
    """`name:port`, `[v6]:port`, `v6` → (lower-case name without brackets, port or None).
    Raises ValueError for what is not a host."""
    value = value.strip().lower()
    if not value or any(c in value for c in "/@?#\\ \t"):
        raise ValueError(value)
    if value.startswith("["):
        name, sep, rest = value[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(value)
        port = rest[1:]
    elif value.count(":") > 1:  # a bare IPv6 address
        name, port = value, ""
    else:
        name, _, port = value.partition(":")
    if not name or (port and not port.isdigit()):
        raise ValueError(value)
    return name.rstrip("."), int(port) if port else None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _loopback(host: str) -> bool:
    return host in LOOPBACK_NAMES or (_is_ip(host) and ipaddress.ip_address(host).is_loopback)


class HostGuard:
    """The names a server bound to `host` answers to; see the module's docstring."""

    def __init__(self, host: str = "127.0.0.1", port: int = 7071, public_url: str = "", allowed: str | list = ""):
        bound = host.strip().strip("[]").lower()
        items = allowed.split(",") if isinstance(allowed, str) else list(allowed)
        names = {i.strip().lower() for i in items if i and i.strip()}
        self.any_host = "*" in names
        self.hosts = {bound}
        for n in names - {"*"}:
            try:
                self.hosts.add(split_host(n)[0])
            except ValueError:
                raise ValueError(f"{SETTING}: {n[:100]!r} is not a host name; write names or name:port, "
                                 "comma-separated (or * for any)") from None
        self.bound = f"{host}:{port}"
        self.wildcard = bound in WILDCARD
        if _loopback(bound) or self.wildcard:
            self.hosts |= LOOPBACK_NAMES
        if self.wildcard:
            self.hosts |= {n for n in {socket.gethostname().lower(), socket.getfqdn().lower()} if n}
        self.public_origin = ""
        if public_url:
            url = urlsplit(public_url)
            try:
                port = url.port
            except ValueError:
                raise ValueError(f"ALERTROUTER_PUBLIC_URL: {public_url[:100]!r} has a port that is not a number") from None
            if url.hostname:
                self.hosts.add(url.hostname.lower())
                self.public_origin = _origin(url.scheme, url.hostname, port)

    def host_ok(self, name: str) -> bool:
        return self.any_host or name in self.hosts or (self.wildcard and _is_ip(name))

    def refusal(self, method: str, scheme: str, headers: dict[str, str]) -> tuple[int, str] | None:
        """(status, message) for a request to refuse, else None."""
        host = headers.get("host", "")
        if host:
            try:
                name, port = split_host(host)
            except ValueError:
                return 400, f"malformed Host header {host[:100]!r}"
            if not self.host_ok(name):
                return 400, (f"Host {host[:100]!r} is not a name this server answers to (it listens on "
                             f"{self.bound}); a page whose name resolves here could otherwise use it (DNS "
                             f"rebinding). If the name is yours (a proxy or tunnel in front of this server), add "
                             f"it to {SETTING} (comma-separated) or set ALERTROUTER_PUBLIC_URL to it")
        if method.upper() in SAFE_METHODS:
            return None
        site = headers.get("sec-fetch-site", "").strip().lower()
        if site in ("cross-site", "same-site"):
            return 403, (f"refused a {method} from another site (Sec-Fetch-Site: {site}): a page of another site "
                         "may not change this router; use the console's own pages, or send from a script "
                         "(no Origin)")
        origin = headers.get("origin", "").strip()
        if origin and origin != "null" and host:
            own = _origin(scheme, name, port)
            given = _parse_origin(origin)
            if given not in (own, self.public_origin):
                return 403, (f"refused a {method} from origin {origin[:100]!r}: only this server's own origin "
                             f"({own}) may change it. If that origin is this router behind a proxy, set "
                             "ALERTROUTER_PUBLIC_URL to it")
        return None


def _origin(scheme: str, host: str, port: int | None) -> str:
    scheme = (scheme or "http").lower()
    port = port or (443 if scheme in ("https", "wss") else 80)
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host.lower()}:{port}"


def _parse_origin(origin: str) -> str:
    try:
        url = urlsplit(origin)
        return _origin(url.scheme, url.hostname or "", url.port) if url.hostname else origin
    except ValueError:
        return origin


def guarded(asgi, guard: HostGuard):
    """`asgi` behind `guard` (HTTP requests only; lifespan passes)."""
    passed: set[bytes] = set()  # Host values that passed the Host check (a handful in practice; bounded)

    async def app(scope, receive, send):
        if scope["type"] != "http":
            await asgi(scope, receive, send)
            return
        raw, host, from_browser = [], b"", False
        for k, v in scope["headers"]:  # ASGI gives header names lower-case
            if k == CLIENT_HEADER:
                continue
            if k == b"host":
                host = v
            elif k == b"origin" or k == b"sec-fetch-site":
                from_browser = True
            raw.append((k, v))
        if host not in passed or (from_browser and scope["method"] not in SAFE_METHODS):
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw
                       if k in (b"host", b"origin", b"sec-fetch-site")}
            refused = guard.refusal(scope["method"], scope.get("scheme", "http"), headers)
            if refused is not None:
                await _refuse(scope, send, *refused)
                return
            if len(passed) < 256:
                passed.add(host)
        client = scope.get("client")
        raw.append((CLIENT_HEADER, (client[0] if client else "").encode("latin-1")))
        await asgi({**scope, "headers": raw}, receive, send)

    return app


async def _refuse(scope, send, status: int, message: str) -> None:
    log.warning("refused %s %s: %s", scope["method"], scope["path"], message)
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
