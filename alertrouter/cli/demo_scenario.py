"""The scenario `alertrouter demo` sends: three-quarters of an hour of an ML team's day as Azure posts it,
built afresh on every call (times relative to now, new event and alert ids), so a second demo is new
activity, never duplicates.

Each payload is a copy of a real one in tests/fixtures with its ids, times and names changed: Azure ML
run events in the Event Grid schema (aml-runstatuschanged-*.eventgrid.json, aml-runcompleted.eventgrid.json)
and Azure Monitor alerts in the common alert schema (monitor-metric-static-fired.test-action.json,
monitor-metric-static-resolved.json, monitor-budget-fired.test-action.json)."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

SUBSCRIPTION = "6b1f3c2e-8d4a-4f7b-9e0c-2a5d7c9e1f38"  # made up, as the fixtures' ids are
RESOURCE_GROUP = "ml-demo"
WORKSPACE = "ml-demo-ws"
TOPIC = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/"
         f"Microsoft.MachineLearningServices/workspaces/{WORKSPACE}")
ARM = f"/subscriptions/{SUBSCRIPTION}/resourcegroups/{RESOURCE_GROUP}/providers/"
ENDPOINT = ARM + f"microsoft.machinelearningservices/workspaces/{WORKSPACE}/onlineendpoints/churn-scoring"
STORM_RULE, STORM_SIZE = "scoring-nodes-high-cpu", 30
PAGE_RULE, INHIBITED_RULE, ESCALATING_RULE = "churn-scoring-5xx", "churn-scoring-latency", "gpu-cluster-unusable-nodes"
BUDGET = "ml-training-monthly"


@dataclass
class Step:
    """One thing that happens: what it is, what the shipped routing.yaml makes of it, and the payloads
    Azure would post for it (an Event Grid batch is a list; each Action Group alert is its own post)."""

    says: str
    then: str
    payloads: list = field(default_factory=list)


@dataclass
class Run:
    experiment: str
    run_id: str
    run_type: str
    properties: dict
    tags: dict = field(default_factory=dict)


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"  # seven fractional digits, as Event Grid writes them


def run_event(run: Run, event_type: str, at: datetime, status: str | None = None, tags: dict | None = None) -> dict:
    """An Azure ML run event as Event Grid delivers it (aml-runstatuschanged-failed.eventgrid.json)."""
    experiment_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{TOPIC}/experiments/{run.experiment}"))
    data = {"experimentId": experiment_id, "experimentName": run.experiment, "runId": run.run_id,
            "runType": run.run_type, "runTags": {**run.tags, **(tags or {})}, "runProperties": run.properties}
    if status is not None:
        data["runStatus"] = status
    return {"topic": TOPIC, "subject": f"experiments/{experiment_id}/runs/{run.run_id}",
            "eventType": f"Microsoft.MachineLearningServices.{event_type}", "eventTime": _iso(at),
            "id": str(uuid.uuid4()), "data": data, "dataVersion": "2", "metadataVersion": "1"}


def metric_alert(rule: str, severity: str, resource_id: str, metric: tuple, fired: datetime, description: str,
                 alert_guid: str, resolved: datetime | None = None) -> dict:
    """An Azure Monitor metric alert as an Action Group posts it (monitor-metric-static-fired.test-action.json;
    resolved: monitor-metric-static-resolved.json, the same alert id and fired time)."""
    name, namespace, operator, threshold, aggregation, dimensions, value = metric
    essentials = {
        "alertId": f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.AlertsManagement/alerts/{alert_guid}",
        "alertRule": rule,
        "alertRuleId": f"{ARM}microsoft.insights/metricAlerts/{rule}",
        "severity": severity, "signalType": "Metric",
        "monitorCondition": "Resolved" if resolved else "Fired", "monitoringService": "Platform",
        "alertTargetIDs": [resource_id], "configurationItems": [resource_id.rsplit("/", 1)[-1]],
        "originAlertId": (f"{SUBSCRIPTION}_{RESOURCE_GROUP}_microsoft.insights_metricAlerts_{rule}_"
                          f"{uuid.UUID(alert_guid).int % 10**10}"),
        "firedDateTime": _iso(fired), "description": description,
        "essentialsVersion": "1.0", "alertContextVersion": "1.0",
    }
    if resolved:
        essentials["resolvedDateTime"] = _iso(resolved)
    criterion = {"metricName": name, "metricNamespace": namespace, "operator": operator, "threshold": str(threshold),
                 "timeAggregation": aggregation, "dimensions": [{"name": k, "value": v} for k, v in dimensions.items()],
                 "metricValue": value, "webTestName": None}
    context = {"properties": None, "conditionType": "SingleResourceMultipleMetricCriteria",
               "condition": {"windowSize": "PT5M", "allOf": [criterion],
                             "windowStartTime": _iso(fired - timedelta(minutes=5)), "windowEndTime": _iso(fired)}}
    return {"schemaId": "azureMonitorCommonAlertSchema",
            "data": {"essentials": essentials, "alertContext": context,
                     "customProperties": {"team": "ml-platform", "environment": "production"}}}


def budget_alert(fired: datetime) -> dict:
    """A forecasted cost budget alert (monitor-budget-fired.test-action.json)."""
    return {"schemaId": "azureMonitorCommonAlertSchema", "data": {
        "essentials": {
            "monitoringService": "CostAlerts", "firedDateTime": _iso(fired)[:23] + "Z",
            "description": f"The forecast for budget {BUDGET} is over its 80% notification threshold.",
            "essentialsVersion": "1.0", "alertContextVersion": "1.0",
            "alertId": f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.CostManagement/alerts/{uuid.uuid4()}",
            "alertRule": None, "severity": None, "signalType": None, "monitorCondition": "Fired",
            "alertTargetIDs": None, "configurationItems": ["budgets"], "originAlertId": None},
        "alertContext": {"AlertCategory": "budgets", "AlertData": {
            "Scope": f"/subscriptions/{SUBSCRIPTION}/", "ThresholdType": "Forecasted", "BudgetType": "Cost",
            "BudgetThreshold": "$5,000.00", "NotificationThresholdAmount": "$4,000.00", "BudgetName": BUDGET,
            "BudgetId": f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Consumption/budgets/{BUDGET}",
            "BudgetStartDate": fired.strftime("%Y-%m-01"), "BudgetCreator": "ana@contoso.com", "Unit": "USD",
            "SpentAmount": "$3,612.40", "ForecastedTotalForPeriod": "$5,840.75"}}}}


def scenario(now: datetime, token: str) -> tuple[list[Step], dict]:
    """The steps, in the order they are posted, and the fired Sev0 page (the alert whose trail to open)."""
    ago = lambda minutes: now - timedelta(minutes=minutes)  # noqa: E731
    rnd = random.Random(token)
    aml_props = {"azureml.runsource": "azureml.scriptrun", "ContentSnapshotId": str(uuid.uuid4()),
                 "ProcessInfoFile": "azureml-logs/process_info.json",
                 "ProcessStatusFile": "azureml-logs/process_status.json"}
    churn = Run("churn-model-training", f"churn_train_{token}", "azureml.scriptrun", aml_props, {"mlflow.user": "ana"})
    fraud = Run("fraud-detection-nightly", f"fraud_nightly_{token}", "azureml.PipelineRun",
                {"azureml.runsource": "azureml.PipelineRun", "azureml.pipelineid": str(uuid.uuid4())})
    forecast = Run("demand-forecast-automl", f"AutoML_{uuid.uuid4()}", "automl",
                   {"num_iterations": "10", "target": "gpu-a100", "run_template": "automl_child"},
                   {"experiment_status": "ModelSelection"})
    workspace = ARM + f"microsoft.machinelearningservices/workspaces/{WORKSPACE}"
    page = dict(rule=PAGE_RULE, severity="Sev0", resource_id=ENDPOINT,
                metric=("RequestsPerMinute", "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
                        "GreaterThan", 50, "Total", {"statusCodeClass": "5xx", "deployment": "blue"}, 412),
                fired=ago(12), description="churn-scoring answers 5xx: scoring requests are failing",
                alert_guid=str(uuid.uuid4()))
    fired_page = metric_alert(**page)
    storm = [metric_alert(STORM_RULE, "Sev2", ARM + f"microsoft.compute/virtualmachines/scoring-vm-{i:02d}",
                          ("Percentage CPU", "Microsoft.Compute/virtualMachines", "GreaterThan", 85, "Average", {},
                           round(rnd.uniform(86, 99), 1)), ago(10) + timedelta(seconds=4 * i),
                          "Scoring node CPU over 85% for 5 minutes", str(uuid.uuid4()))
             for i in range(1, STORM_SIZE + 1)]
    steps = [
        Step("Three training runs start (one queued first): churn-model-training, fraud-detection-nightly, "
             "demand-forecast-automl",
             "quality-assurance hears of each start (restricted: no links, no run properties; at night it "
             "waits for 07:00 Berlin); the Queued flip is recorded, nobody is told",
             [[run_event(churn, "RunStatusChanged", ago(45), "Running"),
               run_event(fraud, "RunStatusChanged", ago(41), "Queued"),
               run_event(fraud, "RunStatusChanged", ago(40), "Running"),
               run_event(forecast, "RunStatusChanged", ago(30), "Running")]]),
        Step(f"Sev0: {PAGE_RULE} fires on the churn-scoring endpoint",
             "pages on-call (PagerDuty) and software-engineer, with an Acknowledge link",
             [fired_page]),
        Step(f"Sev3: {INHIBITED_RULE} fires on the same endpoint",
             "held: inhibited by the Sev0 on the same resource (sev0-holds-lesser-alerts-on-the-resource)",
             [metric_alert(INHIBITED_RULE, "Sev3", ENDPOINT,
                           ("RequestLatency", "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
                            "GreaterThan", 500, "Average", {"deployment": "blue"}, 1840),
                           ago(11), "Scoring latency over 500 ms", str(uuid.uuid4()))]),
        Step(f"A storm: {STORM_RULE} fires on {STORM_SIZE} scoring VMs",
             f"each held, grouped by alert_rule: software-engineer gets one notice for all {STORM_SIZE} "
             "after group_wait (30 s)", storm),
        Step(f"Run {fraud.run_id} of fraud-detection-nightly fails",
             "data-scientist (with the studio link) and quality-assurance (without)",
             [[run_event(fraud, "RunStatusChanged", ago(6), "Failed")]]),
        Step(f"Sev1: {ESCALATING_RULE} fires on the workspace and stays firing",
             "pages on-call and software-engineer; unless someone acknowledges it within 15 min, "
             "software-engineer hears \"Not acknowledged after 15 min\"",
             [metric_alert(ESCALATING_RULE, "Sev1", workspace,
                           ("UnusableNodes", "Microsoft.MachineLearningServices/workspaces", "GreaterThan", 0,
                            "Average", {"ClusterName": "gpu-a100"}, 3),
                           ago(5), "Nodes of gpu-a100 are unusable: training jobs are queueing", str(uuid.uuid4()))]),
        Step(f"Budget {BUDGET}: the forecast passes the 80% threshold",
             "business-analyst by email (the log channel until Graph mail is configured)",
             [budget_alert(ago(4))]),
        Step("churn-model-training and demand-forecast-automl complete (Azure ML sends both RunStatusChanged "
             "and RunCompleted for the first)",
             "data-scientist and quality-assurance hear once per run (with its duration); Azure's second "
             "end notice for the same run is held (duplicate end notice)",
             [[run_event(churn, "RunStatusChanged", ago(2), "Completed", {"accuracy": "0.912"}),
               run_event(churn, "RunCompleted", ago(2), tags={"accuracy": "0.912"}),
               run_event(forecast, "RunCompleted", ago(1), tags={"accuracy": "0.874"})]]),
        Step(f"The Sev0 {PAGE_RULE} resolves", "closes the page (PagerDuty resolve) and tells software-engineer it "
             "resolved after 11 min; its escalation is stopped",
             [metric_alert(**{**page, "resolved": ago(1)})]),
    ]
    return steps, fired_page
