"""Each pipeline stage as a table, on a real SQLite store and a real routing.yaml, with the clock
passed in (`now` floats, no sleeping): rows of (situation, event, what the stage decides). Then the
stage list as a whole: its order, and that a held event goes no further."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest

from alertrouter.config.load import loads
from alertrouter.inbound import parse_payload
from alertrouter.model import Event
from alertrouter.pipeline import Pipeline, Verdict, budget, escalate, group, inhibit, silences
from alertrouter.pipeline.mutes import Inhibition, RunEnds, Silences, TrackAlerts
from alertrouter.pipeline.stage import Case, MuteStage
from alertrouter.pipeline.stages import BudgetStage, EscalationStage, GroupStage, NextFlush, WindowStage
from alertrouter.config.types import Target
from alertrouter.routing.router import Router
from alertrouter.store.sqlite import SqliteStore
from tests.conftest import load_fixture

UTC = timezone.utc
T0 = datetime(2026, 11, 23, 12, 0, 5, tzinfo=UTC).timestamp()  # Monday 13:00:05 in Berlin
MIN = 60.0

CONFIG = """
channels:
  teams: {type: teams, url: "http://127.0.0.1:9/teams", budget_per_minute: 2}
  pager: {type: pagerduty, routing_key: k, url: "http://127.0.0.1:9/pd", budget_per_minute: 1}
  hook: {type: webhook, url: "http://127.0.0.1:9/hook", budget_per_minute: 0}
roles:
  se: {channels: [teams]}
  on-call: {channels: [pager]}
  lead: {channels: [hook]}
  qa: {channels: [hook], muted_during: [quiet]}
  day: {channels: [hook], active_during: [business]}
time_windows:
  quiet: {time_zone: Europe/Berlin, ranges: [{start: "22:00", end: "24:00"}, {start: "00:00", end: "07:00"}]}
  business: {time_zone: Europe/Berlin, ranges: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}]}
inhibit_rules:
  - name: sev0-holds-lesser
    source: {severity: critical}
    target: {severity: {at_most: warning}}
    equal: [resource]
routes:
  - name: pages
    match: {severity: critical}
    roles: [on-call]
    escalate: {after: 15m, to: [lead]}
  - name: storm
    match: {alert_rule: storm-rule}
    roles: [se]
    group_by: [alert_rule]
    group_wait: 30s
    group_interval: 5m
  - name: nightly
    match: {alert_rule: nightly}
    roles: [se]
    muted_during: [quiet]
  - name: alerts
    match: {source: azure-monitor}
    roles: [se]
"""

SE = Target("alerts", "se", "teams")
PAGE = Target("pages", "on-call", "pager")
HOOK = Target("alerts", "lead", "hook")
STORM = Target("storm", "se", "teams")


@pytest.fixture
def loaded():
    return loads(CONFIG, "routing.yaml", env={})


@pytest.fixture
def db():
    store = SqliteStore(":memory:")
    yield store
    store.close()


def alert(ident: str = "a1", *, rule: str = "cpu", severity: str = "Sev2", resource: str = "vm-1",
          resolved: bool = False) -> Event:
    """An Azure Monitor alert from the real metric fixture: one fingerprint per `ident`."""
    p = copy.deepcopy(load_fixture("monitor-metric-static-fired.test-action.json"))
    e = p["data"]["essentials"]
    e["alertId"] = f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{ident}"
    e["alertRule"], e["severity"], e["configurationItems"] = rule, severity, [resource]
    if resolved:
        e["monitorCondition"], e["resolvedDateTime"] = "Resolved", "2026-11-23T12:10:00Z"
    [event] = parse_payload(p).events
    return event


def run_end(fixture: str, event_id: str) -> Event:
    """An Azure ML run's end notice from a real Event Grid fixture (both fixtures are the same run)."""
    p = copy.deepcopy(load_fixture(fixture))
    p[0]["id"] = event_id
    [event] = parse_payload(p).events
    return event


COMPLETED, FAILED = "aml-runcompleted.eventgrid.json", "aml-runstatuschanged-failed.eventgrid.json"


