"""Azure Machine Learning events (Event Grid or CloudEvents) → Events."""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from urllib.parse import quote

from ..model import Event
from . import severity as sev
from ._util import CIDict, arm_parts, clip, fixed3, flat_tags, maybe_json, obj_at, to_str
from .envelope import Envelope

PREFIX = "microsoft.machinelearningservices."
TYPES = ("runcompleted", "runstatuschanged", "modelregistered", "modeldeployed", "datasetdriftdetected")


def handles(env: Envelope) -> bool:
    t = env.type.lower()
    return t.startswith(PREFIX) and t[len(PREFIX):] in TYPES


def workspace_labels(topic: str) -> dict[str, str]:
    parts = arm_parts(topic)
    out = {k: v for k, v in parts.items() if k in ("subscription", "resource_group")}
    if parts.get("resource_type", "").lower() == "microsoft.machinelearningservices/workspaces":
        out["workspace"] = parts["resource_name"]
    return out


def to_event(env: Envelope, received: datetime | None = None) -> Event:
    name = env.type.lower()[len(PREFIX):]
    data = CIDict(env.data if isinstance(env.data, dict) else {})
    labels = {"event_type": env.type, "topic": env.topic, **workspace_labels(env.topic)}
    ws = labels.get("workspace", "")
    where = f" in {ws}" if ws else ""
    links: dict[str, str] = {}
    details: dict[str, str] = {}
    time = env.time or received or datetime.now(timezone.utc)

    if name in ("runcompleted", "runstatuschanged"):
        run_id = to_str(data.get("runId")) or env.subject.rsplit("/", 1)[-1]
        experiment = to_str(data.get("experimentName"))
        status = "completed" if name == "runcompleted" else to_str(data.get("runStatus")).strip()
        kind = "run.completed" if name == "runcompleted" else sev.run_kind(status)
        labels.update(
            experiment=experiment,
            experiment_id=to_str(data.get("experimentId")),
            run_id=run_id,
            run_status=status.lower(),
            run_type=to_str(data.get("runType")),
            **flat_tags("tag.", data.get("runTags")),
        )
        for k, v in obj_at(data.get("runProperties"), f"{env.where}: data.runProperties").items():
            details[f"property.{k}"] = to_str(maybe_json(v))
        verb = {
            "run.started": "started",
            "run.completed": "completed",
            "run.failed": "failed",
            "run.canceled": "was canceled",
        }.get(kind, f"is {status or 'in an unknown state'}")
        title = f"Run {run_id} of experiment {experiment or '(unnamed)'} {verb}"
        summary = f"Experiment {experiment or '(unnamed)'}{where}: run {run_id} {verb}."
        fingerprint = f"run:{ws}:{run_id}"
        links.update(_studio_run(env.topic, run_id))
    elif name == "modelregistered":
        model, version = to_str(data.get("modelName")), to_str(data.get("modelVersion"))
        if not model and env.subject.startswith("models/"):
            model, _, version = env.subject[len("models/"):].partition(":")
        kind = "model.registered"
        labels.update(model_name=model, model_version=version, **flat_tags("tag.", data.get("modelTags")))
        for k, v in obj_at(data.get("modelProperties"), f"{env.where}: data.modelProperties").items():
            details[f"property.{k}"] = to_str(maybe_json(v))
        title = f"Model {model} version {version} registered"
        summary = f"Model {model}:{version} was registered{where}."
        fingerprint = f"model:{ws}:{model}:{version}"
    elif name == "modeldeployed":
        service = to_str(data.get("serviceName")) or env.subject.rsplit("/", 1)[-1]
        model_ids = to_str(data.get("modelIds"))
        kind = "model.deployed"
        labels.update(
            service_name=service,
            compute_type=to_str(data.get("serviceComputeType")),
            model_ids=model_ids,
            **flat_tags("tag.", data.get("serviceTags")),
        )
        for k, v in obj_at(data.get("serviceProperties"), f"{env.where}: data.serviceProperties").items():
            details[f"property.{k}"] = to_str(maybe_json(v))
        models = ", ".join(m.strip() for m in model_ids.split(",") if m.strip()) or "no models"
        title = f"Service {service} deployed"
        summary = f"Endpoint {service}{where} now serves {models}."
        fingerprint = f"deployment:{ws}:{service}"
    else:  # datasetdriftdetected
        drift_name = to_str(data.get("dataDriftName"))
        coefficient = data.get("driftCoefficient")
        kind = "dataset.drift_detected"
        labels.update(
            drift_id=to_str(data.get("dataDriftId")),
            drift_name=drift_name,
            run_id=to_str(data.get("runId")),
            drift_coefficient=to_str(coefficient),
            base_dataset_id=to_str(data.get("baseDatasetId")),
            target_dataset_id=to_str(data.get("targetDatasetId")),
        )
        window = f" between {data.get('startTime')} and {data.get('endTime')}" if data.get("startTime") else ""
        shown = fixed3(coefficient)
        title = f"Data drift detected by {drift_name or 'a drift monitor'} (coefficient {shown})"
        summary = f"Drift monitor {drift_name}{where} measured a drift coefficient of {shown}{window}."
        fingerprint = f"drift:{ws}:{labels['drift_id']}"

    return Event(
        id=f"{env.topic}|{env.id}",
        source="aml",
        kind=kind,
        severity=sev.KIND_DEFAULT[kind],
        title=clip(title, 200),
        summary=clip(summary, 1000),
        time=time,
        fingerprint=fingerprint,
        labels={k: v for k, v in labels.items() if v != ""},
        links=links,
        details=details,
        raw=env.raw,
    )


def _studio_run(topic: str, run_id: str) -> dict[str, str]:
    wsid = _wsid(topic)
    if not (run_id and wsid):
        return {}
    return {"Run in Azure ML studio": f"https://ml.azure.com/runs/{quote(run_id)}?wsid={wsid}"}


@functools.lru_cache(maxsize=1024)
def _wsid(topic: str) -> str:
    """The studio's quoted `wsid` for a workspace topic ("" when the topic names no workspace)."""
    parts = arm_parts(topic)
    if not (parts.get("subscription") and parts.get("resource_group") and "resource_name" in parts):
        return ""
    return quote(f"/subscriptions/{parts['subscription']}/resourcegroups/{parts['resource_group']}"
                 f"/workspaces/{parts['resource_name']}")
