"""What each real payload in tests/fixtures/ must become: (kind, severity, labels that must be present).

A fixture file without an entry here fails test_every_fixture_has_an_expectation: adding a payload
means saying what it should turn into.
"""

HANDSHAKE = "handshake"

EXPECTED: dict[str, list[tuple[str, str, dict[str, str]]] | str] = {
    # Azure ML, Event Grid schema and CloudEvents (PascalCase and camelCase data)
    "aml-datasetdriftdetected.eventgrid.json": [
        ("dataset.drift_detected", "warning", {"drift_name": "myDriftMonitor", "workspace": "{workspace-name}"}),
    ],
    "aml-modeldeployed.cloudevents.json": [
        ("model.deployed", "informational", {"service_name": "my-sklearn-service", "tag.area": "diabetes"}),
    ],
    "aml-modeldeployed.eventgrid.json": [
        ("model.deployed", "informational",
         {"model_ids": "sklearn_regression_model:1,sklearn_regression_model:2", "compute_type": "ACI"}),
    ],
    "aml-modelregistered.eventgrid.json": [
        ("model.registered", "informational", {"model_name": "sklearn_regression_model", "model_version": "20"}),
    ],
    "aml-runcompleted.cloudevents.json": [
        ("run.completed", "informational", {"experiment": "automl-local-regression", "run_status": "completed"}),
    ],
    "aml-runcompleted.eventgrid.json": [
        ("run.completed", "informational", {"run_id": "AutoML_ad912b2d-6467-4f32-a616-dbe4af6dd8fc_5"}),
    ],
    "aml-runstatuschanged-failed.eventgrid.json": [
        ("run.failed", "error", {"run_status": "failed", "experiment": "automl-local-regression"}),
    ],
    # Event Grid webhook validation
    "eventgrid-subscriptionvalidation.request.json": HANDSHAKE,
    # Azure Monitor, common alert schema
    "monitor-activitylog-administrative-fired.test-action.json": [
        ("alert.fired", "verbose",
         {"monitoring_service": "Activity Log - Administrative", "resource": "test-VM", "level": "Informational"}),
    ],
    "monitor-budget-fired.test-action.json": [
        ("alert.fired", "warning", {"category": "cost", "budget_name": "Test_forcasted_budget",
                                    "threshold_type": "forecasted", "currency": "USD"}),
    ],
    "monitor-log-v2-fired.test-action.json": [
        ("alert.fired", "verbose", {"monitoring_service": "Log Alerts V2", "metric_value": "3", "threshold": "0"}),
    ],
    "monitor-metric-static-fired.test-action.json": [
        ("alert.fired", "verbose", {"metric_name": "Transactions", "threshold": "0", "metric_value": "100",
                                    "custom.customKey1": "value1", "resource": "test-storageAccount"}),
    ],
    "monitor-metric-static-resolved.json": [
        ("alert.resolved", "informational", {"monitor_condition": "Resolved", "metric_value": "7.727"}),
    ],
    "monitor-servicehealth-fired-stage-resolved.test-action.json": [
        ("alert.resolved", "verbose", {"stage": "Resolved", "tracking_id": "TEST-TTT", "level": "Warning",
                                       "monitor_condition": "Resolved", "resolved_by": "context"}),
    ],
    # Legacy (non-common) formats
    "monitor-legacy-metric-static.noncommon.json": [
        ("alert.fired", "informational", {"legacy_schema": "AzureMonitorMetricAlert", "resource": "test-storageAccount"}),
    ],
}