def one(stage, event: Event, target: Target, now: float = T0, apply: bool = True) -> Verdict:
    [v] = stage.decide(Case(event, now, apply), [Verdict(target, "send")])
    assert v.target == target
    return v


def outcome(v: Verdict) -> tuple:
    return (v.action, v.reason, v.stage)


SEND = ("send", "", "")


# --- lifecycle: a run's second end notice ---

DUPLICATE = "duplicate end notice: this run's end was already reported ({})"


@pytest.mark.parametrize("earlier,event,apply,expected", [
    ([], (COMPLETED, "e2"), True, SEND),
    ([((FAILED, "e1"), True)], (COMPLETED, "e2"), True, ("hold", DUPLICATE.format("run.failed"), "lifecycle")),
    ([((COMPLETED, "e2"), True)], (COMPLETED, "e2"), True, SEND),               # redelivered: not its own duplicate
    ([((FAILED, "e1"), True)], (COMPLETED, "e2"), False, ("hold", DUPLICATE.format("run.failed"), "lifecycle")),
    ([((FAILED, "e1"), False)], (COMPLETED, "e2"), True, SEND),                 # a dry run claims nothing
    ([((FAILED, "e1"), True)], None, True, SEND),                               # not a run's end
], ids=["first-end", "second-end", "redelivered", "dry-run-sees-claim", "dry-run-claims-nothing", "not-a-run"])
def test_lifecycle(db, earlier, event, apply, expected):
    stage = MuteStage("lifecycle", RunEnds(db))
    for ev, ev_apply in earlier:
        one(stage, run_end(*ev), SE, T0 - MIN, ev_apply)
    ev = run_end(*event) if event else alert()
    assert outcome(one(stage, ev, SE, T0, apply)) == expected


# --- silence ---

SILENCED = "silenced by {id} (maintenance, by ana)"


@pytest.mark.parametrize("matchers,starts,ends,expire,event,now,expected", [
    (None, 0, 0, False, alert(), T0, SEND),
    ({"alert_rule": "cpu"}, -MIN, 60 * MIN, False, alert(), T0, ("hold", SILENCED, "silence")),
    ({"alert_rule": "disk"}, -MIN, 60 * MIN, False, alert(), T0, SEND),
    ({"alert_rule": "cpu"}, 30 * MIN, 60 * MIN, False, alert(), T0, SEND),                   # not started yet
    ({"alert_rule": "cpu"}, -MIN, 10 * MIN, False, alert(), T0 + 20 * MIN, SEND),            # over
    ({"alert_rule": "cpu"}, -MIN, 60 * MIN, True, alert(), T0, SEND),                        # expired by hand
    ({"alert_rule": {"regex": "c.u"}}, -MIN, 60 * MIN, False, alert(), T0, ("hold", SILENCED, "silence")),
    ({"resource": {"not": "vm-1"}}, -MIN, 60 * MIN, False, alert(), T0, SEND),
    ({"resource": {"not": "vm-1"}}, -MIN, 60 * MIN, False, alert(resource="vm-2"), T0, ("hold", SILENCED, "silence")),
], ids=["none", "matching", "other-rule", "not-started", "over", "expired", "regex", "not-match", "not-other"])
def test_silence(db, matchers, starts, ends, expire, event, now, expected):
    made = None
    if matchers is not None:
        made = silences.create(db, matchers=matchers, starts_at=T0 + starts, ends_at=T0 + ends, created_by="ana",
                               comment="maintenance", now=T0 - 2 * MIN)
        if expire:
            silences.expire(db, made.id, T0 - MIN)
    stage = MuteStage("silence", Silences(silences.Current(db)))
    action, reason, name = expected
    assert outcome(one(stage, event, SE, now)) == (action, reason.format(id=made.id if made else ""), name)


