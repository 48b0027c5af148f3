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
    # added from Microsoft docs, Action Group test payloads and SDK test data (see tests/fixtures/SOURCES.md)
    "aml-datasetdriftdetected-sdk.eventgrid.json": [
        ("dataset.drift_detected", "warning", {"workspace": "driftDemoWS", "drift_name": "copetersDriftMonitor3"}),
    ],
    "aml-modeldeployed-camelcase.eventgrid.json": [
        ("model.deployed", "informational", {"service_name": "aciservice1", "workspace": "jenns-canary", "model_ids": "my_first_model:1,my_second_model:1"}),
    ],
    "aml-modelregistered-intversion.cloudevents.json": [
        ("model.registered", "informational", {"model_version": "20", "workspace": "{workspace-name}"}),
    ],
    "aml-modelregistered-stringversion.eventgrid.json": [
        ("model.registered", "informational", {"model_version": "3", "workspace": "jenns-canary"}),
    ],
    "aml-runcompleted-mixedcase.eventgrid.json": [
        ("run.completed", "informational", {"run_status": "completed", "workspace": "jenns-canary", "experiment": "automl-local-regression"}),
    ],
    "aml-runstatuschanged-failed.cloudevents.json": [
        ("run.failed", "error", {"run_status": "failed", "workspace": "{workspace-name}", "experiment": "automl-local-regression"}),
    ],
    "aml-runstatuschanged-running.eventgrid.json": [
        ("run.started", "informational", {"run_status": "running", "workspace": "jenns-canary", "experiment": "automl-local-regression"}),
    ],
    "monitor-budget-actual-fired.test-action.json": [
        ("alert.fired", "warning", {"monitoring_service": "CostAlerts", "category": "cost", "threshold_type": "actual", "alert_rule": "Test_actual_cost_budget"}),
    ],
    "monitor-legacy-activitylog-administrative-activated.noncommon.json": [
        ("alert.fired", "informational", {"monitoring_service": "Activity Log - Administrative", "legacy_schema": "Microsoft.Insights/activityLogs", "level": "Informational", "resource": "test-VM"}),
    ],
    "monitor-legacy-activitylog-administrative-partial-activated.noncommon.json": [
        ("alert.fired", "warning", {"monitoring_service": "Activity Log", "legacy_schema": "Microsoft.Insights/activityLogs", "resource": "IncidentActions"}),
    ],
    "monitor-legacy-activitylog-recommendation-activated.noncommon.json": [
        ("alert.fired", "informational", {"monitoring_service": "Activity Log - Recommendation", "legacy_schema": "Microsoft.Insights/activityLogs", "level": "Informational", "resource": "contosoStore"}),
    ],
    "monitor-legacy-activitylog-resourcehealth-activated.noncommon.json": [
        ("alert.fired", "informational", {"monitoring_service": "Activity Log - ResourceHealth", "legacy_schema": "Microsoft.Insights/activityLogs", "level": "Informational", "current_health_status": "Unavailable"}),
    ],
    "monitor-legacy-activitylog-resourcehealth-platform-activated.noncommon.json": [
        ("alert.fired", "informational", {"monitoring_service": "Activity Log - ResourceHealth", "legacy_schema": "Microsoft.Insights/activityLogs", "level": "Informational", "current_health_status": "Unavailable"}),
    ],
    "monitor-legacy-activitylog-security-activated.noncommon.json": [
        ("alert.fired", "informational", {"monitoring_service": "Activity Log - Security", "legacy_schema": "Microsoft.Insights/activityLogs", "level": "Informational", "resource": "Sec-07f2-4d74-aaf0-03d2f53d5a33"}),
    ],
    "monitor-legacy-activitylog-servicehealth-activated.noncommon.json": [
        ("alert.fired", "informational", {"monitoring_service": "Activity Log - ServiceHealth", "legacy_schema": "Microsoft.Insights/activityLogs", "level": "Informational", "stage": "Active"}),
    ],
    "monitor-legacy-activitylog-servicehealth-stage-resolved.noncommon.json": [
        ("alert.resolved", "warning", {"monitoring_service": "Activity Log - ServiceHealth", "legacy_schema": "Microsoft.Insights/activityLogs", "level": "Warning", "stage": "Resolved"}),
    ],
    "monitor-legacy-budget-fired.noncommon.json": [
        ("alert.fired", "warning", {"monitoring_service": "CostAlerts", "legacy_schema": "AIP Budget Notification", "category": "cost", "threshold_type": "actual"}),
    ],
    "monitor-legacy-log-v1-appinsights-fired.noncommon.json": [
        ("alert.fired", "informational", {"monitoring_service": "Application Insights", "legacy_schema": "Microsoft.Insights/LogAlert", "threshold": "0", "result_count": "2"}),
    ],
    "monitor-legacy-log-v1-loganalytics-fired.noncommon.json": [
        ("alert.fired", "warning", {"monitoring_service": "Log Analytics", "legacy_schema": "log-alert-v1", "threshold": "0", "result_count": "2"}),
    ],
    "monitor-legacy-log-v1-metricmeasurement-fired.noncommon.json": [
        ("alert.fired", "informational", {"monitoring_service": "Log Analytics", "legacy_schema": "log-alert-v1", "threshold": "0", "result_count": "2"}),
    ],
    "monitor-legacy-log-v1-numresults-fired.noncommon.json": [
        ("alert.fired", "informational", {"monitoring_service": "Log Analytics", "legacy_schema": "log-alert-v1", "threshold": "0", "result_count": "1"}),
    ],
    "monitor-legacy-metric-dynamic-activated.noncommon.json": [
        ("alert.fired", "informational", {"monitoring_service": "Platform", "legacy_schema": "AzureMonitorMetricAlert", "metric_name": "Transactions", "threshold": "0.3"}),
    ],
    "monitor-legacy-metric-static-activated-storagecheck.noncommon.json": [
        ("alert.fired", "informational", {"monitoring_service": "Platform", "legacy_schema": "AzureMonitorMetricAlert", "metric_name": "Transactions", "threshold": "0"}),
    ],
    "monitor-log-v1-loganalytics-metricmeasurement-fired.test-action.json": [
        ("alert.fired", "verbose", {"monitoring_service": "Log Analytics", "threshold": "0", "result_count": "2", "alert_rule": "test-logAlertRule-v1-metricMeasurement"}),
    ],
    "monitor-log-v1-loganalytics-numresults-fired.test-action.json": [
        ("alert.fired", "verbose", {"monitoring_service": "Log Analytics", "threshold": "0", "result_count": "1", "alert_rule": "test-logAlertRule-v1-numResults"}),
    ],
    "monitor-log-v2-resourcelogs-fired.docs.json": [
        ("alert.fired", "verbose", {"monitoring_service": "Log Alerts V2", "threshold": "1", "metric_value": "0", "condition_type": "LogQueryCriteria"}),
    ],
    "monitor-metric-availability-fired.test-action.json": [
        ("alert.fired", "verbose", {"monitoring_service": "Platform", "metric_name": "FailedLocation", "threshold": "2", "metric_value": "5"}),
    ],
    "monitor-metric-dynamic-fired.test-action.json": [
        ("alert.fired", "verbose", {"monitoring_service": "Platform", "metric_name": "Transactions", "threshold": "0.3", "metric_value": "78.09"}),
    ],
    "monitor-resourcehealth-fired.test-action.json": [
        ("alert.fired", "verbose", {"monitoring_service": "Resource Health", "level": "Informational", "current_health_status": "Unavailable", "alert_rule": "test-ResourceHealthAlertRule"}),
    ],
    "monitor-smartdetector-fired.test-action.json": [
        ("alert.fired", "verbose", {"monitoring_service": "SmartDetector", "detector": "Dependency Performance Degradation Detector", "alert_rule": "test-SmartAlertRule", "resource": "test-applicationInsights"}),
    ],
}
