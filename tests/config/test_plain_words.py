"""Problems said in plain words: YAML syntax errors with line and column, what is wrong there and
how to fix it (never ruamel's dump), and severities that are almost right get "did you mean"."""

from __future__ import annotations

import pytest

from alertrouter.config.load import loads
from alertrouter.config.matchers import compile_match
from alertrouter.errors import ConfigError

GOOD = """channels:
  se: {type: log}
roles:
  se:
    channels: [se]
    description: "the engineers"
routes:
  - name: pages
    match: {severity: critical}
    roles: [se]
"""

SYNTAX = [
    ("a tab", GOOD.replace("    channels: [se]", "\tchannels: [se]"),
     "routing.yaml:5 YAML syntax error at column 1: a tab; YAML indents with spaces only: replace the tab with "
     "spaces"),
    ("an unclosed quote", GOOD.replace('"the engineers"', '"the engineers'),
     "routing.yaml:6 YAML syntax error at column 18: the quoted value that opens here is never closed; add the "
     "closing quote (the same quote character) at the end of the value"),
    ("a bad indent", GOOD.replace("    description:", "      description:"),
     "routing.yaml:6 YAML syntax error at column 7: this line is indented differently from the keys above it (the "
     "mapping that starts at line 5, column 5); line up the keys of one mapping at the same column, with spaces"),
    ("an unclosed bracket", GOOD.replace("roles: [se]\n", "roles: [se\n"),
     'routing.yaml:10 YAML syntax error at column 12: the list that opens here with "[" is still open at line 11, '
     'column 1; add the "]" at the end of the list and separate its items with commas'),
    ("an unclosed brace", GOOD.replace("{type: log}", "{type: log"),
     'routing.yaml:2 YAML syntax error at column 7: the mapping that opens here with "{" is still open at line 3, '
     'column 6; add the "}" at the end and separate its entries with commas'),
    ("a duplicate key", GOOD + "routes: []\n",
     'routing.yaml:11 YAML syntax error at column 1: the key "routes" appears twice in one mapping (first at line '
     "7); merge the two or rename one"),
    ("a colon inside a value", GOOD.replace('"the engineers"', "on call: the engineers"),
     'routing.yaml:6 YAML syntax error at column 25: a ":" that YAML cannot place: if the line above is a key, it '
     'needs a ":" after it; if this value holds ": ", put the whole value in quotes'),
    ("a value starting with @", GOOD.replace('"the engineers"', "@engineers"),
     'routing.yaml:6 YAML syntax error at column 18: a value cannot start with "@" (YAML reserves it); put the '
     'value in quotes, like "@…"'),
    ("a list item among keys", GOOD.replace("    roles: [se]\n", "    roles: [se]\n  - se\n", 1).replace(
        "  - name: pages\n", "  pages:\n    name: pages\n"),
     'routing.yaml:12 YAML syntax error at column 3: a list item ("- ") where a key was expected; indent the list '
     "under its key, or line the items up with the other items of the list"),
    ("a control character", GOOD.replace("the engineers", "the\x07engineers"),
     "routing.yaml:6 YAML syntax error at column 22: a control character (U+0007) YAML does not allow; delete it "
     "or write the value in double quotes with an escape"),
]


@pytest.mark.parametrize("text,message", [c[1:] for c in SYNTAX], ids=[c[0] for c in SYNTAX])
def test_yaml_syntax_error_in_plain_words(text, message):
    with pytest.raises(ConfigError) as info:
        loads(text, "routing.yaml", env={})
    assert info.value.problems == [message]


def test_good_is_good():
    assert loads(GOOD, "routing.yaml", env={}).warnings == []


def test_a_file_that_is_not_utf8(tmp_path):
    from alertrouter.config.load import load

    path = tmp_path / "routing.yaml"
    path.write_bytes(GOOD.replace("the engineers", "caf\xe9").encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load(path, env={})
    assert info.value.problems == [f"{path}: not UTF-8 text (byte 0xe9 at offset 81); save the file as UTF-8"]


EXPECTED = "expected one of: critical, error, warning, informational, verbose"
SEVERITY = [
    ("critcal", f'unknown severity "critcal"; did you mean "critical"? ({EXPECTED})'),
    ("Critical", f'unknown severity "Critical"; did you mean "critical"? ({EXPECTED})'),
    ("warn", f'unknown severity "warn"; did you mean "warning"? ({EXPECTED})'),
    ("info", f'unknown severity "info"; did you mean "informational"? ({EXPECTED})'),
    ("Sev1", f'unknown severity "Sev1"; did you mean "error"? (Azure\'s Sev1; {EXPECTED})'),
    ("Sev5", 'unknown severity "Sev5"; Azure\'s severities run from Sev0 to Sev4, written here as critical (Sev0), '
             "error (Sev1), warning (Sev2), informational (Sev3), verbose (Sev4)"),
    ("urgent", f'unknown severity "urgent" ({EXPECTED})'),
]


def test_duplicate_key_in_a_nested_mapping_names_the_first_line():
    text = GOOD.replace("    channels: [se]\n", "    channels: [se]\n    channels: [log]\n", 1)
    with pytest.raises(ConfigError) as info:
        loads(text, "routing.yaml", env={})
    assert info.value.problems == [
        'routing.yaml:6 YAML syntax error at column 5: the key "channels" appears twice in one mapping (first at '
        "line 5); merge the two or rename one"]


@pytest.mark.parametrize("written,message", SEVERITY, ids=[c[0] for c in SEVERITY])
def test_severity_typo_in_a_route(written, message):
    with pytest.raises(ConfigError) as info:
        loads(GOOD.replace("severity: critical", f"severity: {written}"), "routing.yaml", env={})
    assert info.value.problems == [f"routing.yaml:9 routes[0].match.severity: {message}"]


@pytest.mark.parametrize("spec", [{"at_least": "eror"}, ["critical", "eror"], {"not": "eror"}, {"at_most": "eror"}])
def test_severity_typo_anywhere_a_severity_is_written(spec):
    """Lists, comparisons and negations in routes, inhibit rules and silences all read severities here."""
    assert compile_match({"severity": spec})[1] == [
        ("severity", f'unknown severity "eror"; did you mean "error"? ({EXPECTED})')]


def test_severity_typo_in_an_inhibit_rule():
    text = GOOD + "inhibit_rules:\n  - {source: {severity: critcal}, target: {severity: {at_most: Sev2}}}\n"
    with pytest.raises(ConfigError) as info:
        loads(text, "routing.yaml", env={})
    assert info.value.problems == [
        f'routing.yaml:12 inhibit_rules[0].source.severity: unknown severity "critcal"; did you mean "critical"? '
        f"({EXPECTED})",
        f'routing.yaml:12 inhibit_rules[0].target.severity: unknown severity "Sev2"; did you mean "warning"? '
        f"(Azure's Sev2; {EXPECTED})",
    ]
