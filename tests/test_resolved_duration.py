"""A resolved alert's duration: from the fired time its payload states (the common schema's
firedDateTime) when there is one, without asking the store; from the alert's state document (when
the firing it ends began) when the payload states none, or states a fired time after the resolution
(crafted or broken). A run's end: from the store's run-start index, kept a minute by delivery."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alertrouter.channels.build import build_channels
from alertrouter.config.load import load
from alertrouter.config.types import LOG_CHANNEL, Target
from alertrouter.delivery.notification import render_notification
from alertrouter.inbound import parse_payload
from alertrouter.rendering.renderer import Renderer
from alertrouter.store.sqlite import SqliteStore
from tests.conftest import ROOT, load_fixture

RESOLVED = "monitor-metric-static-resolved.json"  # fired 13:58:24.37, resolved 14:03:16.22 (2019-03-22)


class CountingStarts(SqliteStore):
    """Counts the reads a duration takes: the run-start index, the alert's state document."""
    asked = 0

    def first_time(self, fingerprint, kind):
        self.asked += 1
        return super().first_time(fingerprint, kind)

    def state_get(self, kind, key):
        self.asked += kind == "alert"
        return super().state_get(kind, key)


def resolved(fired: str | None = "keep"):
    payload = copy.deepcopy(load_fixture(RESOLVED))
    if fired is None:
        payload["data"]["essentials"].pop("firedDateTime")
    elif fired != "keep":
        payload["data"]["essentials"]["firedDateTime"] = fired
    [event] = parse_payload(payload).events
    return event


@pytest.fixture
def world(tmp_path):
    loaded = load(ROOT / "routing.yaml", env={})
    store = CountingStarts(tmp_path / "db.sqlite")
    yield loaded, store, build_channels(loaded, tmp_path)
    store.close()


def text(world, event) -> str:
    loaded, store, channels = world
    role = next(iter(loaded.config.roles))
    msg = render_notification(loaded, Renderer(strict=True), store, event, Target("r", role, LOG_CHANNEL),
                              channels[LOG_CHANNEL])
    return "\n".join(msg.parts.values())


def test_the_payloads_fired_time_gives_the_duration_without_a_store_read(world):
    event = resolved()
    assert event.kind == "alert.resolved" and event.started_at.isoformat().startswith("2019-03-22T13:58:24")
    assert "Duration: 4 min 52 s" in text(world, event)  # the firing was never taken in here
    assert world[1].asked == 0
    [fired] = parse_payload(load_fixture("monitor-metric-static-fired.test-action.json")).events
    assert fired.started_at is None  # a firing states its own time, nothing it ends


@pytest.mark.parametrize("fired", [None, "2019-03-22T15:00:00Z", "not a time"],
                         ids=["no-fired-time", "fired-after-resolved", "unreadable"])
def test_without_a_usable_fired_time_the_store_is_asked(world, fired):
    event = resolved(fired)
    assert "Duration:" not in text(world, event)  # nothing in the store either: no duration, never a negative one
    assert world[1].asked == 1


def test_the_ends_notifications_to_several_roles_ask_the_store_for_its_start_once(world):
    """A run's end goes to three roles on the shipped config: the dispatcher's renderer asks the
    store when the run started once, and keeps the answer a minute. A start not taken in yet (Event
    Grid may deliver it after the end) is not kept as missing: the next render asks again."""
    from datetime import datetime, timezone

    from alertrouter.delivery.notification import KeptStarts, NotificationRenderer
    from alertrouter.model import Event

    loaded, store, channels = world
    clock = [1000.0]
    render = NotificationRenderer(loaded, Renderer(strict=True), store, lambda *_: None, lambda: clock[0])

    def run_event(kind: str, minute: int) -> Event:
        return Event(id=f"{kind}-1", source="aml", kind=kind, severity="error", title="Run r1 " + kind,
                     time=datetime(2026, 12, 7, 10, minute, tzinfo=timezone.utc), fingerprint="aml-run:r1")

    ended = run_event("run.failed", 42)
    roles = list(loaded.config.roles)[:3]

    def durations() -> list[bool]:
        return ["Duration: 12 min" in "\n".join(render(ended, Target("r", role, LOG_CHANNEL),
                                                       channels[LOG_CHANNEL]).parts.values()) for role in roles]

    assert durations() == [False] * 3 and store.asked == 3  # the start not taken in yet: asked each time
    store.ingest([(run_event("run.started", 30), [])], 1000.0)
    assert durations() == [True] * 3 and store.asked == 4  # found once, kept for the others
    clock[0] += KeptStarts.SECONDS
    assert durations() == [True] * 3 and store.asked == 5  # a minute on: asked again


