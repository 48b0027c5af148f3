"""The Azure store's clients and the requests every section shares: the table and queue clients
(from settings: a connection string, or the account name with managed identity), the thread pools
for concurrent writes, and reading, recording and deleting rows.

Credentials are never logged or put in an error message."""

from __future__ import annotations

import json
import os
import re
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import Self

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableServiceClient, UpdateMode
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from ...model import Event
from ..records import Attempt
from .entities import BATCH, BODY, LIST_META, PARALLEL_WRITES, _attempt_rk, _clip, _h
from .transport import Urllib3Transport

AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEVELOPMENT_STORAGE = (  # what "UseDevelopmentStorage=true" means: Azurite on its default ports
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + AZURITE_KEY + ";"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"
    "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
)

_PREFIX_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,49}$")
_ACCOUNT_RE = re.compile(r"^[a-z0-9]{3,24}$")
_QUEUE_RE = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")


class Tables:
    """The clients, pools and shared requests the store's sections are built on."""

    def __init__(self, tables: TableServiceClient, queue: QueueClient | None, table_prefix: str = "alertrouter",
                 *, create: bool = True):
        if not _PREFIX_RE.match(table_prefix):
            raise ValueError(f"table prefix {table_prefix!r}: a letter, then up to 49 letters or digits")
        self.service = tables
        self.queue = queue
        self.table_names = {k: f"{table_prefix}{k.capitalize()}"
                            for k in ("events", "notifications", "attempts", "state")}
        if create:
            for name in self.table_names.values():
                tables.create_table_if_not_exists(name)
            if queue is not None:
                try:
                    queue.create_queue()
                except ResourceExistsError:
                    pass
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        # (notification id, owner) -> (etag, attempts) of the entity as our claim left it, so finish
        # can write its result conditionally without reading the entity back first
        self._leases: OrderedDict[tuple[str, str], tuple[str, int, int]] = OrderedDict()  # + history length
        self._created: OrderedDict[str, dict] = OrderedDict()  # notifications this process made (outbox.py)
        self._leases_lock = threading.Lock()
        self._list_since: tuple[float, bool] | None = None  # the event list index's mark, once read
        # (kind, key) -> (version, etag) of state documents as this process last read or wrote them,
        # and the thread's transaction scope (state.py)
        self._state_etags: OrderedDict[tuple[str, str], tuple[int, str]] = OrderedDict()
        self._scopes = threading.local()
        self.events = tables.get_table_client(self.table_names["events"])
        self.notifications = tables.get_table_client(self.table_names["notifications"])
        self.attempts = tables.get_table_client(self.table_names["attempts"])
        self.state = tables.get_table_client(self.table_names["state"])

    @classmethod
    def from_settings(cls, azure, *, create: bool = True, credential=None, **client_options) -> Self:
        """Clients from `AzureStorage` settings: the connection string if set (Azurite, account key),
        else the account name with DefaultAzureCredential (managed identity)."""
        if not _QUEUE_RE.match(azure.queue_name):
            raise ValueError(f"queue name {azure.queue_name!r}: 3-63 lower-case letters, digits and single hyphens")
        codec = {"message_encode_policy": TextBase64EncodePolicy(), "message_decode_policy": TextBase64DecodePolicy()}

        def options() -> dict:  # a transport of its own for each client
            return {**_transport(), **client_options}

        if azure.connection_string:
            conn = azure.connection_string.strip()
            if conn.lower().rstrip(";") == "usedevelopmentstorage=true":
                conn = DEVELOPMENT_STORAGE
            try:
                tables = TableServiceClient.from_connection_string(conn, **options())
                queue = QueueClient.from_connection_string(conn, azure.queue_name, **codec, **options())
            except (ValueError, TypeError, KeyError):
                # never echo the string: it holds the account key
                raise ValueError("ALERTROUTER_AZURE__CONNECTION_STRING is not a valid storage connection string") \
                    from None
        elif azure.account_name:
            if not _ACCOUNT_RE.match(azure.account_name):
                raise ValueError(f"storage account name {azure.account_name!r}: 3-24 lower-case letters or digits")
            if credential is None:
                from azure.identity import DefaultAzureCredential

                credential = DefaultAzureCredential()
            tables = TableServiceClient(endpoint=f"https://{azure.account_name}.table.core.windows.net",
                                        credential=credential, **options())
            queue = QueueClient(account_url=f"https://{azure.account_name}.queue.core.windows.net",
                                queue_name=azure.queue_name, credential=credential, **codec, **options())
        else:
            raise ValueError("the Azure store needs ALERTROUTER_AZURE__CONNECTION_STRING or "
                             "ALERTROUTER_AZURE__ACCOUNT_NAME (managed identity)")
        return cls(tables, queue, azure.table_prefix, create=create)

    def _parallel(self, calls: list, *, errors: bool = False) -> list:
        """Run independent storage calls concurrently; results in order; the first error raised
        once all have finished (so nothing runs on after the caller has moved on), or with
        `errors`, each call's exception in its place, for the caller to weigh."""
        if len(calls) <= 1 and not errors:
            return [call() for call in calls]
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=PARALLEL_WRITES, thread_name_prefix="azstore")
        futures = [self._pool.submit(call) for call in calls]
        wait(futures)
        if errors:
            return [f.exception() or f.result() for f in futures]
        return [f.result() for f in futures]

    def _list_meta(self, now: float | None) -> tuple[float, bool] | None:
        """(since, legacy): every event taken in since `since` has its index row; `legacy` when
        events were stored before. With `now` (intake), the mark is made first if missing."""
        if self._list_since is not None:
            return self._list_since
        found = self._entity(self.state, LIST_META, "since")
        if found is None and now is not None:
            older = next(iter(self.events.query_entities("RowKey eq @b", parameters={"b": BODY},
                                                         results_per_page=1, select=["RowKey"])), None)
            try:
                self.state.create_entity({"PartitionKey": LIST_META, "RowKey": "since", "since": float(now),
                                          "legacy": older is not None})
            except ResourceExistsError:
                pass  # another instance made it first
            found = self._entity(self.state, LIST_META, "since")
        if found is None:
            return None
        self._list_since = (float(found["since"]), bool(found.get("legacy")))
        return self._list_since

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self._pool = None
        for client in (self.events, self.notifications, self.attempts, self.state, self.service, self.queue):
            if client is not None:
                try:
                    client.close()
                except Exception:  # closing is best effort
                    pass

    def _entity(self, table, pk: str, rk: str, select: list[str] | None = None):
        try:
            return table.get_entity(pk, rk, select=select) if select else table.get_entity(pk, rk)
        except ResourceNotFoundError:
            return None

    def _notification_ids(self, event_pk: str, record=None) -> list[str]:
        """The ids of an event's notifications: kept in its record (`nids`), or, for records written
        before that or with more ids than a property holds, in index rows of its partition."""
        if record is None:
            record = self._entity(self.events, event_pk, BODY, select=["nids", "nids_rows"])
        if record is not None and record.get("nids") is not None and not record.get("nids_rows"):
            return json.loads(record["nids"])
        return [row["notification_id"] for row in self._index_rows(event_pk)]

    def _index_rows(self, event_pk: str):
        return self.events.query_entities("PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                                          parameters={"pk": event_pk, "lo": "n-", "hi": "n."},
                                          select=["PartitionKey", "RowKey", "notification_id"])

    def _record(self, a: Attempt) -> None:
        entity = {"PartitionKey": _h(a.notification_id), "RowKey": _attempt_rk(a.at, a.number),
                  "notification_id": a.notification_id, "number": int(a.number), "at": float(a.at),
                  "status": a.status, "detail": _clip(a.detail)}
        if a.retry_after is not None:
            entity["retry_after"] = float(a.retry_after)
        self.attempts.upsert_entity(entity, mode=UpdateMode.REPLACE)

    @staticmethod
    def _event_of(e, raw: bool = True) -> Event:
        """The event a record holds (`raw=False`: without the payload as it came)."""
        body = b"".join(bytes(e[f"body{i:02d}"]) for i in range(int(e["body_parts"])))
        if raw:
            return Event.model_validate_json(body)
        doc = json.loads(body)
        doc.pop("raw", None)
        return Event.model_validate(doc)

    @staticmethod
    def _delete(table, pk: str, rk: str) -> None:
        if not pk or not rk:
            return
        try:
            table.delete_entity(pk, rk)
        except ResourceNotFoundError:
            pass

    @staticmethod
    def _delete_all(table, rows) -> None:
        """Delete rows of one partition, in entity-group transactions of up to 100."""
        ops = [("delete", {"PartitionKey": r["PartitionKey"], "RowKey": r["RowKey"]}) for r in rows]
        for i in range(0, len(ops), BATCH):
            table.submit_transaction(ops[i:i + BATCH])


