"""A generated world for digests: two realistic weeks (and some noise around them) of Azure ML events
and Azure Monitor alerts, as the real payloads (Event Grid, common alert schema) parsed by the real
adapters and stored in a real SQLite store. The generator keeps its own plan (what happened), from
which the tests compute the expected digest numbers on their own."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from alertrouter.inbound import parse_payload
from alertrouter.store.sqlite import SqliteStore

UTC = timezone.utc
BERLIN = "Europe/Berlin"
TZ = ZoneInfo(BERLIN)
# The week of the last Sunday of October 2026 (25 Oct: clocks go back, 169 hours) and the week before.
WEEK = datetime(2026, 10, 19, tzinfo=TZ)
NEXT_WEEK = datetime(2026, 10, 26, tzinfo=TZ)
PREV_WEEK = datetime(2026, 10, 12, tzinfo=TZ)
FIRES_AT = datetime(2026, 10, 26, 8, 0, tzinfo=TZ)  # the Monday 08:00 digest (07:00Z, CET)

SUB = "0b1f6471-1bf0-4dda-aec3-111122223333"
TOPIC = (f"/subscriptions/{SUB}/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/"
         "workspaces/ws-prod")
EXPERIMENTS = {"churn-model": 0.1, "fraud-detector": 0.35, "demand-forecast": 0.2, "nlp-intent": 0.5}
RULES = {"endpoint-5xx": "Sev1", "cpu-high-aks": "Sev2", "latency-p95": "Sev3", "disk-full": "Sev0",
         "queue-backlog": "Sev4"}
MODELS = ["churn-xgb", "fraud-gbm", "demand-prophet"]
MONITORS = ["sales-drift", "clickstream-drift"]


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"  # 7 digits, as Azure writes them


@dataclass
class Run:
    run_id: str
    experiment: str
    status: str  # succeeded | failed | canceled
    start: datetime | None
    end: datetime
    metrics: dict = field(default_factory=dict)
    metrics_as: str = "tag"  # tag | property


@dataclass
class Alert:
    alert_id: str
    rule: str
    sev: str
    fired: datetime
    resolved: datetime | None


@dataclass
class BudgetAlert:
    name: str
    threshold_type: str
    spent: float
    forecast: float
    threshold: float
    at: datetime


@dataclass
class World:
    runs: list[Run] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    registered: list[tuple[str, str, datetime]] = field(default_factory=list)
    deployed: list[tuple[str, str, datetime]] = field(default_factory=list)
    drift: list[tuple[str, float, datetime]] = field(default_factory=list)
    budgets: list[BudgetAlert] = field(default_factory=list)
    payloads: list[tuple[object, datetime]] = field(default_factory=list)  # (payload, when received)


# --- payloads, as Azure sends them ---


def _eg(event_type: str, subject: str, t: datetime, data: dict, rng: random.Random) -> list[dict]:
    return [{"topic": TOPIC, "subject": subject, "eventType": f"Microsoft.MachineLearningServices.{event_type}",
             "eventTime": iso(t), "id": f"{rng.getrandbits(64):016x}", "data": data, "dataVersion": "",
             "metadataVersion": "1"}]


def run_payload(run: Run, status: str, t: datetime, rng: random.Random, completed_event: bool = False) -> list[dict]:
    tags, props = {"team": "ml-platform"}, {"runTemplate": "train"}
    if status.lower() in ("completed", "failed"):
        for k, v in run.metrics.items():
            (tags if run.metrics_as == "tag" else props)[k] = f"{v}"
    data = {"experimentId": f"exp-{run.experiment}", "experimentName": run.experiment, "runId": run.run_id,
            "runType": "azureml.scriptrun", "runTags": tags, "runProperties": props}
    if completed_event:
        return _eg("RunCompleted", f"experiments/exp-{run.experiment}/runs/{run.run_id}", t, data, rng)
    return _eg("RunStatusChanged", f"experiments/exp-{run.experiment}/runs/{run.run_id}", t,
               {**data, "runStatus": status}, rng)


def alert_payload(a: Alert, resolved: bool) -> dict:
    essentials = {
        "alertId": f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/{a.alert_id}",
        "alertRule": a.rule, "severity": a.sev, "signalType": "Metric",
        "monitorCondition": "Resolved" if resolved else "Fired", "monitoringService": "Platform",
        "alertTargetIDs": [f"/subscriptions/{SUB}/resourcegroups/rg-ml/providers/microsoft.containerservice/"
                           "managedclusters/aks-ml"],
        "configurationItems": ["aks-ml"], "originAlertId": a.alert_id, "firedDateTime": iso(a.fired),
        "description": "", "essentialsVersion": "1.0", "alertContextVersion": "1.0",
    }
    if resolved:
        essentials["resolvedDateTime"] = iso(a.resolved)
    return {"schemaId": "azureMonitorCommonAlertSchema", "data": {
        "essentials": essentials,
        "alertContext": {"properties": None, "conditionType": "SingleResourceMultipleMetricCriteria",
                         "condition": {"windowSize": "PT5M", "allOf": [{
                             "metricName": "node_cpu_usage_percentage", "metricNamespace": "Insights.Container/nodes",
                             "operator": "GreaterThan", "threshold": "80", "timeAggregation": "Average",
                             "dimensions": [], "metricValue": 91.5}]}},
        "customProperties": None}}


def budget_payload(b: BudgetAlert) -> dict:
    money = lambda v: f"${v:,.2f}"  # noqa: E731  Azure writes "$11,111.00"
    return {"schemaId": "azureMonitorCommonAlertSchema", "data": {
        "essentials": {"monitoringService": "CostAlerts", "firedDateTime": iso(b.at), "description": "",
                       "essentialsVersion": "1.0", "alertContextVersion": "1.0",
                       "alertId": f"/subscriptions/{SUB}/providers/Microsoft.CostManagement/alerts/{b.name}-{int(b.at.timestamp())}",
                       "alertRule": None, "severity": None, "signalType": None, "monitorCondition": "Fired",
                       "alertTargetIDs": None, "configurationItems": ["budgets"], "originAlertId": None},
        "alertContext": {"AlertCategory": "budgets", "AlertData": {
            "Scope": f"/subscriptions/{SUB}/", "ThresholdType": b.threshold_type.capitalize(), "BudgetType": "Cost",
            "BudgetThreshold": money(b.threshold * 2), "NotificationThresholdAmount": money(b.threshold),
            "BudgetName": b.name,
            "BudgetId": f"/subscriptions/{SUB}/providers/Microsoft.Consumption/budgets/{b.name}",
            "BudgetStartDate": "2026-01-01", "BudgetCreator": "finance@contoso.com", "Unit": "EUR",
            "SpentAmount": money(b.spent), "ForecastedTotalForPeriod": money(b.forecast)}}}}


# --- the generator ---


def _at(rng: random.Random, start: datetime, end: datetime, margin_s: int = 120) -> datetime:
    """A random instant in [start + margin, end − margin), whole seconds plus some micros, in UTC."""
    lo, hi = start.timestamp() + margin_s, end.timestamp() - margin_s
    return datetime.fromtimestamp(int(rng.uniform(lo, hi)), UTC) + timedelta(microseconds=rng.randrange(10**6))


def generate_week(world: World, rng: random.Random, start: datetime, end: datetime, tag: str) -> None:
    # training runs: the run belongs to the week its end falls in
    for i in range(rng.randint(28, 40)):
        experiment = rng.choice(list(EXPERIMENTS))
        r = rng.random()
        status = "failed" if r < EXPERIMENTS[experiment] else "canceled" if r < EXPERIMENTS[experiment] + 0.05 \
            else "succeeded"
        end_t = _at(rng, start, end, margin_s=300)
        has_start = rng.random() > 0.1
        begin = end_t - timedelta(seconds=rng.randint(300, 5 * 3600)) if has_start else None
        metrics = {}
        if status != "canceled":
            metrics = {"accuracy": round(rng.uniform(0.78, 0.96), 4), "auc": round(rng.uniform(0.8, 0.99), 4)}
            if rng.random() < 0.15:
                metrics["accuracy"] = "n/a"  # not a number: ignored
        run = Run(f"{experiment}-{tag}-{i:03d}", experiment, status, begin, end_t, metrics,
                  rng.choice(["tag", "property"]))
        world.runs.append(run)
        if begin is not None:
            world.payloads.append((run_payload(run, "Queued", begin - timedelta(seconds=30), rng), begin))
            world.payloads.append((run_payload(run, "Running", begin, rng), begin))
        ending = {"succeeded": "Completed", "failed": "Failed", "canceled": "Canceled"}[status]
        world.payloads.append((run_payload(run, ending, end_t, rng), end_t))
        if status == "succeeded" and rng.random() < 0.3:  # RunCompleted as well: the same run, once
            world.payloads.append((run_payload(run, "Completed", end_t + timedelta(seconds=2), rng, True), end_t))

    # models and endpoints
    for i in range(rng.randint(2, 5)):
        model, version, t = rng.choice(MODELS), str(rng.randint(1, 60)), _at(rng, start, end)
        if any(m == model and v == version for m, v, _ in world.registered):
            continue
        world.registered.append((model, version, t))
        world.payloads.append((_eg("ModelRegistered", f"models/{model}:{version}", t,
                                   {"ModelName": model, "ModelVersion": version, "ModelTags": {},
                                    "ModelProperties": {}}, rng), t))
    for i in range(rng.randint(1, 3)):
        model, t = rng.choice(MODELS), _at(rng, start, end)
        service, ids = f"{model}-online", f"{model}:{rng.randint(1, 60)}"
        world.deployed.append((service, ids, t))
        world.payloads.append((_eg("ModelDeployed", f"endpoints/{service}", t,
                                   {"ServiceName": service, "ServiceComputeType": "AKS", "ModelIds": ids,
                                    "ServiceTags": {}, "ServiceProperties": {}}, rng), t))

    # drift
    for i in range(rng.randint(1, 4)):
        monitor, coef, t = rng.choice(MONITORS), rng.uniform(0.3, 0.95), _at(rng, start, end)
        world.drift.append((monitor, coef, t))
        world.payloads.append((_eg("DatasetDriftDetected", f"datadrifts/{monitor}/runs/{i}", t,
                                   {"DataDriftId": f"id-{monitor}", "DataDriftName": monitor,
                                    "RunId": f"{monitor}_{tag}_{i}", "BaseDatasetId": "base", "TargetDatasetId": "tgt",
                                    "DriftCoefficient": coef, "StartTime": iso(t - timedelta(days=1)),
                                    "EndTime": iso(t)}, rng), t))

    # alerts: most resolve, some only after the week ended, some never
    for i in range(rng.randint(15, 25)):
        rule = rng.choice(list(RULES))
        fired = _at(rng, start, end)
        resolved = fired + timedelta(seconds=rng.randint(120, 8 * 3600)) if rng.random() < 0.8 else None
        a = Alert(f"{tag}-{i:03d}-{rng.getrandbits(32):08x}", rule, RULES[rule], fired, resolved)
        world.alerts.append(a)
        world.payloads.append((alert_payload(a, False), fired))
        if resolved:
            world.payloads.append((alert_payload(a, True), resolved))

    # cost budgets
    for name, ttype in (("ml-compute", "actual"), ("ml-storage", "forecasted")):
        for _ in range(rng.randint(1, 2)):
            b = BudgetAlert(name, ttype, round(rng.uniform(500, 1500), 2), round(rng.uniform(1000, 3000), 2),
                            1000.0, _at(rng, start, end))
            world.budgets.append(b)
            world.payloads.append((budget_payload(b), b.at))


def generate(seed: int = 6) -> World:
    rng = random.Random(seed)
    world = World()
    generate_week(world, rng, PREV_WEEK - timedelta(days=14), PREV_WEEK - timedelta(days=7), "old")  # noise
    generate_week(world, rng, PREV_WEEK, WEEK, "prev")
    generate_week(world, rng, WEEK, NEXT_WEEK, "cur")
    generate_week(world, rng, NEXT_WEEK, NEXT_WEEK + timedelta(days=2), "next")  # after the period: ignored
    return world


def seed_store(store: SqliteStore, world: World) -> None:
    for payload, received in world.payloads:
        events = parse_payload(payload).events
        store.ingest([(e, []) for e in events], (received + timedelta(seconds=3)).timestamp())
    payload, received = world.payloads[len(world.payloads) // 2]  # a redelivery: the store adds nothing
    store.ingest([(e, []) for e in parse_payload(payload).events], received.timestamp() + 60)


@pytest.fixture(scope="session")
def world() -> World:
    return generate()


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory, world):
    path = tmp_path_factory.mktemp("digest") / "alertrouter.db"
    store = SqliteStore(path)
    seed_store(store, world)
    store.close()
    return path


@pytest.fixture
def store(seeded_db, tmp_path):
    """A copy of the seeded database for one test (tests record sent periods in it)."""
    import shutil

    path = tmp_path / "alertrouter.db"
    shutil.copy(seeded_db, path)
    for suffix in ("-wal", "-shm"):
        if seeded_db.with_name(seeded_db.name + suffix).exists():
            shutil.copy(seeded_db.with_name(seeded_db.name + suffix), path.with_name(path.name + suffix))
    s = SqliteStore(path)
    yield s
    s.close()


DIGEST_CONFIG = """
version: 1
channels:
  analyst-mail:
    type: smtp
    host: 127.0.0.1
    port: PORT
    starttls: false
    sender: alertrouter@contoso.com
    timeout_seconds: 5
  qa-mail:
    type: smtp
    host: 127.0.0.1
    port: PORT
    starttls: false
    sender: alertrouter@contoso.com
    timeout_seconds: 5
  qa-teams:
    type: teams
    url: https://example.invalid/teams
roles:
  business-analyst:
    channels: [analyst-mail]
    recipients:
      to: [analysts@contoso.com]
  quality-assurance:
    channels: [qa-teams, qa-mail]
    visibility: restricted
    recipients:
      to: [qa@contoso.com]
routes: []
digests:
  weekly-summary:
    schedule: "0 0 8 * * Mon"
    time_zone: Europe/Berlin
    roles: [business-analyst, quality-assurance]
    metrics: [accuracy, auc]
"""


def digest_config(port: int, extra: str = ""):
    from alertrouter.config.load import loads

    return loads((DIGEST_CONFIG + extra).replace("PORT", str(port)), "routing.yaml", env={})


# aiosmtpd on loopback (the channel tests' fixtures)
from tests.channels.conftest import smtp_server, tls_files  # noqa: E402,F401