def test_silences_are_read_once_per_batch(db):
    """Within batch() (one intake request) a silence made meanwhile is not seen; after it, it is."""
    muter = Silences(silences.Current(db))
    stage = MuteStage("silence", muter)
    with muter.batch():
        assert outcome(one(stage, alert("a1"), SE)) == SEND
        made = silences.create(db, matchers={"alert_rule": "cpu"}, starts_at=T0 - MIN, ends_at=T0 + 60 * MIN,
                               created_by="ana", comment="maintenance", now=T0)
        assert outcome(one(stage, alert("a2"), SE)) == SEND
    assert outcome(one(stage, alert("a3"), SE)) == ("hold", SILENCED.format(id=made.id), "silence")


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class StateCalls(SqliteStore):
    """Records each state document read and write: (call, kind)."""

    def __init__(self, *a):
        super().__init__(*a)
        self.calls: list[tuple[str, str]] = []

    def state_get(self, kind, key):
        self.calls.append(("get", kind))
        return super().state_get(kind, key)

    def state_put(self, kind, key, value, expected, now):
        done = super().state_put(kind, key, value, expected, now)
        self.calls.append(("create" if expected is None else "update", kind) if done else ("lost", kind))
        return done

    @property
    def revision_reads(self) -> int:
        return self.calls.count(("get", silences.REV))


def test_silences_revision_reuse(tmp_path):
    """On a remote store the revision is read once a second: a silence another instance makes is
    seen after at most that, one this process makes at once; with no reuse (local stores), every call."""
    here, elsewhere = StateCalls(tmp_path / "db.sqlite"), SqliteStore(tmp_path / "db.sqlite")
    clock = Clock()
    current = silences.Current(here, reuse_seconds=1.0, clock=clock)
    assert current.active(T0) == [] and here.revision_reads == 1
    # another instance's silence: the document and the revision, as its `create` writes them
    other = silences.Silence(id="s_other", matchers={"alert_rule": "cpu"}, starts_at=T0 - MIN, ends_at=T0 + MIN,
                             created_by="ana", comment="elsewhere", created_at=T0)
    elsewhere.state_put(silences.KIND, other.id, other.__dict__, None, T0)
    elsewhere.state_put(silences.REV, silences.REV_KEY, {"at": T0}, None, T0)
    clock.t += 0.9
    assert current.active(T0) == [] and here.revision_reads == 1  # within the second: not read
    clock.t += 0.1
    assert [s.id for s in current.active(T0)] == ["s_other"] and here.revision_reads == 2
    made = silences.create(elsewhere, matchers={"alert_rule": "disk"}, starts_at=T0 - MIN, ends_at=T0 + MIN,
                           created_by="ana", comment="made by this process", now=T0)
    assert {s.id for s in current.active(T0)} == {"s_other", made.id}  # this process's own change: at once
    reads = here.revision_reads
    silences.expire(elsewhere, made.id, T0)
    assert [s.id for s in current.active(T0)] == ["s_other"] and here.revision_reads == reads + 1
    every = silences.Current(here, clock=clock)  # no reuse: a read per call
    reads = here.revision_reads
    for _ in range(3):
        every.active(T0)
    assert here.revision_reads == reads + 3


def test_pipeline_reuses_the_revision_only_on_a_remote_store(loaded, tmp_path):
    class Remote(SqliteStore):
        remote = True

    assert Pipeline(loaded, SqliteStore(tmp_path / "a.db")).silences.current.reuse_seconds == 0.0
    assert Pipeline(loaded, Remote(tmp_path / "b.db")).silences.current.reuse_seconds == \
        silences.REVISION_REUSE_SECONDS


# --- inhibit (and the alert tracking it reads) ---

def inhibited_by(title: str) -> tuple:
    return ("hold", f"inhibited by {title} (rule sev0-holds-lesser)", "inhibit")


SOURCE = alert("src", severity="Sev0", resource="vm-1")


@pytest.mark.parametrize("earlier,event,apply,expected", [
    ([], alert("a1"), True, SEND),
    ([(SOURCE, True)], alert("a1"), True, inhibited_by(SOURCE.title)),
    ([(SOURCE, True)], alert("a1", resource="vm-2"), True, SEND),                          # `equal` differs
    ([(SOURCE, True), (alert("src", severity="Sev0", resolved=True), True)], alert("a1"), True, SEND),
    ([(SOURCE, True)], alert("a1", severity="Sev0"), True, SEND),                          # not a target
    ([(SOURCE, False)], alert("a1"), True, SEND),                                          # a dry run tracks nothing
    ([(SOURCE, True)], alert("a1"), False, inhibited_by(SOURCE.title)),                    # a dry run reads it
], ids=["nothing-firing", "inhibited", "other-resource", "source-resolved", "not-a-target",
        "dry-run-tracks-nothing", "dry-run"])