ENVIRONMENT_SETTINGS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "requests_ca_bundle", "curl_ca_bundle",
                        "netrc")
CA_BUNDLE_SETTINGS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")  # what requests verifies against, in its order

def _transport() -> dict:
    """Client options for the SDK's transport. `requests` reads proxies, CA bundles and .netrc from the
    environment on every request (a sixth of a storage call's CPU): where no proxy setting nor a
    ~/.netrc is there, nothing needs it, and the requests go through urllib3 directly
    (transport.py: a sixth to a third of a call's CPU less), verifying against the CA bundle the environment
    names, the one requests would have read. Otherwise the SDK's default, unchanged."""
    try:
        netrc = (Path.home() / ".netrc").exists()
    except (RuntimeError, OSError):  # no home directory to look in
        netrc = False
    bundles = {k.lower() for k in CA_BUNDLE_SETTINGS}
    if netrc or any(k.lower() in ENVIRONMENT_SETTINGS and k.lower() not in bundles for k in os.environ):
        return {}
    bundle = next((os.environ[k] for k in CA_BUNDLE_SETTINGS if os.environ.get(k)), None)
    if bundle is None and any(k.lower() in bundles for k in os.environ):
        return {}  # a bundle variable in another spelling: leave it to requests
    options = {"connection_verify": bundle} if bundle else {}
    return {"transport": Urllib3Transport(**options)}
