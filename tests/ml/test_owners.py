"""Run owners from run tags: aliases and allowed domains only."""

from __future__ import annotations

import copy
import logging

from alertrouter.app import App
from alertrouter.config.load import loads
from alertrouter.inbound import parse_payload
from alertrouter.routing.router import Router
from tests.conftest import load_fixture

CONFIG = """
channels:
  ds: {type: webhook, url: "http://127.0.0.1:9/ds"}
  mail: {type: smtp, host: 127.0.0.1, port: 9, sender: alerts@contoso.com}
roles:
  data-scientist: {channels: [ds]}
routes:
  - {name: runs, match: {kind: [run.failed, run.completed]}, roles: [data-scientist]}
run_owners:
  tag: notify
  submitter_tag: mlflow.user
  channel: mail
  aliases: {churn-team: [ana@contoso.com, ben@contoso.com]}
  allowed_domains: [contoso.com]
"""


def failed_run(tags: dict):
    ev = copy.deepcopy(load_fixture("aml-runstatuschanged-failed.eventgrid.json"))
    ev[0]["data"]["runTags"] = tags
    [event] = parse_payload(ev).events
    return event


def test_allowed_owner_and_alias_reach_them_and_others_do_not(caplog):
    router = Router(loads(CONFIG, "r.yaml", env={}))
    with caplog.at_level(logging.WARNING):
        d = router.route(failed_run({"notify": "churn-team, Eve@Contoso.com, mallory@evil.example",
                                     "mlflow.user": "zoe@contoso.com"}), explain=True)
    assert d.routes == ["runs", "run-owners"]
    assert [(t.role, t.channel) for t in d.targets] == [
        ("data-scientist", "ds"), ("owner:ana@contoso.com", "mail"), ("owner:ben@contoso.com", "mail"),
        ("owner:eve@contoso.com", "mail"), ("owner:zoe@contoso.com", "mail")]
    assert d.trail[-1].endswith("ignored mallory@evil.example (not an alias nor an allowed domain)")
    assert "mallory@evil.example" in caplog.text


def test_no_tag_no_owner_and_other_kinds_untouched():
    router = Router(loads(CONFIG, "r.yaml", env={}))
    assert [t.role for t in router.route(failed_run({})).targets] == ["data-scientist"]
    assert [t.role for t in router.route(failed_run({"notify": "mallory@evil.example"})).targets] == ["data-scientist"]


def test_owner_notification_is_addressed_to_the_owner(tmp_path):
    app = App(loads(CONFIG, str(tmp_path / "r.yaml"), env={}), tmp_path / "data")
    app.ingest([failed_run({"notify": "ana@contoso.com"})])
    [owner] = [n for n in app.store.list() if n.role.startswith("owner:")]
    event = app.store.get_event(owner.event_id)
    msg = app.render(event, app.router.route(event).targets[-1], app.channels["mail"])
    built = app.channels["mail"].build(msg)
    assert built["to"] == ["ana@contoso.com"]


def test_owner_config_errors():
    import pytest

    from alertrouter.errors import ConfigError

    # an address is checked with the schema (alertrouter/config/addresses.py), before the cross-checks
    bad = CONFIG.replace("[ana@contoso.com, ben@contoso.com]", "[ana]")
    with pytest.raises(ConfigError) as info:
        loads(bad, "r.yaml", env={})
    assert info.value.problems == [
        'r.yaml:13 run_owners.aliases.churn-team[0]: not one bare email address: it has no "@"; write it like '
        'name@contoso.com, got "ana"',
    ]
    with pytest.raises(ConfigError) as info:
        loads(CONFIG.replace("channel: mail", "channel: ds"), "r.yaml", env={})
    assert info.value.problems == [
        'r.yaml:12 run_owners.channel: channel "ds" is a webhook channel; owners are reached by email: '
        "name an email or smtp channel",
    ]
