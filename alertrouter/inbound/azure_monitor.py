"""Azure Monitor common alert schema (Action Group webhooks) → Events.

Every `monitoringService` shares `essentials`; `alertContext` differs per service and is read by
one small function each. Essentials may be null (cost budgets), enums may be integers (service
health), and a service-health incident whose `properties.stage` (or `status`) is Resolved is a
resolution even though `monitorCondition` says Fired. What identifies the instance that fired is kept
as labels routes can match on: each criterion's dimensions (and Log V1's `Dimensions`) as
`dimension.<name>`, the rule's custom properties (`data.customProperties`, and for metric and Log V2
alerts `alertContext.properties`) as `custom.<name>`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import quote

from ..errors import UnsupportedSchema
from ..model import Event
from ..rendering.wording import iso_duration_text, sentences
from . import severity as sev
from ._util import CIDict, arm_parts, clip, flat_tags, list_at, maybe_json, parse_time, to_str

def is_common(payload: Any) -> bool:
    return isinstance(payload, dict) and str(payload.get("schemaId", "")).lower() == "azuremonitorcommonalertschema"


def to_events(payload: dict, received: datetime | None = None) -> list[Event]:
    data = payload.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("essentials"), dict):
        raise UnsupportedSchema(
            "common alert schema payload has no data.essentials object; "
            "is the Action Group sending the common alert schema (useCommonAlertSchema: true)?"
        )
    e = CIDict(data["essentials"])
    ctx_raw = data.get("alertContext")
    ctx = CIDict(ctx_raw if isinstance(ctx_raw, dict) else {})
    service = to_str(e.get("monitoringService"))
    condition = to_str(e.get("monitorCondition")) or "Fired"

    labels: dict[str, str] = {
        "alert_id": to_str(e.get("alertId")),
        "alert_rule": to_str(e.get("alertRule")),
        "alert_rule_id": to_str(e.get("alertRuleId")),
        "signal_type": to_str(e.get("signalType")),
        "monitoring_service": service,
        "monitor_condition": condition,
        "severity_raw": to_str(e.get("severity")),
    }
    targets = list_at(e.get("alertTargetIDs"), "data.essentials.alertTargetIDs")
    items = list_at(e.get("configurationItems"), "data.essentials.configurationItems")
    if targets:
        labels["resource_id"] = to_str(targets[0])
        labels.update(arm_parts(to_str(targets[0])))
    if e.get("targetResourceGroup"):
        labels["resource_group"] = to_str(e.get("targetResourceGroup"))
    if e.get("targetResourceType"):
        labels["resource_type"] = to_str(e.get("targetResourceType"))
    labels["resource"] = to_str(items[0]) if items else labels.get("resource_name", "")
    if len(items) > 1:
        labels["resources"] = ",".join(to_str(i) for i in items)
    labels.update(flat_tags("custom.", data.get("customProperties")))
    labels.update(flat_tags("custom.", ctx.get("properties") if service in _METRIC_LIKE else None))

    details: dict[str, str] = {}
    links: dict[str, str] = {}
    read = _CONTEXT_READERS.get(service.lower().replace(" ", ""), _read_generic)
    headline, resolved_by_context = read(ctx, labels, details, links)

    resolved = condition.lower() == "resolved" or resolved_by_context
    kind = "alert.resolved" if resolved else "alert.fired"
    if resolved_by_context and condition.lower() != "resolved":
        labels["monitor_condition"] = "Resolved"
        labels["resolved_by"] = "context"
    severity = sev.from_azure(e.get("severity"), kind)
    alert_id = labels["alert_id"]
    if "microsoft.alertsmanagement/alerts/" in alert_id.lower():
        links.setdefault(
            "Alert in Azure portal",
            "https://portal.azure.com/#view/Microsoft_Azure_Monitoring_Alerts/AlertDetails.ReactView/alertId/"
            + quote(alert_id, safe=""),
        )
    if e.get("investigationLink"):
        links.setdefault("Investigate", to_str(e.get("investigationLink")))

    fired = parse_time(e.get("firedDateTime"))
    resolved_at = parse_time(e.get("resolvedDateTime"))
    if resolved_at:
        labels["resolved_time"] = resolved_at.isoformat()
    when = (resolved_at if resolved else None) or fired or received or datetime.now(timezone.utc)
    rule = labels["alert_rule"] or headline or service or "Azure Monitor alert"
    target = (labels.get("resource") or labels.get("resource_group") or labels.get("service")
              or labels.get("subscription", ""))
    state = "Resolved" if resolved else "Fired"
    title = f"{state}: {rule}" + (f" on {target}" if target else "")
    description = to_str(e.get("description"))
    summary = sentences(headline, description) or title

    key_parts = [alert_id or rule, "Resolved" if resolved else "Fired", to_str(e.get("firedDateTime"))]
    if resolved:
        key_parts.append(to_str(e.get("resolvedDateTime")))
    if ctx.get("eventDataId"):
        key_parts.append(to_str(ctx.get("eventDataId")))
    fingerprint = labels.pop("_fingerprint", "") or f"alert:{alert_id or rule}:{labels.get('resource_id', '')}"

    return [
        Event(
            id="|".join(key_parts),
            source="azure-monitor",
            kind=kind,
            severity=severity,
            title=clip(title, 200),
            summary=clip(summary, 1000),
            time=when,
            started_at=fired if resolved else None,
            fingerprint=fingerprint,
            labels={k: v for k, v in labels.items() if v != ""},
            links=links,
            details=details,
            raw=payload,
        )
    ]


# --- alertContext readers: (ctx, labels, details, links) -> (headline, resolved_by_context) ---

Reader = Callable[[CIDict, dict, dict, dict], "tuple[str, bool]"]
_METRIC_LIKE = {"Platform", "Log Alerts V2", "Prometheus"}


def _read_criteria(ctx: CIDict, labels: dict, details: dict, links: dict) -> tuple[str, bool]:
    """Metric (static, dynamic, availability) and Log V2: condition.allOf[] criteria."""
    labels["condition_type"] = to_str(ctx.get("conditionType"))
    cond = CIDict(ctx.get("condition") or {})
    labels["window_size"] = to_str(cond.get("windowSize"))
    criteria = [CIDict(c) for c in list_at(cond.get("allOf"), "data.alertContext.condition.allOf")
                if isinstance(c, dict)]
    lines = []
    for i, c in enumerate(criteria):
        metric = to_str(c.get("metricName")) or to_str(c.get("webTestName")) or "query"
        op, threshold, value = to_str(c.get("operator")), to_str(c.get("threshold")), c.get("metricValue")
        if i == 0:
            labels.update(
                metric_name=to_str(c.get("metricName")),
                metric_namespace=to_str(c.get("metricNamespace")),
                operator=op,
                threshold=threshold,
                metric_value=to_str(value),
                time_aggregation=to_str(c.get("timeAggregation")),
                web_test=to_str(c.get("webTestName")),
                alert_sensitivity=to_str(c.get("alertSensitivity")),
            )
        _dimensions(c.get("dimensions"), f"data.alertContext.condition.allOf[{i}].dimensions", labels)
        if c.get("searchQuery"):
            details[f"query.{i}"] = to_str(c.get("searchQuery"))
        for key in ("linkToSearchResultsUI", "linkToFilteredSearchResultsUI"):
            if c.get(key) and i == 0:
                links.setdefault("Search results" if key == "linkToSearchResultsUI" else "Filtered search results",
                                 to_str(c.get(key)))
        agg = to_str(c.get("timeAggregation"))
        shown_value = "n/a" if value is None else to_str(value)
        threshold_text = f"{op} {threshold}" if threshold else op or "dynamic threshold"
        lines.append(f"{metric} ({agg}) {threshold_text}: value {shown_value}".replace(" ()", ""))
    window = labels.get("window_size")
    headline = "; ".join(lines) + (f" over {iso_duration_text(window)}" if lines and window else "")
    return headline, False


def _dimensions(value: object, where: str, labels: dict) -> None:
    """`[{name, value}]` (which instance fired: `ApiName=GetBlob`, `Computer=vm-7`) as
    `dimension.<name>` labels, in the payload's order; a name already set by an earlier criterion
    keeps its first value."""
    for dim in list_at(value, where):
        if isinstance(dim, dict) and to_str(dim.get("name")):
            labels.setdefault(f"dimension.{to_str(dim['name'])}", to_str(dim.get("value")))


def _read_log_v1(ctx: CIDict, labels: dict, details: dict, links: dict) -> tuple[str, bool]:
    """Log Analytics / Application Insights (Log V1): flat PascalCase keys."""
    labels.update(
        alert_type=to_str(ctx.get("AlertType")),
        result_count=to_str(ctx.get("ResultCount")),
        operator=to_str(ctx.get("Operator")),
        threshold=to_str(ctx.get("Threshold")),
        workspace_id=to_str(ctx.get("WorkspaceId")),
        application_id=to_str(ctx.get("ApplicationId")),
    )
    _dimensions(ctx.get("Dimensions"), "data.alertContext.Dimensions", labels)
    if ctx.get("SearchQuery"):
        details["query.0"] = to_str(ctx.get("SearchQuery"))
    for key in ("LinkToSearchResults", "LinkToSearchResultsUI", "LinkToFilteredSearchResultsUI"):
        if ctx.get(key):
            links.setdefault("Search results", to_str(ctx.get(key)))
    start = parse_time(ctx.get("SearchIntervalStartTimeUtc"))
    end = parse_time(ctx.get("SearchIntervalEndtimeUtc"))
    window = f" between {start.isoformat()} and {end.isoformat()}" if start and end else ""
    count = labels["result_count"] or "?"
    cond = f" ({labels['operator']} {labels['threshold']})" if labels["threshold"] else ""
    return f"{count} results{cond}{window}", False


def _read_simple_log(ctx: CIDict, labels: dict, details: dict, links: dict) -> tuple[str, bool]:
    headline, _ = _read_criteria(ctx, labels, details, links)
    return headline, False


def _read_activity(ctx: CIDict, labels: dict, details: dict, links: dict) -> tuple[str, bool]:
    """Activity log (administrative, policy, autoscale, security, recommendation)."""
    labels.update(
        operation_name=to_str(ctx.get("operationName")),
        event_source=to_str(ctx.get("eventSource")),
        level=sev.level_name(ctx.get("level")),
        status=to_str(ctx.get("status")),
        sub_status=to_str(ctx.get("subStatus")),
        caller=to_str(ctx.get("caller")),
    )
    props = CIDict(ctx.get("properties") if isinstance(ctx.get("properties"), dict) else {})
    for key in ("eventCategory", "policies", "activityLogEventDescription"):
        if props.get(key):
            details[f"property.{key}"] = to_str(maybe_json(props.get(key)))
    entity = to_str(props.get("entity")) or to_str(CIDict(ctx.get("authorization") or {}).get("scope"))
    if entity and not labels.get("resource_id"):
        labels["resource_id"] = entity
        labels.update({k: v for k, v in arm_parts(entity).items() if k not in labels})
    op = labels["operation_name"] or "operation"
    status = labels["status"]
    by = f" by {labels['caller']}" if labels["caller"] else ""
    return f"{op}{' ' + status if status else ''}{by}", False


def _read_service_health(ctx: CIDict, labels: dict, details: dict, links: dict) -> tuple[str, bool]:
    _read_activity(ctx, labels, details, links)
    props = CIDict(ctx.get("properties") if isinstance(ctx.get("properties"), dict) else {})
    impacted = maybe_json(props.get("impactedServices"))
    services = []
    regions = set()
    for i, s in enumerate(impacted if isinstance(impacted, list) else []):
        s = CIDict(s if isinstance(s, dict) else {})
        if s.get("ServiceName"):
            services.append(to_str(s.get("ServiceName")))
        where = f"data.alertContext.properties.impactedServices[{i}].ImpactedRegions"
        for r in list_at(s.get("ImpactedRegions"), where):
            if isinstance(r, dict) and r.get("RegionName"):
                regions.add(to_str(r["RegionName"]))
    stage = to_str(props.get("stage"))
    labels.update(
        service=to_str(props.get("service")) or ",".join(services),
        region=to_str(props.get("region")) or ",".join(sorted(regions)),
        incident_type=to_str(props.get("incidentType")),
        tracking_id=to_str(props.get("trackingId")),
        stage=stage,
        impacted_services=",".join(services),
        impacted_regions=",".join(sorted(regions)),
    )
    if props.get("communication"):
        details["communication"] = to_str(props.get("communication"))
    if labels["tracking_id"]:
        labels["_fingerprint"] = f"service-health:{labels['tracking_id']}"
    resolved = stage.lower() in ("resolved", "complete", "rca") or to_str(ctx.get("status")).lower() == "resolved"
    title = to_str(props.get("title")) or labels["incident_type"] or "Service Health event"
    return f"{title} ({labels['incident_type'] or 'incident'}, stage {stage or 'unknown'})", resolved


def _read_resource_health(ctx: CIDict, labels: dict, details: dict, links: dict) -> tuple[str, bool]:
    _read_activity(ctx, labels, details, links)
    props = CIDict(ctx.get("properties") if isinstance(ctx.get("properties"), dict) else {})
    current = to_str(props.get("currentHealthStatus"))
    labels.update(
        current_health_status=current,
        previous_health_status=to_str(props.get("previousHealthStatus")),
        cause=to_str(props.get("cause")),
        health_event_type=to_str(props.get("type")),
    )
    if props.get("details"):
        details["details"] = to_str(props.get("details"))
    labels["_fingerprint"] = f"resource-health:{labels.get('resource_id', '')}"
    title = to_str(props.get("title")) or "Resource health changed"
    prev = labels["previous_health_status"]
    resolved = current.lower() == "available" or to_str(ctx.get("status")).lower() == "resolved"
    return f"{title}: {prev + ' → ' if prev else ''}{current or 'unknown'}", resolved


def _read_smart_detector(ctx: CIDict, labels: dict, details: dict, links: dict) -> tuple[str, bool]:
    labels.update(
        detector=to_str(ctx.get("SmartDetectorName")) or to_str(ctx.get("SmartDetectorId")),
        detected_value=to_str(ctx.get("DetectedValue")),
        normal_value=to_str(ctx.get("NormalValue")),
    )
    summary = to_str(ctx.get("DetectionSummary"))
    value = labels["detected_value"]
    normal = labels["normal_value"]
    extra = f" (detected {value}, normal {normal})" if value else ""
    return f"{summary or labels['detector'] or 'Smart detection'}{extra}", False


def _read_prometheus(ctx: CIDict, labels: dict, details: dict, links: dict) -> tuple[str, bool]:
    labels.update(
        rule_group=to_str(ctx.get("ruleGroup")),
        expression_value=to_str(ctx.get("expressionValue")),
        interval=to_str(ctx.get("interval")),
    )
    labels.update(flat_tags("prom.", ctx.get("labels")))
    annotations = ctx.get("annotations") if isinstance(ctx.get("annotations"), dict) else {}
    for k, v in annotations.items():
        details[f"annotation.{k}"] = to_str(v)
    if ctx.get("expression"):
        details["expression"] = to_str(ctx.get("expression"))
    text = to_str(annotations.get("summary") or annotations.get("description"))
    value = labels["expression_value"]
    return (text or "Prometheus rule") + (f" (value {value})" if value else ""), False


def _read_cost(ctx: CIDict, labels: dict, details: dict, links: dict) -> tuple[str, bool]:
    """Cost budget alerts: AlertData amounts are strings like "$1,111.00"."""
    data = CIDict(ctx.get("AlertData") if isinstance(ctx.get("AlertData"), dict) else {})
    threshold_type = to_str(data.get("ThresholdType"))
    labels.update(
        category="cost",
        alert_category=to_str(ctx.get("AlertCategory")),
        budget_name=to_str(data.get("BudgetName")),
        budget_id=to_str(data.get("BudgetId")),
        budget_type=to_str(data.get("BudgetType")),
        threshold_type=threshold_type.lower(),
        budget_threshold=to_str(data.get("BudgetThreshold")),
        notification_threshold=to_str(data.get("NotificationThresholdAmount")),
        spent_amount=to_str(data.get("SpentAmount")),
        forecasted_amount=to_str(data.get("ForecastedTotalForPeriod")),
        currency=to_str(data.get("Unit")),
        scope=to_str(data.get("Scope")),
    )
    labels.update({k: v for k, v in arm_parts(labels["scope"]).items() if k not in labels})
    if labels["budget_id"]:
        labels["_fingerprint"] = f"budget:{labels['budget_id']}:{labels['notification_threshold']}:{threshold_type}"
    amount = labels["forecasted_amount"] if threshold_type.lower() == "forecasted" else labels["spent_amount"]
    what = "forecast" if threshold_type.lower() == "forecasted" else "spent"
    if not labels["alert_rule"]:
        labels["alert_rule"] = labels["budget_name"]
    return (
        f"Budget {labels['budget_name'] or '(unnamed)'}: {what} {amount or '?'} {labels['currency']} "
        f"against a threshold of {labels['notification_threshold'] or labels['budget_threshold'] or '?'}"
    ), False


def _read_generic(ctx: CIDict, labels: dict, details: dict, links: dict) -> tuple[str, bool]:
    """An unknown monitoringService: keep what the criteria reader understands, never fail."""
    if ctx.get("condition"):
        return _read_criteria(ctx, labels, details, links)
    return "", False


_CONTEXT_READERS: dict[str, Reader] = {
    "platform": _read_criteria,
    "logalertsv2": _read_criteria,
    "simplelogalert": _read_simple_log,
    "loganalytics": _read_log_v1,
    "applicationinsights": _read_log_v1,
    "activitylog-administrative": _read_activity,
    "activitylog-policy": _read_activity,
    "activitylog-autoscale": _read_activity,
    "activitylog-security": _read_activity,
    "activitylog-recommendation": _read_activity,
    "servicehealth": _read_service_health,
    "resourcehealth": _read_resource_health,
    "smartdetector": _read_smart_detector,
    "prometheus": _read_prometheus,
    "costalerts": _read_cost,
    "budget": _read_cost,
}
