"""Each channel kind says what it is on its class, and every caller reads it from there: the
config schema's `channels:` union, the template folder, the pacing limit, the per-minute budget
and paging."""

from __future__ import annotations

import typing

import pytest

from alertrouter.channels.registry import CHANNELS, channel_class
from alertrouter.config.load import loads
from alertrouter.config.schema import CHANNEL_TYPES
from alertrouter.errors import ConfigError
from alertrouter.model import Severity
from alertrouter.delivery.pacing import limit_of
from alertrouter.pipeline import budget
from alertrouter.rendering.renderer import DEFAULT_TEMPLATES
from tests.channels import METRIC_FIRED, event

# one channel of each kind, with only what the kind requires
MINIMAL = {
    "email": "{type: email, tenant_id: t, client_id: c, client_secret: s, sender: a@contoso.com}",
    "log": "{type: log}",
    "pagerduty": "{type: pagerduty, routing_key: k}",
    "smtp": "{type: smtp, host: mail.contoso.com, sender: a@contoso.com}",
    "teams": '{type: teams, url: "https://example.invalid/teams"}',
    "webhook": '{type: webhook, url: "https://example.invalid/hook"}',
}


def config_with(kind: str, extra: str = ""):
    text = (f"channels:\n  c: {MINIMAL[kind][:-1]}{extra}}}\n"
            "roles:\n  se: {channels: [c]}\n")
    return loads(text)


def test_the_registry_is_the_one_list_of_kinds():
    assert sorted(MINIMAL) == sorted(CHANNELS) == list(CHANNEL_TYPES)
    for kind, cls in CHANNELS.items():
        assert cls.kind == kind and channel_class(kind) is cls
        assert typing.get_args(cls.settings.model_fields["type"].annotation) == (kind,)


@pytest.mark.parametrize("kind", sorted(CHANNELS))
def test_the_config_reads_each_kind_with_its_own_settings_model(kind):
    cfg = config_with(kind).config.channels["c"]
    assert type(cfg) is CHANNELS[kind].settings


def test_a_kind_not_in_the_registry_is_refused_naming_the_registered_ones():
    with pytest.raises(ConfigError) as err:
        loads("channels:\n  c: {type: slack}\nroles:\n  se: {channels: [c]}\n")
    assert f'unknown channel type "slack" (expected one of: {", ".join(sorted(CHANNELS))})' in err.value.problems[0]


@pytest.mark.parametrize("kind", sorted(CHANNELS))
def test_each_kind_renders_from_a_shipped_template_folder(kind):
    assert (DEFAULT_TEMPLATES / channel_class(kind).template_kind).is_dir()


@pytest.mark.parametrize("kind", sorted(CHANNELS))
def test_pacing_and_the_budget_use_the_documented_limit_unless_the_config_sets_one(kind):
    documented = channel_class(kind).documented_limit
    cfg = config_with(kind).config.channels["c"]
    assert limit_of(cfg) == documented
    assert budget.per_minute(cfg) == (round(documented.count * 60 / documented.per) if documented else None)
    own = config_with(kind, ", rate_limit: 3/1s, budget_per_minute: 7").config.channels["c"]
    assert (str(limit_of(own)), budget.per_minute(own)) == ("3/1s", 7)
    off = config_with(kind, ", rate_limit: 0, budget_per_minute: 0").config.channels["c"]
    assert (limit_of(off), budget.per_minute(off)) == (None, None)


@pytest.mark.parametrize("kind", sorted(CHANNELS))
def test_only_a_paging_kind_pages_and_only_for_sev0_and_sev1(kind):
    ev = event(METRIC_FIRED)
    pages = channel_class(kind).pages
    for severity in Severity:
        expected = pages and severity.rank <= Severity.error.rank
        assert budget.is_page(ev.model_copy(update={"severity": severity}), kind) == expected


def test_the_receivers_documented_limits():
    """Teams Workflows 4 a second, PagerDuty Events v2 120 a minute, Graph sendMail 10,000 per 10 minutes;
    webhooks, SMTP and the log document none. Only PagerDuty pages."""
    assert {k: str(c.documented_limit) for k, c in CHANNELS.items() if c.documented_limit} == {
        "teams": "4/1s", "pagerduty": "120/1m", "email": "10000/10m"}
    assert [k for k, c in CHANNELS.items() if c.pages] == ["pagerduty"]
    assert {k: c.template_kind for k, c in CHANNELS.items() if c.template_kind != k} == {"smtp": "email"}
