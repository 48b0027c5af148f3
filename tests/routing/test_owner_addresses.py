"""Run owners named by run tags: only a configured alias or one bare address whose parsed domain is
allowed, exactly, becomes a target; everything a mail parser could read another way is refused."""

from __future__ import annotations

import copy
import logging

import pytest

from alertrouter.config.load import loads
from alertrouter.errors import ConfigError
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
  channel: mail
  aliases:
    churn-team: [ana@contoso.com, ben@contoso.com]
  allowed_domains: ["@Contoso.com"]
"""
# an alias whose addresses come from the environment (comma- or semicolon-separated)
ENV_CONFIG = CONFIG.replace("    churn-team:", '    qa: ["${QA_EMAIL_TO}"]\n    churn-team:')

CYRILLIC_O = "\u043e"

# (tag value, the owners it must reach)
TABLE = [
    ("evil@evil.example(@contoso.com, ana@contoso.com", ["ana@contoso.com"]),
    ('"Ana" <ana@contoso.com>', []),
    ("Ana <ana@contoso.com>", []),
    ("<ana@contoso.com>", []),
    ("ana@contoso.com (Ana)", []),
    ("ana@contoso.com.evil.example", []),
    ("ana@evil.example,bob@contoso.com", ["bob@contoso.com"]),
    ("ana@[1.2.3.4]", []),
    ("ana@[IPv6:::1]", []),
    ('"evil@evil.example"@contoso.com', []),
    ('"evil"@contoso.com', []),
    ("evil\\@evil.example@contoso.com", []),
    ("ana@contoso.com\r\nBcc: x@evil.example", []),
    ("ana@contoso.com\nbob@contoso.com", []),
    ("ana@contoso.com\x00@evil.example", []),
    (f"ana@cont{CYRILLIC_O}so.com", []),  # lookalike domain
    (f"{CYRILLIC_O}@contoso.com", []),  # non-ASCII local part
    ("ana@contoso\uff0ecom", []),  # fullwidth full stop: IDNA would map it to "."
    ("ana@contoso.com\u200b", []),  # zero-width space
    ("ana@xn--contso-zqf.com", []),  # the lookalike in its xn-- form: another domain
    ("@evil.example:ana@contoso.com", []),  # route syntax
    ("evil.example!ana@contoso.com", []),
    ("ana%evil.example@contoso.com", []),
    ("ana@@contoso.com", []),
    ("ana@evil.example@contoso.com", []),
    ("@contoso.com", []),
    ("ana.@contoso.com", []),
    ("ana@contoso.com.", []),
    ("ana@eu.contoso.com", []),  # subdomains are not allowed unless listed
    ("undisclosed-recipients:;", []),
    ("${QA_EMAIL_TO}@contoso.com", []),
    ("ana@contoso.com bob@contoso.com", []),  # one item with a space inside, not two addresses
    ("Ana@CONTOSO.com; churn-team ,  zoe@contoso.com", ["ana@contoso.com", "ben@contoso.com", "zoe@contoso.com"]),
]


def run_failed(tags: dict):
    ev = copy.deepcopy(load_fixture("aml-runstatuschanged-failed.eventgrid.json"))
    ev[0]["data"]["runTags"] = tags
    [event] = parse_payload(ev).events
    return event


@pytest.fixture
def router():
    return Router(loads(CONFIG, "r.yaml", env={"QA_EMAIL_TO": "qa@contoso.com, qa-lead@contoso.com"}))


@pytest.mark.parametrize("tag,owners", TABLE, ids=[repr(t)[1:40] for t, _ in TABLE])
def test_owner_resolution(router, tag, owners, caplog):
    with caplog.at_level(logging.WARNING, logger="alertrouter.routing"):
        d = router.route(run_failed({"notify": tag}), explain=True)
    found = [t.role.removeprefix("owner:") for t in d.targets if t.role.startswith("owner:")]
    assert found == owners
    assert all(t.channel == "mail" for t in d.targets if t.role.startswith("owner:"))
    assert ("run-owners" in d.routes) == bool(owners)
    trail = d.trail[-1]
    assert trail.startswith(f"run-owners: {', '.join(owners) or 'nobody'}")
    for text in [trail] + [r.getMessage() for r in caplog.records]:  # payload text shown escaped
        assert not any(ord(c) < 0x20 or ord(c) > 0x7e for c in text.replace("…", ""))


def test_why_each_item_was_ignored(router):
    d = router.route(run_failed({"notify": 'evil@evil.example(@contoso.com, "Ana" <ana@contoso.com>, '
                                           "mallory@evil.example, churn-tema, ana@contoso.com\r\nBcc: x"}),
                     explain=True)
    assert d.trail[-1] == (
        "run-owners: nobody; ignored "
        "evil@evil.example(@contoso.com (not an alias nor one bare address: it has a comment in parentheses), "
        '"Ana" <ana@contoso.com> (not an alias nor one bare address: it has a display name or angle brackets), '
        "mallory@evil.example (not an alias nor an allowed domain), "
        "churn-tema (not an alias nor an allowed domain), "
        "ana@contoso.com\\r\\nBcc: x (not an alias nor one bare address: it contains a control character "
        "(line break, tab, NUL\u2026))")


def test_an_alias_from_the_environment_is_split_and_checked(caplog):
    env = {"QA_EMAIL_TO": 'qa@contoso.com;qa-lead@Contoso.com, "Eve" <eve@evil.example>, x@[1.2.3.4]'}
    with caplog.at_level(logging.WARNING, logger="alertrouter.routing"):
        router = Router(loads(ENV_CONFIG, "r.yaml", env=env))
    d = router.route(run_failed({"notify": "qa"}))
    assert [t.role for t in d.targets][1:] == ["owner:qa@contoso.com", "owner:qa-lead@contoso.com"]
    assert [r.getMessage() for r in caplog.records] == [
        "run_owners.aliases.qa[0] (from ${QA_EMAIL_TO}): a value has a display name or angle brackets; "
        "not sending to it",
        "run_owners.aliases.qa[0] (from ${QA_EMAIL_TO}): a value has an IP-literal domain in brackets; "
        "not sending to it",
    ]
    assert "evil" not in caplog.text and "1.2.3.4" not in caplog.text  # the value is not logged


def test_an_alias_whose_variable_is_unset_reaches_nobody(caplog):
    with caplog.at_level(logging.WARNING, logger="alertrouter.routing"):
        router = Router(loads(ENV_CONFIG, "r.yaml", env={}))
    assert [t.role for t in router.route(run_failed({"notify": "qa"})).targets] == ["data-scientist"]
    assert "run_owners.aliases.qa[0] (from ${QA_EMAIL_TO}): no address (is ${QA_EMAIL_TO} set?)" in caplog.text


BAD_CONFIG = [
    ("aliases:\n    churn-team: [ana@contoso.com, ben@contoso.com]",
     'aliases:\n    churn-team: [ana@contoso.com, "Ben <ben@contoso.com>"]',
     'r.yaml:13 run_owners.aliases.churn-team[1]: not one bare email address: it has a display name or angle '
     'brackets; write it like name@contoso.com, got "Ben <ben@contoso.com>"'),
    ("aliases:\n    churn-team: [ana@contoso.com, ben@contoso.com]",
     "aliases:\n    churn-team: [ana@contoso.com, ben@contoso.com, 'evil@evil.example(@contoso.com']",
     "r.yaml:13 run_owners.aliases.churn-team[2]: not one bare email address: it has a comment in parentheses; "
     'write it like name@contoso.com, got "evil@evil.example(@contoso.com"'),
    ('allowed_domains: ["@Contoso.com"]', 'allowed_domains: ["*.contoso.com"]',
     "r.yaml:14 run_owners.allowed_domains[0]: this entry is a wildcard (domains match exactly: list each one); "
     'write a domain like contoso.com (matched exactly: subdomains are not included), got "*.contoso.com"'),
    ('allowed_domains: ["@Contoso.com"]', 'allowed_domains: ["[1.2.3.4]"]',
     "r.yaml:14 run_owners.allowed_domains[0]: this entry is not a domain name: it has an IP-literal domain in "
     "brackets; write a domain like contoso.com (matched exactly: subdomains are not included), "
     'got "[1.2.3.4]"'),
    ('allowed_domains: ["@Contoso.com"]', 'allowed_domains: ["ana@contoso.com"]',
     "r.yaml:14 run_owners.allowed_domains[0]: this entry is an address, not a domain; write a domain like "
     'contoso.com (matched exactly: subdomains are not included), got "ana@contoso.com"'),
    ("  data-scientist: {channels: [ds]}",
     "  data-scientist: {channels: [ds]}\n  qa:\n    channels: [mail]\n    recipients:\n"
     "      to: [qa@contoso.com]\n      cc: ['qa@contoso.com, lead@contoso.com']",
     "r.yaml:11 roles.qa.recipients.cc[0]: not one bare email address: it holds more than one address; "
     'write it like name@contoso.com, got "qa@contoso.com, lead@contoso.com"'),
    ("sender: alerts@contoso.com}", "sender: alerts@contoso.com, to: [ana@contoso.com, 'ana@[::1]']}",
     "r.yaml:4 channels.mail.to[1]: not one bare email address: it has an IP-literal domain in brackets; "
     'write it like name@contoso.com, got "ana@[::1]"'),
]


@pytest.mark.parametrize("old,new,problem", BAD_CONFIG)
def test_a_bad_configured_address_is_a_config_error_at_its_key(old, new, problem):
    assert old in CONFIG
    with pytest.raises(ConfigError) as info:
        loads(CONFIG.replace(old, new), "r.yaml", env={})
    assert info.value.problems == [problem]


def test_configured_addresses_are_normalized_and_env_values_left_for_later():
    loaded = loads(ENV_CONFIG, "r.yaml", env={})
    owners = loaded.config.run_owners
    assert owners.allowed_domains == ["contoso.com"]
    assert owners.aliases["qa"] == ["${QA_EMAIL_TO}"]


def test_a_run_names_at_most_50_owners_and_long_items_are_refused_first(router):
    many = ", ".join(f"user{i}@contoso.com" for i in range(60))
    d = router.route(run_failed({"notify": many}), explain=True)
    assert [t.role for t in d.targets][1:] == [f"owner:user{i}@contoso.com" for i in range(50)]
    assert d.trail[-1].endswith("; ignored 10 more (at most 50 names are read from a run's tags)")
    long = "a" * 250 + "@contoso.com"
    d = router.route(run_failed({"notify": long}), explain=True)
    assert d.trail[-1].endswith("(not an alias nor one bare address: it is longer than 254 characters)")
