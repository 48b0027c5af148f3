"""Inhibition through its index, on both stores: what an event costs to decide (documents read,
counted through a real store) and what the index keeps true: a resolved source stops inhibiting,
missing `equal` labels equal empty ones, an alert whose labels change moves, late events change
nothing, an alert does not inhibit itself, and alerts firing before the index existed are found."""

from __future__ import annotations

import copy
import threading
from datetime import datetime, timedelta, timezone

import pytest

from alertrouter.app import App
from alertrouter.config.load import loads
from alertrouter.inbound import parse_payload
from alertrouter.pipeline import inhibit
from alertrouter.store.sqlite import SqliteStore
from tests.conftest import Clock, load_fixture

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)

CONFIG = """
channels:
  se: {type: webhook, url: "http://127.0.0.1:9/se"}
roles:
  se: {channels: [se]}
inhibit_rules:
  - name: sev0-holds-lesser
    source: {severity: critical}
    target: {severity: {at_most: warning}}
    equal: [resource, team]
  - name: disk-holds-disk
    source: {alert_rule: disk}
    target: {alert_rule: disk}
    equal: [resource]
routes:
  - name: alerts
    match: {source: azure-monitor}
    roles: [se]
"""


class CountingStore:
    """A real store, counting the state documents it hands back (a list counts each one)."""

    def __init__(self, store):
        self._store = store
        self.read = 0

    def state_get(self, kind, key):
        found = self._store.state_get(kind, key)
        self.read += found is not None
        return found

    def state_list(self, kind, *args, **kwargs):
        rows = self._store.state_list(kind, *args, **kwargs)
        self.read += len(rows)
        return rows

    def __getattr__(self, name):
        return getattr(self._store, name)


def make_app(store, tmp_path, config: str = CONFIG) -> App:
    return App(loads(config, str(tmp_path / "routing.yaml"), env={}), tmp_path / "data", store=store,
               clock=Clock(T0.timestamp()))


