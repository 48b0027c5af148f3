"""`alertrouter replay` and `alertrouter noise` print payload text to a terminal (event titles, alert
rule names, a stage's reason quoting another alert): a title or rule carrying escape sequences, bidi
controls or line breaks must not clear the screen, colour or reorder the report, or forge a line."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner

from alertrouter.cli.main import main
from alertrouter.store.sqlite import SqliteStore
from tests.hostile import CONTROLS, control_leaks
from tests.replay.configs import BASE, CHANGES, ENV
from tests.replay.conftest import record
from tests.replay.month import START, Month

END = START + timedelta(days=4)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, the_month):
    """Four days of the month, every run and alert titled and every alert rule named with control text."""
    d = tmp_path_factory.mktemp("hostile")
    events = []
    for i, e in enumerate(x for x in the_month.events if x.time < END):
        bad = CONTROLS[i % len(CONTROLS)]
        update = {"title": f"{e.title} {bad}"}
        if "alert_rule" in e.labels:
            update["labels"] = {**e.labels, "alert_rule": f"{e.labels['alert_rule']}{bad}"}
        events.append(e.model_copy(update=update))
    store = SqliteStore(d / "alertrouter.db")
    record(store, Month(events, []), d)
    store.close()
    return d


def lines_leaking(out: str) -> list[str]:
    return [leak for line in out.split("\n") for leak in control_leaks(line)]


@pytest.mark.parametrize("args", [
    ["replay", "--config", "{changed}", "--from", START.isoformat(), "--to", END.isoformat()],
    ["noise", "--from", START.isoformat(), "--to", END.isoformat(), "--no-verify", "--config", "{base}"],
])
def test_payload_text_reaches_the_terminal_as_escapes(data_dir, tmp_path, args):
    changed, base = tmp_path / "changed.yaml", tmp_path / "routing.yaml"
    changed.write_text(BASE.replace(*CHANGES["drop-qa"], 1), encoding="utf-8")
    base.write_text(BASE, encoding="utf-8")
    args = [a.format(changed=changed, base=base) for a in args] + ["--data-dir", str(data_dir)]
    r = CliRunner().invoke(main, args, env=ENV)
    assert r.exit_code == 0, r.output
    assert any(shown in r.stdout for shown in ("\\x1b", "\\u202e", "\\u2028", "\\r"))  # there, as escapes
    assert lines_leaking(r.stdout) == []
