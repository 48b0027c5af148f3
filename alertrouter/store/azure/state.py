"""The Azure store's state documents (silences, alert state, groups, escalations, digest periods).

PartitionKey = kind, RowKey = hash of the key; the JSON value is split over binary properties like
event bodies; the entity's etag is the concurrency check, `version` what callers compare."""

from __future__ import annotations

import itertools
import json

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from .entities import CHUNK_BYTES, MAX_BODY_BYTES, _clip, _conflict, _h
from .tables import Tables


class AzureStateDocuments(Tables):
    """The StateDocuments role on the state table."""

    def state_get(self, kind: str, key: str) -> tuple[dict, int] | None:
        e = self._entity(self.state, kind, _h(key))
        return (self._state_value(e), int(e["version"])) if e is not None else None

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
                self.state.create_entity(entity)
                return True
            except ResourceExistsError:
                return False
        current = self._entity(self.state, kind, _h(key))
        if current is None or int(current["version"]) != expected:
            return False
        entity["version"] = expected + 1
        try:
            self.state.update_entity(entity, mode=UpdateMode.REPLACE, etag=current.metadata["etag"],
                                     match_condition=MatchConditions.IfNotModified)
            return True
        except ResourceNotFoundError:
            return False
        except HttpResponseError as exc:
            if _conflict(exc):
                return False
            raise

    def state_list(self, kind: str, limit: int | None = None) -> list[tuple[str, dict, int]]:
        rows = self.state.query_entities("PartitionKey eq @k", parameters={"k": kind}, results_per_page=limit)
        if limit is not None:  # one request: the first `limit` rows (in RowKey order, a hash of the key)
            rows = itertools.islice(rows, limit)
        return sorted(((e["key"], self._state_value(e), int(e["version"])) for e in rows), key=lambda r: r[0])

    def state_delete(self, kind: str, key: str) -> None:
        self._delete(self.state, kind, _h(key))

    @staticmethod
    def _state_value(e) -> dict:
        data = b"".join(bytes(e[f"v{i}"]) for i in range(int(e.get("chunks", 0))))
        return json.loads(data) if data else {}
