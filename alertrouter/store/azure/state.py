"""The Azure store's state documents (silences, alert state, groups, escalations, digest periods).

PartitionKey = kind, RowKey = hash of the key; the JSON value is split over binary properties like
event bodies; the entity's etag is the concurrency check, `version` what callers compare.

Two things spare requests without weakening that check:
- the etag of each document as this process last read or wrote it is remembered with its version,
  so `state_put(expected=v)` writes straight away (If-Match that etag) when v is the version it
  knows, instead of reading the document first; a document changed elsewhere answers 412: it loses,
  as it would have after the read;
- within `transaction()` (one intake chunk, one delivery pass) a document read or written is kept
  for the rest of the scope on that thread, so the stages that read it again (grouping reads its
  documents three times an alert) do not go back to storage. A write that loses drops it from the
  scope, so the caller's next read is fresh; the scope ends with the transaction.
"""

from __future__ import annotations

import contextlib
import itertools
import json

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from .entities import CHUNK_BYTES, MAX_BODY_BYTES, _clip, _conflict, _h
from .tables import Tables


ETAGS_KEPT = 20_000  # state documents whose (version, etag) a process remembers


class AzureStateDocuments(Tables):
    """The StateDocuments role on the state table."""

    @contextlib.contextmanager
    def transaction(self):
        """Tables have no multi-entity transactions across partitions: each write stands alone. What
        it groups is reads: state documents are read once within it (see the module docstring)."""
        outer = getattr(self._scopes, "docs", None)
        if outer is not None:  # nested: joins the outer scope
            yield
            return
        self._scopes.docs = {}
        try:
            yield
        finally:
            self._scopes.docs = None

    def state_get(self, kind: str, key: str) -> tuple[dict, int] | None:
        scope = getattr(self._scopes, "docs", None)
        if scope is not None and (kind, key) in scope:
            kept = scope[(kind, key)]
            return (json.loads(kept[0]) if kept[0] else {}, kept[1]) if kept is not None else None
        e = self._entity(self.state, kind, _h(key))
        if e is None:
            self._forget(kind, key, absent=True)
            return None
        version = int(e["version"])
        self._remember(kind, key, version, e.metadata["etag"], self._state_bytes(e))
        return self._state_value(e), version

    def state_put(self, kind: str, key: str, value: dict, expected: int | None, now: float) -> bool:
        body = json.dumps(value, sort_keys=True).encode()
        if len(body) > MAX_BODY_BYTES:
            raise ValueError(f"state document {kind}/{key} is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
        entity = {"PartitionKey": kind, "RowKey": _h(key), "key": _clip(key), "updated_at": float(now),
                  "chunks": 0}
        for i in range(0, len(body), CHUNK_BYTES):
            entity[f"v{i // CHUNK_BYTES}"] = body[i:i + CHUNK_BYTES]
            entity["chunks"] += 1
        if expected is None:
            entity["version"] = 1
            try:
                done = self.state.create_entity(entity)
            except ResourceExistsError:
                self._forget(kind, key)
                return False
            self._remember(kind, key, 1, _etag(done), body)
            return True
        etag = self._known_etag(kind, key, expected)
        if etag is None:
            current = self._entity(self.state, kind, _h(key))
            if current is None or int(current["version"]) != expected:
                self._forget(kind, key)
                return False
            etag = current.metadata["etag"]
        entity["version"] = expected + 1
        try:
            done = self.state.update_entity(entity, mode=UpdateMode.REPLACE, etag=etag,
                                            match_condition=MatchConditions.IfNotModified)
        except ResourceNotFoundError:
            self._forget(kind, key)
            return False
        except HttpResponseError as exc:
            if _conflict(exc):
                self._forget(kind, key)
                return False
            raise
        self._remember(kind, key, expected + 1, _etag(done), body)
        return True

    def state_list(self, kind: str, limit: int | None = None) -> list[tuple[str, dict, int]]:
        rows = self.state.query_entities("PartitionKey eq @k", parameters={"k": kind}, results_per_page=limit)
        if limit is not None:  # one request: the first `limit` rows (in RowKey order, a hash of the key)
            rows = itertools.islice(rows, limit)
        return sorted(((e["key"], self._state_value(e), int(e["version"])) for e in rows), key=lambda r: r[0])

    def state_delete(self, kind: str, key: str) -> None:
        self._delete(self.state, kind, _h(key))
        self._forget(kind, key, absent=True)

    def _remember(self, kind: str, key: str, version: int, etag: str | None, body: bytes) -> None:
        """The document as this process now knows it: its etag for later writes, its value for the scope."""
        with self._leases_lock:
            if etag:
                self._state_etags[(kind, key)] = (version, etag)
                self._state_etags.move_to_end((kind, key))
                while len(self._state_etags) > ETAGS_KEPT:
                    self._state_etags.popitem(last=False)
            else:
                self._state_etags.pop((kind, key), None)
        scope = getattr(self._scopes, "docs", None)
        if scope is not None:
            scope[(kind, key)] = (body, version)

    def _forget(self, kind: str, key: str, absent: bool = False) -> None:
        """Not known any more (a write lost: read it again), or known to be `absent` (within the scope)."""
        with self._leases_lock:
            self._state_etags.pop((kind, key), None)
        scope = getattr(self._scopes, "docs", None)
        if scope is not None:
            if absent:
                scope[(kind, key)] = None
            else:
                scope.pop((kind, key), None)

    def _known_etag(self, kind: str, key: str, version: int) -> str | None:
        with self._leases_lock:
            known = self._state_etags.get((kind, key))
        return known[1] if known is not None and known[0] == version else None

    @staticmethod
    def _state_bytes(e) -> bytes:
        return b"".join(bytes(e[f"v{i}"]) for i in range(int(e.get("chunks", 0))))

    @classmethod
    def _state_value(cls, e) -> dict:
        data = cls._state_bytes(e)
        return json.loads(data) if data else {}


def _etag(done) -> str | None:
    """The etag a write answered with (the SDK's metadata dict), if it gave one."""
    return done.get("etag") if isinstance(done, dict) else None
