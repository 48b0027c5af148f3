"""Escalation and acknowledgement.

A notification on a route with `escalate: {after, to}` carries an acknowledge link: a token signed
with HMAC-SHA256 (the app's ack secret), naming the event and the route, expiring after
`TOKEN_TTL`, good once. If nobody acknowledges within `after`, the route's event is sent to the
`to` roles; an acknowledgement stops that and is announced to the route's roles.

The link (named "Acknowledge" in cards and emails) opens a page saying what would be acknowledged,
with a button; only that button's POST acknowledges (`alertrouter.ack_page`), because mail scanners
and link unfurlers open every link they see.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

KIND = "escalation"
ACK_KIND = "ack"
TOKEN_TTL = 7 * 86400.0


def key(fingerprint: str, route: str) -> str:
    return f"{fingerprint}|{route}"


def schedule(store, fingerprint: str, event_id: str, route: str, roles: list[str], after: float, now: float) -> None:
    """Put-if-absent per alert (fingerprint) and route: a redelivered or repeated event does not
    restart the clock."""
    store.state_put(KIND, key(fingerprint, route), {"event_id": event_id, "fingerprint": fingerprint,
                                                    "route": route, "to": roles, "due": now + after,
                                                    "state": "waiting"}, None, now)


def stop(store, fingerprint: str, route: str, state: str, now: float) -> None:
    """The alert resolved (or was acknowledged): a waiting escalation will not fire."""
    while True:
        found = store.state_get(KIND, key(fingerprint, route))
        if found is None or found[0]["state"] != "waiting":
            return
        doc, version = found
        if store.state_put(KIND, key(fingerprint, route), {**doc, "state": state}, version, now):
            return


def due(store, now: float) -> list[tuple[str, dict, int]]:
    return [(k, d, v) for k, d, v in store.state_list(KIND) if d["state"] == "waiting" and d["due"] <= now]


def claim(store, k: str, doc: dict, version: int, now: float) -> bool:
    return store.state_put(KIND, k, {**doc, "state": "escalated", "escalated_at": now}, version, now)


# --- tokens ---

class AckError(Exception):
    """status: 400 malformed, 403 forged or expired, 409 already used, 404 unknown."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(secret: bytes, event_id: str, fingerprint: str, route: str, now: float, ttl: float = TOKEN_TTL) -> str:
    payload = _b64(json.dumps({"e": event_id, "f": fingerprint, "r": route, "x": int(now + ttl)},
                              separators=(",", ":")).encode())
    sig = _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{sig}"


@dataclass
class Ack:
    event_id: str
    fingerprint: str
    route: str


def verify(secret: bytes, token: str, now: float) -> Ack:
    try:
        payload, sig = token.split(".")
        expected = _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())
    except (ValueError, AttributeError):
        raise AckError(400, "malformed acknowledge token") from None
    if not hmac.compare_digest(sig.encode("utf-8", "surrogatepass"), expected.encode()):  # (str: ASCII only)
        raise AckError(403, "acknowledge token has a bad signature")
    try:
        doc = json.loads(_unb64(payload))
        event_id, fingerprint, route, expires = doc["e"], doc["f"], doc["r"], float(doc["x"])
    except (ValueError, KeyError, TypeError):
        raise AckError(400, "malformed acknowledge token") from None
    if now > expires:
        raise AckError(403, "acknowledge token expired")
    return Ack(event_id, fingerprint, route)


def acknowledge(store, ack: Ack, by: str, now: float) -> None:
    """Single use; stops a waiting escalation. AckError(409) when already acknowledged."""
    if not store.state_put(ACK_KIND, f"{ack.event_id}|{ack.route}", {"by": by, "at": now}, None, now):
        raise AckError(409, "already acknowledged")
    stop(store, ack.fingerprint, ack.route, "acknowledged", now)