def test_without_a_stated_fired_time_the_duration_is_since_the_firing_the_alert_state_says_it_ends(world):
    """The alert's state document (kept by the pipeline for every alert) holds when its firing
    began: a resolution without a usable fired time gets its duration from it. An alert that fires
    again has the new firing's duration; a resolution rendered after the alert fired again (its
    delivery retried, deferred) still has its own, from the document's last resolutions."""
    from datetime import datetime, timedelta, timezone

    from alertrouter.model import Event
    from alertrouter.pipeline.inhibit import track_doc

    loaded, store, _ = world
    t0 = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)

    def alert(kind: str, minutes: int) -> Event:
        return Event(id=f"{kind}-{minutes}", source="azure-monitor", kind=kind, severity="error", title="CPU high",
                     time=t0 + timedelta(minutes=minutes), fingerprint="legacy:cpu|vm1")

    for e in (alert("alert.fired", 0), alert("alert.fired", 5)):  # fired, and re-notified while firing
        track_doc(store, e, 1.0)
    first_end = alert("alert.resolved", 17)
    track_doc(store, first_end, 1.0)
    assert "Duration: 17 min" in text(world, first_end)
    for e in (alert("alert.fired", 60), alert("alert.resolved", 65)):
        track_doc(store, e, 1.0)
    assert "Duration: 5 min" in text(world, alert("alert.resolved", 65))
    track_doc(store, alert("alert.fired", 90), 1.0)
    assert "Duration: 17 min" in text(world, first_end)  # delivered late: still its own
    store.asked = 0
    text(world, first_end)
    assert store.asked == 1


_history = st.lists(st.tuples(st.booleans(), st.integers(min_value=1, max_value=600)), min_size=1, max_size=12)


def _in_order_starts(events) -> dict[str, float | None]:
    """By resolution id: when the firing it ends began, taking the history in time order (a firing
    after a resolution, or the first event, starts one; a repeated firing or a re-sent resolution
    does not move it)."""
    starts, streak, firing = {}, None, False
    for e in events:
        if e.kind == "alert.fired":
            streak = streak if firing else e.time.timestamp()
            firing = True
        else:
            starts[e.id], firing = streak, False
    return starts


@settings(max_examples=200, deadline=None)
@given(_history)
def test_a_resolution_taken_in_order_lasts_from_the_start_of_the_firing_it_ends(steps):
    """Any history of one alert's firings and resolutions, taken in in time order: each resolution's
    start is where the firing it ends began."""
    from alertrouter.pipeline.inhibit import fired_since, track_doc
    from alertrouter.store.memory import MemoryStore

    from alertrouter.pipeline.inhibit import ENDS_KEPT

    events = _events(steps)
    expected, store = _in_order_starts(events), MemoryStore()
    for e in events:
        track_doc(store, e, 1.0)
        if e.kind == "alert.resolved":
            assert fired_since(store, e) == expected[e.id]
    # delivered later, after whatever came next: the last resolutions with a start keep it
    kept = [e for e in events if e.kind == "alert.resolved" and expected[e.id] is not None][-ENDS_KEPT:]
    for e in kept:
        assert fired_since(store, e) == expected[e.id]


@settings(max_examples=300, deadline=None)
@given(_history, st.randoms(use_true_random=False))
def test_a_resolution_taken_in_out_of_order_never_gets_a_later_start(steps, rnd):
    """The same histories taken in in any order (redeliveries, retries). Older events do not change
    the alert's state, but a firing taken in late moves the start of the firing it began earlier. So
    a resolution's start, when it is taken in, is a firing of this alert, and never later than the
    start the events taken in by then give in time order: it may be earlier (a resolution taken in
    late is not seen between two firings; the store's first firing gave that before) or missing."""
    from alertrouter.pipeline.inhibit import fired_since, track_doc
    from alertrouter.store.memory import MemoryStore

    events = _events(steps)
    fired = {e.time.timestamp() for e in events if e.kind == "alert.fired"}
    arrival = events[:]
    rnd.shuffle(arrival)
    store, seen = MemoryStore(), []
    for e in arrival:
        track_doc(store, e, 1.0)
        seen.append(e)
        if e.kind == "alert.resolved":
            start = fired_since(store, e)
            so_far = _in_order_starts(sorted(seen, key=lambda x: x.time))[e.id]
            assert start is None or (start in fired and so_far is not None and start <= so_far)
    last, in_order = events[-1], _in_order_starts(events)
    if last.kind == "alert.resolved" and in_order[last.id] is not None:  # once everything is in
        start = fired_since(store, last)
        assert start is not None and start <= in_order[last.id]


def _events(steps):
    t, out = 1_000_000.0, []
    for firing, gap in steps:
        t += gap
        out.append(_alert("alert.fired" if firing else "alert.resolved", t))
    return out


def _alert(kind: str, t: float):
    from datetime import datetime, timezone

    from alertrouter.model import Event

    return Event(id=f"{kind}-{t}", source="azure-monitor", kind=kind, severity="error", title="CPU high",
                 time=datetime.fromtimestamp(t, timezone.utc), fingerprint="legacy:cpu|vm1")