def alert(ident: str, *, rule: str = "cpu", severity: str = "Sev2", resource: str = "vm-1", minutes: int = 0,
          resolved: bool = False):
    """An Azure Monitor alert (the real metric fixture): one fingerprint per `ident`, whatever its
    resource label; fired (or resolved) `minutes` after T0."""
    p = copy.deepcopy(load_fixture("monitor-metric-static-fired.test-action.json"))
    e = p["data"]["essentials"]
    e["alertId"] = f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{ident}"
    e["alertRule"], e["severity"], e["configurationItems"] = rule, severity, [resource]
    at = (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
    if resolved:
        e["monitorCondition"], e["firedDateTime"], e["resolvedDateTime"] = "Resolved", T0.strftime("%Y-%m-%dT%H:%M:%SZ"), at
    else:
        e["firedDateTime"] = at
    [event] = parse_payload(p).events
    return event


def fate(app: App, event) -> str:
    """What intake decided for the event's notification: 'sent' (pending) or the held reason."""
    [n] = app.ingest([event]).notifications or [None]
    assert n is not None, f"{event.id} was taken in before"
    return n.last_detail if n.status == "held" else n.status


def test_deciding_reads_a_bounded_number_of_documents_however_many_alerts_fire(tmp_path):
    store = CountingStore(SqliteStore(tmp_path / "store.db"))
    app = make_app(store, tmp_path)
    try:
        for i in range(150):  # a storm of Sev0s on distinct resources, one per request
            app.ingest([alert(f"crit-{i}", severity="Sev0", resource=f"vm-{i}")])
        reads = []
        for i, resource in ((1, "vm-7"), (2, "elsewhere")):
            store.read = 0
            held = fate(app, alert(f"warn-{i}", severity="Sev2", resource=resource))
            reads.append(store.read)
            assert held.startswith("inhibited by Fired: cpu on vm-7 (rule sev0-holds-lesser)") == (resource == "vm-7")
        assert max(reads) <= 12, reads  # listing the firing alerts read 150 and more
    finally:
        store.close()


def test_a_resolved_source_stops_inhibiting(store, tmp_path):
    app = make_app(store, tmp_path)
    fate(app, alert("sev0", severity="Sev0", resource="vm-1"))
    assert fate(app, alert("w1", resource="vm-1", minutes=1)).startswith("inhibited by Fired: cpu on vm-1")
    assert fate(app, alert("w2", resource="vm-2", minutes=1)) == "pending"  # another resource
    fate(app, alert("sev0", severity="Sev0", resource="vm-1", minutes=2, resolved=True))
    assert fate(app, alert("w3", resource="vm-1", minutes=3)) == "pending"


def test_equal_labels_missing_on_both_sides_still_inhibit(store, tmp_path):
    # neither alert has a `team` label: both count as empty, so they are equal
    app = make_app(store, tmp_path)
    fate(app, alert("sev0", severity="Sev0", resource="vm-1"))
    [src] = [doc for fp, doc in inhibit.firing(store).items()]
    assert "team" not in src["labels"]
    assert "rule sev0-holds-lesser" in fate(app, alert("w", resource="vm-1", minutes=1))


def test_an_alert_whose_labels_change_moves_between_index_keys(store, tmp_path):
    app = make_app(store, tmp_path)
    fate(app, alert("moving", severity="Sev0", resource="vm-1"))
    assert "inhibited" in fate(app, alert("a1", resource="vm-1", minutes=1))
    fate(app, alert("moving", severity="Sev0", resource="vm-2", minutes=2))  # same fingerprint, new resource
    assert fate(app, alert("a2", resource="vm-1", minutes=3)) == "pending"
    assert fate(app, alert("a3", resource="vm-2", minutes=3)).startswith("inhibited by Fired: cpu on vm-2")
    fate(app, alert("moving", severity="Sev3", resource="vm-2", minutes=4))  # no longer a Sev0: no source
    assert fate(app, alert("a4", resource="vm-2", minutes=5)) == "pending"


def test_late_events_do_not_flip_the_state(store, tmp_path):
    app = make_app(store, tmp_path)
    fate(app, alert("x", severity="Sev0", resource="vm-1", minutes=10))
    fate(app, alert("x", severity="Sev0", resource="vm-1", minutes=5, resolved=True))  # older: ignored
    assert "inhibited" in fate(app, alert("w1", resource="vm-1", minutes=11))
    fate(app, alert("x", severity="Sev0", resource="vm-1", minutes=20, resolved=True))
    fate(app, alert("x", severity="Sev0", resource="vm-1", minutes=15))  # older firing: ignored
    assert fate(app, alert("w2", resource="vm-1", minutes=21)) == "pending"


def test_an_alert_does_not_inhibit_itself(store, tmp_path):
    app = make_app(store, tmp_path)
    assert fate(app, alert("d1", rule="disk", resource="vm-1")) == "pending"
    assert fate(app, alert("d1", rule="disk", resource="vm-1", minutes=1)) == "pending"  # it fires again
    assert fate(app, alert("d2", rule="disk", resource="vm-1", minutes=2)).startswith(
        "inhibited by Fired: disk on vm-1 (rule disk-holds-disk)")


def test_alerts_firing_before_the_index_existed_are_found(store, tmp_path):
    # the alert state as intake kept it before the index (and as it stands when a rule is added)
    inhibit.track_doc(store, alert("old", severity="Sev0", resource="vm-1"), T0.timestamp())
    inhibit.track_doc(store, alert("gone", severity="Sev0", resource="vm-2", resolved=True), T0.timestamp())
    app = make_app(store, tmp_path)
    assert "rule sev0-holds-lesser" in fate(app, alert("w1", resource="vm-1", minutes=1))
    assert fate(app, alert("w2", resource="vm-2", minutes=1)) == "pending"
    # a second instance finds the index built: it reads the ready mark and builds nothing
    other = make_app(store, tmp_path / "b")
    assert "rule sev0-holds-lesser" in fate(other, alert("w3", resource="vm-1", minutes=2))
    assert len(store.state_list(inhibit.READY)) == 2


def test_a_rule_that_leaves_the_config_and_returns_is_rebuilt(store, tmp_path):
    app = make_app(store, tmp_path)
    fate(app, alert("s", severity="Sev0", resource="vm-1"))
    without = CONFIG.replace("equal: [resource, team]", "equal: [resource, region]")  # another rule
    other = make_app(store, tmp_path / "b", without)
    fate(other, alert("s", severity="Sev0", resource="vm-1", minutes=1, resolved=True))  # not indexed by `app`'s rule
    back = make_app(store, tmp_path / "c")
    assert fate(back, alert("w", resource="vm-1", minutes=2)) == "pending"


def test_the_dry_run_decides_as_intake_and_writes_nothing(store, tmp_path):
    app = make_app(store, tmp_path)
    fate(app, alert("s", severity="Sev0", resource="vm-1"))
    fresh = make_app(store, tmp_path / "b")  # a process that has not applied anything yet (alertrouter route)
    event = alert("w", resource="vm-1", minutes=1)
    [d] = fresh.pipeline.decide(event, fresh.router.route(event).targets, T0.timestamp(), apply=False)
    assert d.action == "hold" and d.reason.startswith("inhibited by Fired: cpu on vm-1")
    assert store.state_get(inhibit.KIND, event.fingerprint) is None


def test_concurrent_writers_of_one_alert_leave_it_indexed_as_its_document_says(tmp_path):
    store = SqliteStore(tmp_path / "store.db")
    inhibitor = make_app(store, tmp_path).pipeline.inhibitor
    events = [alert("flip", severity="Sev0", resource=f"vm-{i % 3}", minutes=i, resolved=i % 4 == 3)
              for i in range(1, 121)]
    errors = []

    def work(mine):
        try:
            for e in mine:
                inhibitor.track(store, e, T0.timestamp())
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(events[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    [doc] = [d for fp, d, _ in store.state_list(inhibit.KIND)]
    assert doc["time"] == events[-1].time.timestamp()  # the newest event's state won
    [rule] = [r for r in inhibitor.rules if r.rule.name == "sev0-holds-lesser"]
    gen = inhibitor.ready(store, 0)[rule.id]
    where = {f"vm-{i}": [fp for fp, _, _ in store.state_list(inhibit.index_kind(gen, rule.values_of(alert(
        "probe", resource=f"vm-{i}"))))] for i in range(3)}
    expected = rule.place(doc)
    assert {r: len(fps) for r, fps in where.items()} == {
        f"vm-{i}": int(expected == rule.values_of(alert("probe", resource=f"vm-{i}"))) for i in range(3)}
    store.close()


@pytest.mark.parametrize("limit", [1, 3])
def test_state_list_with_a_limit_returns_that_many(store, limit):
    for i in range(5):
        assert store.state_put("limited", f"k{i}", {"i": i}, None, 1.0)
    rows = store.state_list("limited", limit=limit)
    assert len(rows) == limit and {k for k, _, _ in rows} <= {f"k{i}" for i in range(5)}
    assert len(store.state_list("limited")) == 5