def test_inhibit(loaded, db, earlier, event, apply, expected):
    inhibitor = inhibit.Inhibitor(loaded.config.inhibit_rules)
    track, stage = TrackAlerts(inhibitor, db), MuteStage("inhibit", Inhibition(inhibitor, db))
    for ev, ev_apply in earlier:
        track.observe(Case(ev, T0 - MIN, ev_apply))
    track.observe(Case(event, T0, apply))
    assert outcome(one(stage, event, SE, T0, apply)) == expected


def test_a_new_firing_alert_is_created_without_a_read(loaded):
    """A firing alert's own documents (its inhibition state, its group member) are created before
    anything is read; an alert already known is read and updated as before, with the same outcome."""
    db = StateCalls(":memory:")
    inhibitor = inhibit.Inhibitor(loaded.config.inhibit_rules)
    track, groups = TrackAlerts(inhibitor, db), GroupStage(loaded, db, NextFlush())
    fired, resolved = alert("a1", rule="storm-rule"), alert("a1", rule="storm-rule", resolved=True)
    track.observe(Case(fired, T0, True))
    one(groups, fired, STORM, T0)
    own = [c for c in db.calls if c[1] in (inhibit.KIND, group.member_kind(GROUPED_KEY))]
    assert own == [("create", inhibit.KIND), ("create", group.member_kind(GROUPED_KEY))]
    db.calls.clear()
    track.observe(Case(resolved, T0 + MIN, True))
    one(groups, resolved, STORM, T0 + MIN)
    own = [c for c in db.calls if c[1] in (inhibit.KIND, group.member_kind(GROUPED_KEY))]
    assert own == [("get", inhibit.KIND), ("update", inhibit.KIND),
                   ("get", group.member_kind(GROUPED_KEY)), ("update", group.member_kind(GROUPED_KEY))]
    db.calls.clear()
    refired = alert("a1", rule="storm-rule")  # the same alert firing again: the create finds it
    refired = refired.model_copy(update={"id": "again", "time": resolved.time + timedelta(minutes=2)})
    track.observe(Case(refired, T0 + 2 * MIN, True))
    one(groups, refired, STORM, T0 + 2 * MIN)
    own = [c for c in db.calls if c[1] in (inhibit.KIND, group.member_kind(GROUPED_KEY))]
    assert own == [("lost", inhibit.KIND), ("get", inhibit.KIND), ("update", inhibit.KIND),
                   ("lost", group.member_kind(GROUPED_KEY)), ("get", group.member_kind(GROUPED_KEY)),
                   ("update", group.member_kind(GROUPED_KEY))]
    assert [d["firing"] for _, d, _ in db.state_list(inhibit.KIND)] == [True]
    [(_, member, _)] = db.state_list(group.member_kind(GROUPED_KEY))
    assert member["firing"] and member["event_id"] == "again"


# --- group ---

GROUPED = "storm/se/teams/{alert_rule=storm-rule}"
GROUPED_KEY = GROUPED  # the group's key is its name


@pytest.mark.parametrize("earlier,target,apply,expected,next_flush,groups", [
    ([], SE, True, SEND, None, 0),
    ([], STORM, True, ("group", f"grouped into {GROUPED}", "group"), T0 + 30, 1),
    ([], STORM, False, ("group", f"grouped into {GROUPED}", "group"), None, 0),           # a dry run writes nothing
    ([alert("a0", rule="storm-rule")], STORM, True, ("group", f"grouped into {GROUPED}", "group"), T0 - MIN + 30, 1),
], ids=["no-group-by", "grouped", "dry-run", "second-member"])
def test_group(loaded, db, earlier, target, apply, expected, next_flush, groups):
    flush = NextFlush()
    stage = GroupStage(loaded, db, flush)
    for ev in earlier:
        one(stage, ev, STORM, T0 - MIN)
    v = one(stage, alert("a1", rule="storm-rule"), target, T0, apply)
    assert outcome(v) == expected
    assert v.group == (GROUPED if v.action == "group" else "")
    assert flush.at == next_flush
    assert len(db.state_list(group.KIND)) == groups


