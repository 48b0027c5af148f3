"""alertContext sections Microsoft publishes without the rest of the payload (see
tests/fixtures/SOURCES.md: "fragment"), each wrapped in common-schema essentials for its
monitoringService and read by that service's reader."""

from __future__ import annotations

import json

import pytest

from alertrouter.inbound import parse_payload
from tests.conftest import FIXTURES

CASES = [
    ("activitylog-autoscale", "Activity Log - Autoscale",
     {"operation_name": "Microsoft.Insights/AutoscaleSettings/Scaleup/Action", "event_source": "Autoscale"}),
    ("activitylog-policy", "Activity Log - Policy",
     {"operation_name": "Microsoft.Authorization/policies/audit/action", "level": "Warning"}),
    ("activitylog-security", "Activity Log - Security",
     {"operation_name": "Microsoft.Security/locations/alerts/activate/action", "status": "Active"}),
    ("log-v1-appinsights", "Application Insights",
     {"alert_type": "Metric measurement", "operator": "Less Than", "threshold": "10000", "result_count": "2"}),
    ("log-v1-loganalytics", "Log Analytics", {"alert_type": "Metric measurement", "threshold": "10000"}),
    ("metric-availability", "Platform",
     {"condition_type": "WebtestLocationAvailabilityCriteria", "metric_name": "Failed Location", "metric_value": "5"}),
    ("metric-dynamic", "Platform",
     {"condition_type": "DynamicThresholdCriteria", "alert_sensitivity": "High", "threshold": "47658"}),
    ("prometheus", "Prometheus", {"expression_value": "0", "prom.cluster": "myCluster1", "interval": "PT1M"}),
    ("resourcehealth", "Resource Health",
     {"current_health_status": "Unavailable", "previous_health_status": "Available", "cause": "UserInitiated"}),
    ("servicehealth-maintenance", "ServiceHealth",
     {"incident_type": "Maintenance", "stage": "Planned", "impacted_regions": "East US"}),
    ("servicehealth-maintenance-intenums", "ServiceHealth",
     {"level": "Warning", "impacted_services": "Azure Synapse Analytics"}),  # level 3 → Warning
    ("simplelog", "Simple Log Alert", {"condition_type": "LogQueryCriteria", "metric_value": "1"}),
]


def test_every_fragment_has_a_case():
    names = sorted(p.name for p in (FIXTURES / "monitor" / "alertcontext").glob("*.json"))
    assert names == sorted(f"monitor-{key}-fired.docs.json" for key, _, _ in CASES)


@pytest.mark.parametrize("key,service,labels", CASES, ids=[c[0] for c in CASES])
def test_alert_context_reader(key, service, labels):
    fragment = json.loads((FIXTURES / "monitor" / "alertcontext" / f"monitor-{key}-fired.docs.json").read_text())
    payload = {"schemaId": "azureMonitorCommonAlertSchema", "data": {
        "essentials": {"alertId": "/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/x", "alertRule": "rule",
                       "severity": "Sev2", "monitorCondition": "Fired", "monitoringService": service,
                       "firedDateTime": "2026-11-20T10:00:00Z"},
        "alertContext": fragment["alertContext"]}}
    [event] = parse_payload(payload).events
    assert (event.kind, event.severity.value) == ("alert.fired", "warning")
    assert {k: event.labels.get(k) for k in labels} == labels
    assert event.summary
