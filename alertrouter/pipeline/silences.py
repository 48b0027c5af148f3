"""Silences: matchers + start/end + author + comment, kept in the store (kind "silence").

A silenced notification is recorded as held with the silence named, never sent, and never
released later: an expired silence does not flood anyone with stale notices.

Intake does not list every silence ever made for each request: every change to a silence also
bumps one revision document (kind "silence-rev"), and `Current` keeps the silences that can still
apply in memory, reading that one document per request and the whole list only when it moved.
On a store shared over the network (Azure: a storage request an event), `Current` reads the
revision at most once every REVISION_REUSE_SECONDS: a silence made or expired on another instance
applies here within that second, one made or expired by this process at once.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from dataclasses import dataclass

from ..errors import RouterError
from ..model import Event
from ..config.matchers import compile_match

KIND = "silence"
REV, REV_KEY = "silence-rev", "all"  # its version moves with every change to any silence
REVISION_REUSE_SECONDS = 1.0  # on a remote store: how long a revision read stands for the requests after it
_changed_here = [0]  # changes to silences this process made (any store): a `Current` reads afresh after one


class SilenceError(RouterError):
    pass


@dataclass
class Silence:
    id: str
    matchers: dict
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    created_at: float
    expired_at: float | None = None

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at and self.expired_at is None

    @functools.cached_property
    def _matchers(self) -> tuple:
        return _compiled(json.dumps(self.matchers, sort_keys=True))

    def matches(self, event: Event) -> bool:
        return all(m.test(event.match_value(m.key)) for m in self._matchers)

    def describe(self) -> str:
        return f"silenced by {self.id} ({self.comment}, by {self.created_by})"


@functools.lru_cache(maxsize=1024)  # silences are read afresh for every request; their matchers rarely change
def _compiled(spec: str) -> tuple:
    return tuple(compile_match(json.loads(spec))[0])


def matcher_spec(op: str, value: str):
    """The routing.yaml-style spec of one matcher written Alertmanager's way, `label=value`,
    `label!=value`, `label=~regex` or `label!~regex` (the CLI's --match, the console's form)."""
    return {"=": value, "!=": {"not": value}, "=~": {"regex": value}, "!~": {"not_regex": value}}[op]


def create(store, *, matchers: dict, starts_at: float, ends_at: float, created_by: str, comment: str,
           now: float) -> Silence:
    """Validate and store a silence; SilenceError says what is wrong."""
    if not matchers:
        raise SilenceError("a silence needs at least one matcher (a silence matching everything is not allowed)")
    _, errors = compile_match(matchers)
    if errors:
        raise SilenceError("; ".join(f"{k}: {msg}" for k, msg in errors))
    if not created_by.strip() or not comment.strip():
        raise SilenceError("a silence needs an author and a comment (who, and why)")
    if ends_at <= starts_at:
        raise SilenceError("the silence ends before it starts")
    if ends_at <= now:
        raise SilenceError("the silence would already be over")
    s = Silence(id="s_" + uuid.uuid4().hex[:12], matchers=matchers, starts_at=starts_at, ends_at=ends_at,
                created_by=created_by.strip(), comment=comment.strip(), created_at=now)
    store.state_put(KIND, s.id, s.__dict__, None, now)
    _bump(store, now)
    return s


def all_silences(store) -> list[Silence]:
    return sorted((Silence(**v) for _, v, _ in store.state_list(KIND)), key=lambda s: s.created_at, reverse=True)


def expire(store, silence_id: str, now: float) -> Silence:
    while True:
        found = store.state_get(KIND, silence_id)
        if found is None:
            raise SilenceError(f"no silence {silence_id}")
        value, version = found
        s = Silence(**value)
        if s.expired_at is not None or s.ends_at <= now:
            return s
        s.expired_at = now
        if store.state_put(KIND, silence_id, s.__dict__, version, now):
            _bump(store, now)
            return s


def silencing(store, event: Event, now: float) -> Silence | None:
    return next((s for s in all_silences(store) if s.active(now) and s.matches(event)), None)


def _bump(store, now: float) -> None:
    """Tell every instance's `Current` that the silences changed."""
    while True:
        found = store.state_get(REV, REV_KEY)
        if store.state_put(REV, REV_KEY, {"at": now}, found[1] if found else None, now):
            _changed_here[0] += 1
            return


class Current:
    """The silences that can still apply (not expired, not over), kept in memory per process and
    read again only when the revision document says they changed: one document read per call,
    however many silences were ever made; with `reuse_seconds`, one read per that many seconds
    (a change this process made is seen at once all the same)."""

    def __init__(self, store, reuse_seconds: float = 0.0, clock=time.monotonic):
        self.store = store
        self.reuse_seconds, self._clock = reuse_seconds, clock
        # (revision, silences, when the revision was read, this process's changes then): replaced whole
        self._cache: tuple[object, list[Silence], float, int] = (object(), [], float("-inf"), -1)

    def active(self, now: float) -> list[Silence]:
        return [s for s in self.unexpired(now) if s.active(now)]

    def unexpired(self, now: float) -> list[Silence]:
        """The silences that apply now or may later (not expired, not over)."""
        cached_rev, cached, read_at, changes = self._cache
        moment, here = self._clock(), _changed_here[0]  # taken before the read: a change after it is seen next time
        if moment - read_at >= self.reuse_seconds or here != changes:
            found = self.store.state_get(REV, REV_KEY)
            rev = found[1] if found else None  # None: no change recorded yet (silences made before the revision)
            if rev != cached_rev:
                cached = [s for s in all_silences(self.store) if s.expired_at is None and s.ends_at > now]
            self._cache = (rev, cached, moment, here)
        return [s for s in cached if s.ends_at > now]