# --- window ---

def at(*args) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def deferred(until: datetime, local: str, names: str) -> tuple:
    return ("defer", f"deferred until {local} ({names})", "window", until.timestamp())


@pytest.mark.parametrize("target,now,expected", [
    (SE, at(2026, 11, 23, 22, 30), SEND + (0.0,)),                                         # no windows
    (Target("alerts", "qa", "hook"), at(2026, 11, 23, 12, 0), SEND + (0.0,)),               # not quiet
    (Target("alerts", "qa", "hook"), at(2026, 11, 23, 22, 30),                              # Mon 23:30 CET
     deferred(datetime(2026, 11, 24, 6, 0, tzinfo=UTC), "2026-11-24T07:00:00+01:00", "quiet")),
    (Target("alerts", "day", "hook"), at(2026, 11, 27, 17, 0),                              # Fri 18:00 CET
     deferred(datetime(2026, 11, 30, 8, 0, tzinfo=UTC), "2026-11-30T09:00:00+01:00", "business")),
    (Target("nightly", "se", "teams"), at(2026, 11, 23, 22, 30),                            # the route's window
     deferred(datetime(2026, 11, 24, 6, 0, tzinfo=UTC), "2026-11-24T07:00:00+01:00", "quiet")),
    (Target("nightly/escalated", "se", "teams"), at(2026, 11, 23, 22, 30),                  # an escalation's notice
     deferred(datetime(2026, 11, 24, 6, 0, tzinfo=UTC), "2026-11-24T07:00:00+01:00", "quiet")),
    (Target("alerts", "qa", "hook"), at(2026, 3, 29, 0, 30),                                # clocks jump at 02:00
     deferred(datetime(2026, 3, 29, 5, 0, tzinfo=UTC), "2026-03-29T07:00:00+02:00", "quiet")),
], ids=["none", "outside-quiet", "quiet", "after-business", "route-window", "escalated-route", "dst"])
def test_window(loaded, target, now, expected):
    v = one(WindowStage(loaded), alert(), target, now)
    assert outcome(v) + (v.until,) == expected


# --- budget ---

FOLDED = "folded into the summary for {} (over its budget this minute)"


@pytest.mark.parametrize("target,taken,taken_at,event,apply,expected", [
    (SE, 0, T0, alert(), True, SEND),
    (SE, 2, T0, alert(), True, ("hold", FOLDED.format("teams"), "budget")),
    (SE, 2, T0 - MIN, alert(), True, SEND),                                                # a new minute
    (PAGE, 1, T0, alert(severity="Sev0"), True, SEND),                                     # pages never fold
    (PAGE, 1, T0, alert(severity="Sev3"), True, ("hold", FOLDED.format("pager"), "budget")),
    (HOOK, 5, T0, alert(), True, SEND),                                                    # budget 0: none
    (SE, 2, T0, alert(), False, SEND),                                                     # a dry run takes nothing
], ids=["within", "over", "next-minute", "page", "pager-not-a-page", "no-budget", "dry-run"])
def test_budget(loaded, db, target, taken, taken_at, event, apply, expected):
    stage = BudgetStage(loaded, db)
    for i in range(taken):
        assert outcome(one(stage, alert(f"b{i}"), target, taken_at)) == SEND
    assert outcome(one(stage, event, target, T0, apply)) == expected
    held = expected[0] == "hold"
    assert len(db.state_list(budget.FOLD)) == held


def test_budget_dry_run_leaves_the_count(loaded, db):
    stage = BudgetStage(loaded, db)
    one(stage, alert("b0"), SE)
    for _ in range(3):
        assert outcome(one(stage, alert("dry"), SE, apply=False)) == SEND
    assert outcome(one(stage, alert("b1"), SE)) == SEND                                     # the second of two
    assert outcome(one(stage, alert("b2"), SE)) == ("hold", FOLDED.format("teams"), "budget")


# --- escalation (after the verdicts) ---

PAGES_KEY = escalate.key(alert("p1", severity="Sev0").fingerprint, "pages")


