"""Silences at intake: one revision document read per request, however many silences were ever
made; a silence made or expired by another process (the CLI) applies from its next request."""

from __future__ import annotations

from alertrouter.pipeline import silences
from alertrouter.store.sqlite import SqliteStore
from tests.store.test_inhibit_index import T0, CountingStore, alert, fate, make_app

NOW = T0.timestamp()


def make(store, **kw):
    return silences.create(store, starts_at=NOW - 60, ends_at=NOW + 3600, created_by="ana", comment="test",
                           now=NOW - 60, **kw)


def test_intake_reads_a_bounded_number_of_documents_however_many_silences_were_made(tmp_path):
    store = CountingStore(SqliteStore(tmp_path / "store.db"))
    try:
        for i in range(120):  # expired long ago, still kept for the console's history
            silences.expire(store, make(store, matchers={"resource": f"vm-{i}"}).id, NOW - 30)
        make(store, matchers={"resource": "vm-quiet"})
        app = make_app(store, tmp_path)
        fate(app, alert("first", resource="vm-0"))  # the first request reads them once
        reads = []
        for i, resource in enumerate(["vm-quiet", "vm-5", "vm-quiet"]):
            store.read = 0
            held = fate(app, alert(f"a{i}", resource=resource, minutes=1))
            reads.append(store.read)
            assert held.startswith("silenced by") == (resource == "vm-quiet")
        assert max(reads) <= 12, reads  # listing every silence read 121 and more
    finally:
        store.close()


def test_a_silence_made_or_expired_elsewhere_applies_from_the_next_request(store, tmp_path):
    app = make_app(store, tmp_path)
    assert fate(app, alert("a", resource="vm-1")) == "pending"
    s = make(store, matchers={"resource": "vm-1"})  # as `alertrouter silence add` would, in its own process
    assert fate(app, alert("b", resource="vm-1")).startswith(f"silenced by {s.id}")
    silences.expire(store, s.id, NOW)
    assert fate(app, alert("c", resource="vm-1")) == "pending"


def test_silences_made_before_the_revision_document_are_seen(store, tmp_path):
    s = make(store, matchers={"resource": "vm-1"})
    store.state_delete(silences.REV, silences.REV_KEY)  # as a store written by an older version holds them
    app = make_app(store, tmp_path)
    assert fate(app, alert("a", resource="vm-1")).startswith(f"silenced by {s.id}")


class RevisionReads(CountingStore):
    """Counts the reads of the silences' revision document."""

    revisions = 0

    def state_get(self, kind, key):
        self.revisions += kind == silences.REV
        return super().state_get(kind, key)


def test_within_one_outer_batch_the_silences_are_read_once_and_each_event_checked_on_its_own_time(tmp_path):
    # as a replay runs: one batch around requests on their own clock, the silences unchanged meanwhile
    store = RevisionReads(SqliteStore(tmp_path / "store.db"))
    try:
        later = silences.create(store, matchers={"resource": "vm-1"}, starts_at=NOW + 120, ends_at=NOW + 600,
                                created_by="ana", comment="maintenance", now=NOW - 60)
        app = make_app(store, tmp_path)
        store.revisions, fates = 0, []
        with app.pipeline.batch():
            for i, minutes in enumerate((0, 1, 3, 9, 11)):
                app.clock.t = NOW + minutes * 60
                fates.append(fate(app, alert(f"a{i}", resource="vm-1", minutes=minutes)))
        assert fates[:2] == ["pending", "pending"] and fates[4] == "pending"
        assert all(f.startswith(f"silenced by {later.id}") for f in fates[2:4]), fates
        assert store.revisions == 1
    finally:
        store.close()
