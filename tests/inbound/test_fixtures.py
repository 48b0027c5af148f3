"""Every real payload through the file path (parse_payload), with its expected kind and severity."""

from __future__ import annotations

import pytest

from alertrouter.inbound import parse_payload
from tests.conftest import fixture_files, load_fixture
from tests.inbound.expected import EXPECTED, HANDSHAKE

FILES = [p.name for p in fixture_files()]


def test_every_fixture_has_an_expectation():
    assert sorted(set(FILES) - set(EXPECTED)) == []
    assert sorted(set(EXPECTED) - set(FILES)) == []


@pytest.mark.parametrize("name", FILES)
def test_fixture_file_path(name):
    parsed = parse_payload(load_fixture(name))
    want = EXPECTED[name]
    if want == HANDSHAKE:
        assert parsed.events == []
        assert parsed.handshake == load_fixture(name.replace(".request.", ".response."))
        return
    assert [(e.kind, e.severity.value) for e in parsed.events] == [(k, s) for k, s, _ in want]
    for event, (_, _, labels) in zip(parsed.events, want):
        assert {k: event.labels.get(k) for k in labels} == labels
        assert event.id and event.fingerprint and event.title
        assert event.raw is not None