@pytest.mark.parametrize("earlier,event,action,target,apply,expected", [
    ([], alert("p1", severity="Sev0"), "send", PAGE, True, ("waiting", T0 + 15 * MIN)),
    ([], alert("p1", severity="Sev0"), "defer", PAGE, True, ("waiting", T0 + 15 * MIN)),
    ([], alert("p1", severity="Sev0"), "group", PAGE, True, ("waiting", T0 + 15 * MIN)),
    ([], alert("p1", severity="Sev0"), "hold", PAGE, True, None),
    ([], alert("p1", severity="Sev0"), "send", Target("alerts", "se", "teams"), True, None),    # no escalate
    ([], alert("p1", severity="Sev0"), "send", PAGE, False, None),                              # dry run
    ([alert("p1", severity="Sev0")], alert("p1", severity="Sev0"), "send", PAGE, True,
     ("waiting", T0 - MIN + 15 * MIN)),                                                         # the clock runs on
    ([alert("p1", severity="Sev0")], alert("p1", severity="Sev0", resolved=True), "send", PAGE, True,
     ("resolved", T0 - MIN + 15 * MIN)),
    ([], alert("p1", severity="Sev0").model_copy(update={"kind": "alert.acknowledged"}), "send", PAGE, True, None),
], ids=["sent", "deferred", "grouped", "held", "route-without-escalate", "dry-run", "repeated", "resolved",
        "acknowledged-notice"])
def test_escalation(loaded, db, earlier, event, action, target, apply, expected):
    stage = EscalationStage(loaded, db)
    for ev in earlier:
        stage.after(Case(ev, T0 - MIN), [Verdict(PAGE, "send")])
    stage.after(Case(event, T0, apply), [Verdict(target, action)])
    found = db.state_get(escalate.KIND, PAGES_KEY)
    assert (None if found is None else (found[0]["state"], found[0]["due"])) == expected


# --- the stage list ---

def test_the_order_lives_in_the_pipeline(loaded, db):
    names = [s.name for s in Pipeline(loaded, db).stages]
    assert names == ["", "lifecycle", "silence", "inhibit", "group", "window", "budget", "escalate"]


def test_a_held_event_goes_no_further(loaded, db):
    """A silenced page takes nothing from the budget and schedules no escalation; its alert is
    still tracked (inhibition sees it)."""
    pipeline = Pipeline(loaded, db)
    made = silences.create(db, matchers={"resource": "vm-1"}, starts_at=T0 - MIN, ends_at=T0 + 60 * MIN,
                           created_by="ana", comment="maintenance", now=T0 - MIN)
    page = alert("p1", severity="Sev0")
    assert [outcome(v) for v in pipeline.decide(page, [PAGE, SE], T0)] == \
        [("hold", SILENCED.format(id=made.id), "silence")] * 2
    assert db.state_list(budget.BUDGET) == [] and db.state_get(escalate.KIND, PAGES_KEY) is None
    assert inhibit.firing(db).keys() == {page.fingerprint}


def test_grouped_and_windowed_targets_of_one_event(db):
    """An event on a grouping route that continues to a windowed route: grouped there, deferred here."""
    text = CONFIG.replace("    group_wait: 30s\n", "    group_wait: 30s\n    continue: true\n")
    loaded = loads(text, "routing.yaml", env={})
    event = alert("a1", rule="storm-rule")
    now = at(2026, 11, 23, 22, 30)
    targets = Router(loaded).route(event).targets
    assert targets == [STORM, SE]
    qa = Target("alerts", "qa", "hook")
    verdicts = Pipeline(loaded, db).decide(event, [*targets, qa], now)
    assert [outcome(v) for v in verdicts] == [
        ("group", f"grouped into {GROUPED}", "group"), SEND,
        ("defer", "deferred until 2026-11-24T07:00:00+01:00 (quiet)", "window")]


def test_an_event_without_targets_still_claims_its_run_end(loaded, db):
    pipeline = Pipeline(loaded, db)
    assert pipeline.decide(run_end(FAILED, "e1"), [], T0 - MIN) == []
    assert [outcome(v) for v in pipeline.decide(run_end(COMPLETED, "e2"), [SE], T0)] == \
        [("hold", DUPLICATE.format("run.failed"), "lifecycle")]
