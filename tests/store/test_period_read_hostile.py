"""Reading a period's events leaves the raw payload out inside SQLite (json_remove), so SQLite parses
and writes back the rest of every stored body: whatever an attacker or Azure put in it must come
back exactly as taken in. Payloads at the inbound bounds (64 levels of nesting, integers of
thousands of digits, control and bidi characters, markup, lone surrogates replaced) and text
fields carrying the hostile strings of tests/hostile.py."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertrouter.inbound._json import MAX_DEPTH
from alertrouter.model import Event
from alertrouter.store.sqlite import SqliteStore
from tests.hostile import HOSTILE

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)

texts = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40))
scalars = st.one_of(st.none(), st.booleans(), st.floats(allow_nan=False, allow_infinity=False),
                    st.integers(), st.integers(min_value=10 ** 3000, max_value=10 ** 4000), texts)
payloads = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(texts, inner, max_size=4)), max_leaves=30)


def nested(depth: int):
    value: object = "bottom"
    for i in range(depth - 1):
        value = {"k": [value]} if i % 2 else [value]
    return value


def event(i: int, title: str, labels: dict, raw) -> Event:
    return Event(id=f"e{i}-{title[:8]}", source="azure-monitor", kind="alert.fired", severity="error",
                 title=title, time=T0 + timedelta(seconds=i), fingerprint=f"fp{i}", labels=labels,
                 annotations={"description": title}, links={"portal": "https://portal.azure.com/"}, raw=raw)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(st.tuples(texts, st.dictionaries(texts, texts, max_size=3), payloads), min_size=1, max_size=5))
def test_a_period_reads_back_what_was_taken_in_without_its_payload(tmp_path_factory, items):
    store = SqliteStore(tmp_path_factory.mktemp("period") / "alertrouter.db")
    try:
        events = [event(i, title, labels, raw) for i, (title, labels, raw) in enumerate(items)]
        events.append(event(len(events), "deep", {}, nested(MAX_DEPTH)))
        store.ingest([(e, []) for e in events], T0.timestamp())
        got = store.events_between(T0, T0 + timedelta(hours=1))
        assert got == sorted((e.model_copy(update={"raw": None}) for e in events), key=lambda e: (e.time, e.id))
        # and the whole stored event, payload included, is untouched for get_event
        for e in events:
            assert json.loads(store.get_event(e.id).model_dump_json()) == json.loads(e.model_dump_json())
    finally:
        store.close()
