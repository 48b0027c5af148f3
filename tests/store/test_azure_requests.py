"""How many storage requests the Azure store spends (counted at the HTTP level on Azurite, through
azure-core's request hook), and that what it spares them with never weakens a check: the etags it
remembers, the state documents a transaction keeps, the rows it writes together."""

from __future__ import annotations

from azure.data.tables import UpdateMode

from alertrouter.settings import AzureStorage
from alertrouter.store.azure import AzureStore


class Requests:
    """The requests a store's clients send, as 'METHOD resource' (the hook runs for each attempt)."""

    def __init__(self):
        self.seen: list[str] = []

    def __call__(self, request) -> None:
        http = request.http_request
        path = http.url.split("?")[0].split("/", 4)[-1]
        self.seen.append(f"{http.method} {path.split('(')[0]}")

    def take(self) -> list[str]:
        seen, self.seen = self.seen, []
        return seen


def counted(settings: AzureStorage, *, create: bool = True) -> tuple[AzureStore, Requests]:
    hook = Requests()
    return AzureStore.from_settings(settings, create=create, retry_total=1, raw_request_hook=hook), hook


def test_a_state_document_is_read_once_within_a_transaction_and_written_on_the_etag_it_was_read_with(
        azure_settings):
    store, hook = counted(azure_settings)
    table = store.table_names["state"]
    store.state_put("group", "g", {"n": 0}, None, 1.0)
    hook.take()
    with store.transaction():
        for _ in range(3):  # the grouping stage reads its documents three times an alert
            assert store.state_get("group", "g") == ({"n": 0}, 1)
        assert store.state_put("group", "g", {"n": 1}, 1, 2.0)
        assert store.state_get("group", "g") == ({"n": 1}, 2)
        assert store.state_get("group", "absent") is None
        assert store.state_get("group", "absent") is None
    assert hook.take() == [f"GET {table}", f"PUT {table}", f"GET {table}"]
    assert store.state_put("group", "g", {"n": 2}, 2, 3.0)  # outside: the etag its write answered with
    assert hook.take() == [f"PUT {table}"]
    assert store.state_get("group", "g") == ({"n": 2}, 3)  # outside a transaction every read is fresh
    assert store.state_get("group", "g") == ({"n": 2}, 3)
    assert hook.take() == [f"GET {table}", f"GET {table}"]
    store.close()


def test_a_document_changed_by_another_instance_makes_the_remembered_write_lose_and_the_next_read_fresh(
        azure_settings):
    store, _ = counted(azure_settings)
    other, _ = counted(azure_settings, create=False)
    store.state_put("alert", "fp", {"firing": True}, None, 1.0)
    with store.transaction():
        assert store.state_get("alert", "fp") == ({"firing": True}, 1)
        value, version = other.state_get("alert", "fp")
        assert other.state_put("alert", "fp", {"firing": False}, version, 2.0)  # behind our back
        assert store.state_get("alert", "fp") == ({"firing": True}, 1)  # the scope's copy, read a moment ago
        assert not store.state_put("alert", "fp", {"firing": "stale"}, 1, 3.0)  # its etag is stale: it loses
        assert store.state_get("alert", "fp") == ({"firing": False}, 2)  # read again after losing
        assert store.state_put("alert", "fp", {"firing": True}, 2, 4.0)
    other.state_delete("alert", "fp")
    assert not store.state_put("alert", "fp", {"firing": "gone"}, 3, 5.0)  # deleted elsewhere: it loses
    assert store.state_get("alert", "fp") is None
    other.state_put("alert", "fp", {"again": 1}, None, 6.0)  # made again elsewhere, version 1 anew
    assert not store.state_put("alert", "fp", {"x": 1}, None, 7.0)
    store.state.upsert_entity({"PartitionKey": "alert", "RowKey": "unrelated"}, mode=UpdateMode.REPLACE)
    assert store.state_get("alert", "fp") == ({"again": 1}, 1)
    store.close()
    other.close()
