"""Control characters from payloads never reach a log line raw (issue 16, item 6): ESC, BEL, NUL,
CR/LF, DEL, C1, the bidi controls and the Unicode line separators, in a record's message, its
arguments and its ids, in text and JSON logs, and in what the Functions host ships."""

from __future__ import annotations

import json
import logging

import pytest

from alertrouter import logs
from tests.hostile import control_leaks

NASTY = ("\x1b[2J\x1b[31mred\x07\x00nul\x7fdel\x85nel\r\n2026-12-07 01:00:00,000 ERROR alertrouter: forged "
         "\u202eexe.txt\u2066iso\u2069\u200e\u200f\u061c\u2028ls\u2029ps")


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logs.ids_in_messages(False)


def _emit(log: logging.Logger) -> None:
    log.warning("alert rule %s fired" + NASTY[:12], NASTY, extra={"event_id": "ev" + NASTY, "notification_id": "n1"})
    try:
        raise ValueError("bad value " + NASTY)
    except ValueError:
        log.exception("could not parse %s", NASTY)


def test_text_logs_keep_one_line_per_record_and_show_controls_as_escapes(capsys, restore_logging):
    logs.setup("text")
    _emit(logging.getLogger("alertrouter.test"))
    err = capsys.readouterr().err
    assert control_leaks(err) == []
    lines = err.rstrip("\n").split("\n")
    records = [line for line in lines if not line.startswith("  ")]  # a traceback is indented under its record
    assert len(records) == 2 and all(line[:4].isdigit() for line in records), lines
    assert "\\x1b[31mred\\x07\\x00nul\\x7fdel\\x85nel\\r\\n2026-12-07" in records[0]
    assert "\\u202eexe.txt\\u2066iso\\u2069" in records[0]
    assert "event_id=ev\\x1b[2J" in records[0] and "notification_id=n1" in records[0]
    assert any("ValueError: bad value \\x1b[2J" in line for line in lines)


def test_json_logs_carry_the_same_text_as_escapes(capsys, restore_logging):
    logs.setup("json")
    _emit(logging.getLogger("alertrouter.test"))
    err = capsys.readouterr().err
    assert control_leaks(err) == []
    docs = [json.loads(line) for line in err.strip().split("\n")]
    assert len(docs) == 2
    assert docs[0]["message"] == f"alert rule {NASTY} fired{NASTY[:12]}"  # the data itself is kept
    assert docs[0]["event_id"] == "ev" + NASTY
    assert NASTY in docs[1]["exception"]


def test_what_the_functions_host_ships_is_escaped_too(restore_logging):
    seen: list[str] = []

    class Host(logging.Handler):  # the worker sends record.getMessage() to Application Insights
        def emit(self, record):
            seen.append(record.getMessage())

    log = logging.getLogger("alertrouter.hosttest")
    log.handlers[:] = [Host()]
    log.propagate = False
    logs.ids_in_messages(True)
    log.warning("payload %s", NASTY, extra={"event_id": "e\r\n1"})
    log.warning("no ids %s", NASTY)
    assert len(seen) == 2 and all(control_leaks(m) == [] for m in seen), seen
    assert seen[0].endswith("[event_id=e\\r\\n1]")
    log.handlers[:] = []
    log.propagate = True
