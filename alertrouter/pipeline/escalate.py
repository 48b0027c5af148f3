"""Escalation and acknowledgement.

A notification on a route with `escalate: {after, to}` carries an acknowledge link: a token signed
with HMAC-SHA256 (the app's ack secret), naming the event and the route, expiring after
`TOKEN_TTL`, good once. If nobody acknowledges within `after`, the route's event is sent to the
`to` roles; an acknowledgement stops that and is announced to the route's roles.

The link (named "Acknowledge" in cards and emails) opens a page saying what would be acknowledged,
with a button; only that button's POST acknowledges (`alertrouter.http.ack_page`), because mail scanners
and link unfurlers open every link they see.

The periodic pass does not read every escalation ever scheduled: each one is also listed under
the minute it falls due (kind `escalation-due-<minute>`), and a cursor document says the earliest
minute that may still hold one. A pass reads the minutes from the cursor to now, drops the entries
that were claimed, resolved or acknowledged, and moves the cursor past minutes left empty.
Escalations scheduled before these lists existed are listed once, on the first pass that finds no
cursor.

A pass that comes more than CATCH_UP minutes after the last (the router was down; a replay
jumping over a quiet night) does not walk the minutes one by one: it reads the open list (kind
`escalation-open`, one entry per escalation scheduled and not yet seen finished), which passes
prune as they find entries claimed, resolved or acknowledged. So it reads what is still open plus
what finished since the last pass, never every escalation ever scheduled. A cursor without the
`open` mark (written before the open list existed) makes the catch-up read every escalation once
and build the list.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

KIND = "escalation"
ACK_KIND = "ack"
DUE = "escalation-due-"  # + the minute (epoch // 60) an escalation falls due: key -> {}
CURSOR, CURSOR_KEY = "escalation-cursor", "all"  # {"minute": the earliest minute that may hold one, "open": 1}
OPEN = "escalation-open"  # key -> {"due": when}: scheduled, not yet seen finished by a pass
CATCH_UP = 60  # minutes behind beyond which a pass reads every escalation rather than minute by minute
TOKEN_TTL = 7 * 86400.0


def key(fingerprint: str, route: str) -> str:
    return f"{fingerprint}|{route}"


def schedule(store, fingerprint: str, event_id: str, route: str, roles: list[str], after: float, now: float) -> None:
    """Put-if-absent per alert (fingerprint) and route: a redelivered or repeated event does not
    restart the clock."""
    k = key(fingerprint, route)
    if store.state_put(KIND, k, {"event_id": event_id, "fingerprint": fingerprint, "route": route, "to": roles,
                                 "due": now + after, "state": "waiting"}, None, now):
        store.state_put(DUE + str(int((now + after) // 60)), k, {}, None, now)
        store.state_put(OPEN, k, {"due": now + after}, None, now)


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
    """The waiting escalations due by `now`: reads the minutes' lists from the cursor to now."""
    found = store.state_get(CURSOR, CURSOR_KEY) or _list_existing(store, now)
    (cursor, version), last = (found[0]["minute"], found[1]), int(now // 60)
    if last - cursor > CATCH_UP:  # no pass for long: the open list rather than minute by minute
        waiting = _open(store, now) if found[0].get("open") else _list_all(store, now)
        first = min((int(d["due"] // 60) for _, d, _ in waiting), default=last)
        store.state_put(CURSOR, CURSOR_KEY, {"minute": min(first, last), "open": 1}, version, now)
        return [(k, d, v) for k, d, v in waiting if d["due"] <= now]
    out, empty_until = [], cursor
    for minute in range(cursor, last + 1):
        left = 0
        for k, _, _ in store.state_list(DUE + str(minute)):
            got = store.state_get(KIND, k)
            if got is None or got[0]["state"] != "waiting":
                store.state_delete(DUE + str(minute), k)  # claimed, resolved or acknowledged
                store.state_delete(OPEN, k)
                continue
            left += 1
            if got[0]["due"] <= now:
                out.append((k, got[0], got[1]))
        if left == 0 and empty_until == minute and minute < last:
            empty_until = minute + 1
    if empty_until > cursor:  # another instance moving it too: either move is right
        store.state_put(CURSOR, CURSOR_KEY, {**found[0], "minute": empty_until}, version, now)
    return out


def _open(store, now: float) -> list[tuple[str, dict, int]]:
    """The waiting escalations, from the open list; entries found finished are dropped (with the
    minute entry a skipped minute would have left behind)."""
    waiting = []
    for k, entry, _ in store.state_list(OPEN):
        got = store.state_get(KIND, k)
        if got is not None and got[0]["state"] == "waiting":
            waiting.append((k, got[0], got[1]))
            continue
        store.state_delete(OPEN, k)
        store.state_delete(DUE + str(int(entry["due"] // 60)), k)
    return waiting


def _list_all(store, now: float) -> list[tuple[str, dict, int]]:
    """Every waiting escalation, read from all of them (a store from before the open list), each
    entered in the open list."""
    waiting = [(k, d, v) for k, d, v in store.state_list(KIND) if d["state"] == "waiting"]
    for k, d, _ in waiting:
        store.state_put(OPEN, k, {"due": d["due"]}, None, now)
    return waiting


def _list_existing(store, now: float) -> tuple[dict, int]:
    """The first pass (a store from before the minutes' lists): list every waiting escalation."""
    first = int(now // 60)
    for k, d, _ in _list_all(store, now):
        minute = int(d["due"] // 60)
        store.state_put(DUE + str(minute), k, {}, None, now)
        first = min(first, minute)
    store.state_put(CURSOR, CURSOR_KEY, {"minute": first, "open": 1}, None, now)
    return store.state_get(CURSOR, CURSOR_KEY)


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
