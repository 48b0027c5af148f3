"""Legacy (non-common) Azure Monitor webhook payloads → Events.

Detection keys: `schemaId: AzureMonitorMetricAlert`, `schemaId: Microsoft.Insights/activityLogs`,
and Log V1 alert payloads that have no `schemaId` at all (flat `AlertRuleName`, `SearchQuery`…).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ..errors import UnsupportedSchema
from ..model import Event
from ..rendering.wording import sentences
from . import severity as sev
from ._util import CIDict, arm_parts, clip, flat_tags, list_at, parse_time, to_str


def kind_of(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    schema = str(payload.get("schemaId") or "").lower()
    if schema == "azuremonitormetricalert":
        return "metric"
    if schema == "microsoft.insights/activitylogs":
        return "activity"
    if schema == "microsoft.insights/logalert" and isinstance(payload.get("data"), dict):
        return "log"  # Application Insights log alerts: the flat Log V1 keys under `data`
    if schema == "aip budget notification":
        return "budget"
    if not schema and CIDict(payload).has("AlertRuleName"):
        return "log"
    return None


def to_events(payload: dict, received: datetime | None = None) -> list[Event]:
    kind = kind_of(payload)
    if kind == "metric":
        return [_metric(payload, received)]
    if kind == "activity":
        return [_activity(payload, received)]
    if kind == "log":
        flat = payload["data"] if payload.get("schemaId") else payload
        return [_log(flat, payload, received)]
    if kind == "budget":
        return [_budget(payload, received)]
    raise UnsupportedSchema("not a legacy Azure Monitor payload")


def _event(*, key: list[str], kind: str, severity, title: str, summary: str, time, fingerprint: str,
           labels: dict, links: dict, details: dict, raw: Any) -> Event:
    return Event(
        id="|".join(key),
        source="azure-monitor",
        kind=kind,
        severity=severity,
        title=clip(title, 200),
        summary=clip(summary or title, 1000),
        time=time or datetime.now(timezone.utc),
        fingerprint=fingerprint,
        labels={k: v for k, v in labels.items() if v != ""},
        links=links,
        details=details,
        raw=raw,
    )


def _metric(payload: dict, received: datetime | None) -> Event:
    data = CIDict(payload.get("data") or {})
    ctx = CIDict(data.get("context") or {})
    status = to_str(data.get("status")) or "Activated"
    resolved = status.lower() in ("resolved", "deactivated")
    kind = "alert.resolved" if resolved else "alert.fired"
    resource_id = to_str(ctx.get("resourceId"))
    labels = {
        "alert_rule": to_str(ctx.get("name")),
        "alert_rule_id": to_str(ctx.get("id")),
        "signal_type": "Metric",
        "monitoring_service": "Platform",
        "monitor_condition": "Resolved" if resolved else "Fired",
        "legacy_schema": "AzureMonitorMetricAlert",
        "legacy_status": status,
        "condition_type": to_str(ctx.get("conditionType")),
        "severity_raw": to_str(ctx.get("severity")),
        "resource_id": resource_id,
        "resource": to_str(ctx.get("resourceName")),
        "resource_group": to_str(ctx.get("resourceGroupName")),
        "resource_type": to_str(ctx.get("resourceType")),
        "subscription": to_str(ctx.get("subscriptionId")),
        **flat_tags("custom.", data.get("properties")),
    }
    cond = CIDict(ctx.get("condition") or {})
    labels["window_size"] = to_str(cond.get("windowSize"))
    lines = []
    for i, c in enumerate(list_at(cond.get("allOf"), "data.context.condition.allOf")):
        c = CIDict(c if isinstance(c, dict) else {})
        if i == 0:
            labels.update(
                metric_name=to_str(c.get("metricName")),
                metric_namespace=to_str(c.get("metricNamespace")),
                operator=to_str(c.get("operator")),
                threshold=to_str(c.get("threshold")),
                metric_value=to_str(c.get("metricValue")),
                time_aggregation=to_str(c.get("timeAggregation")),
            )
            for dim in list_at(c.get("dimensions"), "data.context.condition.allOf[0].dimensions"):
                if isinstance(dim, dict) and dim.get("name"):
                    labels[f"dimension.{to_str(dim['name'])}"] = to_str(dim.get("value"))
        lines.append(
            f"{to_str(c.get('metricName'))} ({to_str(c.get('timeAggregation'))}) "
            f"{to_str(c.get('operator'))} {to_str(c.get('threshold'))}: value {to_str(c.get('metricValue'))}"
        )
    links = {"Resource in Azure portal": to_str(ctx.get("portalLink"))} if ctx.get("portalLink") else {}
    state = "Resolved" if resolved else "Fired"
    target = labels["resource"] or labels["resource_group"]
    return _event(
        key=["legacy-metric", labels["alert_rule_id"], resource_id, state, to_str(ctx.get("timestamp"))],
        kind=kind,
        severity=sev.from_azure(ctx.get("severity"), kind),
        title=f"{state}: {labels['alert_rule'] or 'metric alert'}" + (f" on {target}" if target else ""),
        summary=sentences("; ".join(lines), to_str(ctx.get("description"))),
        time=parse_time(ctx.get("timestamp")) or received,
        fingerprint=f"alert:{labels['alert_rule_id']}:{resource_id}",
        labels=labels,
        links=links,
        details={},
        raw=payload,
    )


def _activity(payload: dict, received: datetime | None) -> Event:
    data = CIDict(payload.get("data") or {})
    log = CIDict(CIDict(data.get("context") or {}).get("activityLog") or {})
    props = CIDict(log.get("properties") if isinstance(log.get("properties"), dict) else {})
    source = to_str(log.get("eventSource"))
    status = to_str(log.get("status"))
    stage = to_str(props.get("stage"))
    health = to_str(props.get("currentHealthStatus"))
    resolved = status.lower() == "resolved" or stage.lower() == "resolved" or health.lower() == "available"
    kind = "alert.resolved" if resolved else "alert.fired"
    resource_id = to_str(log.get("resourceId"))
    level = sev.level_name(log.get("level"))
    labels = {
        "signal_type": "Activity Log",
        "monitoring_service": f"Activity Log - {source}" if source else "Activity Log",
        "monitor_condition": "Resolved" if resolved else "Fired",
        "legacy_schema": "Microsoft.Insights/activityLogs",
        "legacy_status": to_str(data.get("status")),
        "operation_name": to_str(log.get("operationName")),
        "event_source": source,
        "level": level,
        "status": status,
        "sub_status": to_str(log.get("subStatus")),
        "caller": to_str(log.get("caller")),
        "resource_id": resource_id,
        "resource_group": to_str(log.get("resourceGroupName")),
        "resource_type": to_str(log.get("resourceType")),
        "subscription": to_str(log.get("subscriptionId")),
        "tracking_id": to_str(props.get("trackingId")),
        "stage": stage,
        "service": to_str(props.get("service")),
        "incident_type": to_str(props.get("incidentType")),
        "current_health_status": health,
        "previous_health_status": to_str(props.get("previousHealthStatus")),
        **flat_tags("custom.", data.get("properties")),
    }
    parts = arm_parts(resource_id)
    labels["resource"] = parts.get("resource_name", "")
    title_text = to_str(props.get("title")) or labels["operation_name"] or "Activity log event"
    state = "Resolved" if resolved else "Fired"
    target = labels["resource"] or labels["resource_group"]
    fingerprint = (
        f"service-health:{labels['tracking_id']}" if labels["tracking_id"]
        else f"activity:{labels['operation_name']}:{resource_id}"
    )
    return _event(
        key=["legacy-activity", to_str(log.get("eventDataId")) or to_str(log.get("correlationId")), state],
        kind=kind,
        severity=sev.from_azure(level, kind),
        title=f"{state}: {title_text}" + (f" on {target}" if target else ""),
        summary=f"{labels['operation_name']} {status}".strip() + (f" by {labels['caller']}" if labels["caller"] else ""),
        time=parse_time(log.get("eventTimestamp")) or received,
        fingerprint=fingerprint,
        labels=labels,
        links={},
        details={"communication": to_str(props.get("communication"))} if props.get("communication") else {},
        raw=payload,
    )


def _log(flat: dict, payload: dict, received: datetime | None) -> Event:
    d = CIDict(flat)
    rule = to_str(d.get("AlertRuleName"))
    items = list_at(d.get("AffectedConfigurationItems"),
                    ("data." if flat is not payload else "") + "AffectedConfigurationItems")
    labels = {
        "alert_rule": rule,
        "signal_type": "Log",
        "monitoring_service": "Application Insights" if d.get("ApplicationId") else "Log Analytics",
        "monitor_condition": "Fired",
        "legacy_schema": payload.get("schemaId") or "log-alert-v1",
        "alert_type": to_str(d.get("AlertType")),
        "result_count": to_str(d.get("ResultCount")),
        "operator": to_str(d.get("AlertThresholdOperator")),
        "threshold": to_str(d.get("AlertThresholdValue")),
        "workspace_id": to_str(d.get("WorkspaceId")),
        "application_id": to_str(d.get("ApplicationId")),
        "subscription": to_str(d.get("SubscriptionId")),
        "resource_group": to_str(d.get("ResourceGroup")),
        "resource": to_str(items[0]) if items else "",
        "severity_raw": to_str(d.get("Severity")),
    }
    start = to_str(d.get("SearchIntervalStartTimeUtc"))
    end = to_str(d.get("SearchIntervalEndtimeUtc"))
    links = {"Search results": to_str(d.get("LinkToSearchResults"))} if d.get("LinkToSearchResults") else {}
    details = {"query.0": to_str(d.get("SearchQuery"))} if d.get("SearchQuery") else {}
    count = labels["result_count"] or "?"
    cond = f" ({labels['operator']} {labels['threshold']})" if labels["threshold"] else ""
    end_time = parse_time(end)
    return _event(
        key=["legacy-log", rule, to_str(d.get("WorkspaceId") or d.get("ApplicationId")), start, end],
        kind="alert.fired",
        severity=sev.from_azure(d.get("Severity"), "alert.fired"),
        title=f"Fired: {rule or 'log alert'}" + (f" on {labels['resource']}" if labels["resource"] else ""),
        summary=f"{count} results{cond} between {start} and {end}. {to_str(d.get('Description'))}".strip(),
        time=end_time or received,
        fingerprint=f"alert:{rule}:{labels['workspace_id'] or labels['application_id']}",
        labels=labels,
        links=links,
        details=details,
        raw=payload,
    )


def _budget(payload: dict, received: datetime | None) -> Event:
    """Legacy cost budget notification (`schemaId: AIP Budget Notification`): plain numeric strings."""
    d = CIDict(payload.get("data") or {})
    name = to_str(d.get("BudgetName"))
    labels = {
        "category": "cost",
        "alert_rule": name,
        "budget_name": name,
        "budget_type": to_str(d.get("BudgetType")),
        "budget_threshold": to_str(d.get("Budget")),
        "notification_threshold": to_str(d.get("NotificationThresholdAmount")),
        "spent_amount": to_str(d.get("SpendingAmount")),
        "currency": to_str(d.get("Unit")),
        "threshold_type": "actual",
        "subscription": to_str(d.get("SubscriptionId")),
        "resource_group": to_str(d.get("ResourceGroup")),
        "monitoring_service": "CostAlerts",
        "monitor_condition": "Fired",
        "legacy_schema": to_str(payload.get("schemaId")),
    }
    spent, threshold = labels["spent_amount"], labels["notification_threshold"]
    return _event(
        key=["legacy-budget", labels["subscription"], name, threshold, spent],
        kind="alert.fired",
        severity=sev.from_azure(None, "alert.fired"),
        title=f"Fired: budget {name or '(unnamed)'}",
        summary=f"Budget {name}: spent {spent} {labels['currency']} against a threshold of {threshold} "
                f"(budget {labels['budget_threshold']}).",
        time=received,
        fingerprint=f"budget:{labels['subscription']}:{name}:{threshold}",
        labels=labels,
        links={},
        details={},
        raw=payload,
    )
